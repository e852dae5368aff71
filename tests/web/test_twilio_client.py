"""The official twilio-python client, pointed at a running hubbub, through every resource."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from hubbub.chat.provision import Credentials, new_account
from tests.web.server import twilio_client


@pytest.fixture
def client(base_url: str, creds: Credentials) -> Client:
    return twilio_client(base_url, creds.account_sid, creds.auth_token)


@pytest.fixture
def chat(client: Client, creds: Credentials) -> Any:
    return client.chat.v2.services(creds.chat_service_sid)


def fails(call: Callable[[], Any], status: int, code: int) -> None:
    """``call`` fails with this HTTP status and Twilio code, as the official client reports it."""
    with pytest.raises(TwilioException) as caught:
        call()
    error = caught.value
    if isinstance(error, TwilioRestException):
        assert (error.status, error.code) == (status, code), error.msg
    else:  # lists report a failed page as ("Unable to fetch page", response)
        response = error.args[1]
        assert (response.status_code, json.loads(response.text)["code"]) == (status, code)


def test_services(client: Client, creds: Credentials) -> None:
    services = client.chat.v2.services
    created = services.create(friendly_name="support")
    assert created.sid.startswith("IS")
    assert len(created.sid) == 34
    assert created.account_sid == creds.account_sid
    assert isinstance(created.date_created, datetime)  # the client parsed our date format
    assert created.typing_indicator_timeout == 5
    # The v2 API description's defaults.
    assert created.limits == {"channel_members": 250, "user_channels": 100}

    updated = services(created.sid).update(
        friendly_name="help desk",
        reachability_enabled=True,
        typing_indicator_timeout=9,
        limits_channel_members=500,
        notifications_new_message_enabled=True,
        notifications_new_message_template="${USER}: ${MESSAGE}",
        webhook_filters=["onMessageSent", "onChannelAdded"],
    )
    assert updated.friendly_name == "help desk"
    assert updated.reachability_enabled is True
    assert updated.typing_indicator_timeout == 9
    assert updated.limits["channel_members"] == 500
    assert updated.notifications["new_message"]["enabled"] is True
    assert updated.notifications["new_message"]["template"] == "${USER}: ${MESSAGE}"
    assert updated.webhook_filters == ["onMessageSent", "onChannelAdded"]
    assert services(created.sid).fetch().friendly_name == "help desk"

    fails(lambda: services(created.sid).update(limits_channel_members=5000), 400, 50061)
    fails(lambda: services(created.sid).update(typing_indicator_timeout=0), 400, 20001)

    # Paging: one per page, the client follows next_page_url to the end.
    third = services.create(friendly_name="third")
    listed = [s.sid for s in services.list(page_size=1)]
    assert sorted(listed) == sorted([creds.chat_service_sid, created.sid, third.sid])

    assert services(created.sid).delete() is True
    fails(lambda: services(created.sid).fetch(), 404, 20404)


def test_roles(chat: Any) -> None:
    roles = {role.friendly_name: role for role in chat.roles.list()}
    assert set(roles) == {"service admin", "service user", "channel admin", "channel user"}
    assert set(roles["service user"].permissions) == {
        "createChannel",
        "joinChannel",
        "editOwnUserInfo",
    }
    assert roles["channel user"].type == "channel"
    service = chat.fetch()
    assert service.default_service_role_sid == roles["service user"].sid
    assert service.default_channel_role_sid == roles["channel user"].sid
    assert service.default_channel_creator_role_sid == roles["channel admin"].sid

    custom = chat.roles.create(
        friendly_name="moderator", type="channel", permission=["sendMessage", "deleteAnyMessage"]
    )
    assert custom.permissions == ["sendMessage", "deleteAnyMessage"]
    changed = chat.roles(custom.sid).update(
        permission=["sendMessage", "removeMember", "leaveChannel"]
    )
    assert changed.permissions == ["sendMessage", "removeMember", "leaveChannel"]
    assert chat.roles(custom.sid).fetch().permissions == changed.permissions

    fails(
        lambda: chat.roles.create(friendly_name="x", type="channel", permission=["fly"]), 400, 50104
    )
    fails(
        lambda: chat.roles.create(friendly_name="x", type="channel", permission=["createChannel"]),
        400,
        50104,
    )
    fails(
        lambda: chat.roles.create(friendly_name="x", type="galaxy", permission=["sendMessage"]),
        400,
        50105,
    )
    assert chat.roles(custom.sid).delete() is True
    fails(lambda: chat.roles(custom.sid).fetch(), 404, 20404)


def test_users(chat: Any) -> None:
    alice = chat.users.create(
        identity="alice@example.com", friendly_name="Alice", attributes='{"a":1}'
    )
    assert alice.sid.startswith("US")
    assert alice.identity == "alice@example.com"
    assert json.loads(alice.attributes) == {"a": 1}
    assert alice.joined_channels_count == 0
    # By SID and by identity, which the client percent-encodes in the path.
    assert chat.users(alice.sid).fetch().identity == "alice@example.com"
    assert chat.users("alice@example.com").fetch().sid == alice.sid
    zoe = chat.users.create(identity="zoë & co")
    assert chat.users("zoë & co").fetch().sid == zoe.sid

    updated = chat.users(alice.sid).update(attributes='{"b":2}', friendly_name="Al")
    assert (updated.attributes, updated.friendly_name) == ('{"b":2}', "Al")
    fails(lambda: chat.users(alice.sid).update(attributes="{not json"), 400, 50304)
    fails(lambda: chat.users.create(identity="alice@example.com"), 409, 50201)
    fails(lambda: chat.users.create(identity="x" * 257), 400, 50207)
    fails(lambda: chat.users.create(identity="US" + "0" * 32), 400, 50206)
    for control in ("al\x01ice", "al\nice", "al\x7fice", "al\x85ice"):  # as the gateway
        fails(lambda: chat.users.create(identity=control), 400, 20001)  # noqa: B023

    assert {user.identity for user in chat.users.list()} == {"alice@example.com", "zoë & co"}
    assert chat.users(zoe.sid).delete() is True
    fails(lambda: chat.users(zoe.sid).fetch(), 404, 20404)


def test_channels_members_and_user_channels(chat: Any) -> None:
    general = chat.channels.create(
        friendly_name="General", unique_name="general", attributes='{"topic":"all"}'
    )
    secret = chat.channels.create(friendly_name="Secret", unique_name="secret", type="private")
    assert (general.type, secret.type) == ("public", "private")
    assert chat.channels("general").fetch().sid == general.sid
    fails(lambda: chat.channels.create(unique_name="general"), 409, 50307)
    fails(lambda: chat.channels.create(unique_name="CH" + "0" * 32), 400, 50306)
    assert chat.channels.create(friendly_name="no name", unique_name="").unique_name is None
    fails(lambda: chat.channels.create(created_by="nul\x00byte"), 400, 20001)
    assert [c.sid for c in chat.channels.list(type=["private"])] == [secret.sid]
    assert {general.sid, secret.sid} <= {c.sid for c in chat.channels.list()}
    renamed = chat.channels("general").update(friendly_name="Everyone")
    assert renamed.friendly_name == "Everyone"

    # Adding a member creates the user on first sight, as Twilio does.
    bob = chat.channels("general").members.create(identity="bob")
    assert bob.sid.startswith("MB")
    assert chat.users("bob").fetch().joined_channels_count == 1
    assert chat.channels("general").members("bob").fetch().sid == bob.sid
    fails(lambda: chat.channels("general").members.create(identity="bob"), 409, 50404)
    carol = chat.channels(general.sid).members.create(identity="carol", attributes='{"c":3}')
    assert [m.identity for m in chat.channels("general").members.list(identity=["carol"])] == [
        "carol"
    ]
    assert chat.channels("general").fetch().members_count == 2

    consumed = chat.channels("general").members("carol").update(last_consumed_message_index=0)
    assert consumed.last_consumed_message_index == 0

    # User Channels: the same memberships seen from the user.
    mine = chat.users("bob").user_channels.list()
    assert [(uc.channel_sid, uc.member_sid, uc.status) for uc in mine] == [
        (general.sid, bob.sid, "joined")
    ]
    muted = chat.users("bob").user_channels(general.sid).update(notification_level="muted")
    assert muted.notification_level == "muted"
    assert chat.users("bob").user_channels(general.sid).fetch().notification_level == "muted"
    assert chat.users("bob").user_channels(general.sid).delete() is True
    assert chat.users("bob").user_channels.list() == []

    assert chat.channels("general").members(carol.sid).delete() is True
    assert chat.channels("general").fetch().members_count == 0
    assert chat.channels("secret").delete() is True
    fails(lambda: chat.channels("secret").fetch(), 404, 20404)


def test_member_and_channel_limits(chat: Any) -> None:
    chat.update(limits_channel_members=2)
    room = chat.channels.create(unique_name="small")
    room_members = chat.channels("small").members
    room_members.create(identity="one")
    room_members.create(identity="two")
    fails(lambda: room_members.create(identity="three"), 403, 50403)
    assert chat.channels(room.sid).fetch().members_count == 2

    chat.update(limits_user_channels=1)
    chat.channels.create(unique_name="another")
    fails(lambda: chat.channels("another").members.create(identity="one"), 403, 50208)


def test_messages(chat: Any) -> None:
    chat.channels.create(unique_name="room")
    messages = chat.channels("room").messages
    sent = [
        messages.create(body=f"hello {i}", from_="dave", attributes=json.dumps({"i": i}))
        for i in range(5)
    ]
    assert [m.index for m in sent] == [0, 1, 2, 3, 4]
    assert (sent[0]._from, sent[0].body) == ("dave", "hello 0")
    assert messages(sent[1].sid).fetch().body == "hello 1"
    edited = messages(sent[1].sid).update(body="hello again", last_updated_by="dave")
    assert (edited.body, edited.was_edited, edited.last_updated_by) == ("hello again", True, "dave")

    assert [m.index for m in messages.list(order="desc")] == [4, 3, 2, 1, 0]
    assert [m.index for m in messages.list(page_size=2)] == [0, 1, 2, 3, 4]
    assert messages(sent[4].sid).delete() is True
    assert messages.create(body="after delete").index == 5  # indexes are never reused
    assert chat.channels("room").fetch().messages_count == 5

    when = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    imported = messages.create(body="imported", date_created=when)
    assert imported.date_created == when
    assert messages.create()._from == "system"  # the client names it _from
    fails(lambda: messages.create(body="x" * (32 * 1024 + 1)), 400, 50504)
    fails(lambda: messages.create(body="x", attributes="[unclosed"), 400, 50304)
    fails(lambda: chat.channels("nowhere").messages.create(body="x"), 404, 20404)


def test_media_messages(chat: Any, store: Any, creds: Credentials) -> None:
    """A message carries an upload named by ``MediaSid``; each upload goes in one message."""
    service_sid = creds.chat_service_sid
    chat.channels.create(unique_name="photos")
    messages = chat.channels("photos").messages
    # What the media service writes once it holds an upload's bytes.
    photo = store.create_media(
        creds.account_sid, service_sid, "ME" + "1" * 32,
        content_type="image/png", size=68, filename="dot.png", author="alice",
    )  # fmt: skip
    sent = messages.create(media_sid=photo.sid, from_="alice")
    assert (sent.type, sent.body) == ("media", "")
    expected = {"sid": photo.sid, "content_type": "image/png", "filename": "dot.png", "size": 68}
    assert sent.media == expected
    assert messages(sent.sid).fetch().media == expected
    listed = messages.list()
    assert [(m.type, m.media) for m in listed] == [("media", expected)]
    attached = store.get_media(service_sid, photo.sid)
    assert (attached.message_sid, attached.channel_sid) == (sent.sid, sent.channel_sid)

    # A body rides along; a media message's body cannot be edited later.
    notes = store.create_media(
        creds.account_sid, service_sid, "ME" + "2" * 32, content_type="text/plain", size=5
    )
    both = messages.create(media_sid=notes.sid, body="see attached")
    assert (both.type, both.body, both.media["filename"]) == ("media", "see attached", None)
    fails(lambda: messages(both.sid).update(body="changed"), 400, 50509)
    assert messages(both.sid).update(attributes='{"seen": true}').attributes == '{"seen": true}'

    # Without a body, the service's compatibility message is the body old clients show.
    chat.update(media_compatibility_message="[a file]")
    clip = store.create_media(
        creds.account_sid, service_sid, "ME" + "3" * 32, content_type="video/mp4", size=9
    )
    assert messages.create(media_sid=clip.sid).body == "[a file]"

    fails(lambda: messages.create(media_sid=photo.sid), 409, 50508)
    fails(lambda: messages.create(media_sid="ME" + "9" * 32), 404, 50507)
    fails(lambda: messages.create(media_sid="not-a-media-sid"), 400, 20001)
    assert [m.index for m in messages.list()] == [0, 1, 2]  # the refused ones stored nothing


def test_invites(chat: Any) -> None:
    chat.channels.create(unique_name="club", type="private")
    invites = chat.channels("club").invites
    invite = invites.create(identity="erin")
    assert invite.sid.startswith("IN")
    assert invite.identity == "erin"
    assert invites(invite.sid).fetch().identity == "erin"
    assert [i.sid for i in invites.list(identity=["erin"])] == [invite.sid]
    assert invites.list(identity=["nobody"]) == []
    assert invites(invite.sid).delete() is True
    fails(lambda: invites(invite.sid).fetch(), 404, 20404)


def test_api_keys_through_the_2010_api(base_url: str, client: Client, creds: Credentials) -> None:
    new = client.new_keys.create(friendly_name="ci")
    assert new.sid.startswith("SK")
    assert len(new.secret) == 32
    assert isinstance(new.date_created, datetime)
    assert {k.sid for k in client.keys.list()} == {creds.api_key_sid, new.sid}
    assert client.keys(new.sid).fetch().friendly_name == "ci"
    assert client.keys(new.sid).update(friendly_name="ci-2").friendly_name == "ci-2"

    # The new key works for the chat API ...
    with_key = twilio_client(base_url, new.sid, new.secret, account_sid=creds.account_sid)
    assert with_key.chat.v2.services(creds.chat_service_sid).fetch().sid == creds.chat_service_sid
    # ... cannot manage keys itself ...
    fails(lambda: with_key.keys.list(), 403, 20003)
    # ... and stops working once revoked.
    assert client.keys(new.sid).delete() is True
    fails(lambda: with_key.chat.v2.services(creds.chat_service_sid).fetch(), 401, 20003)
    fails(lambda: client.keys(new.sid).fetch(), 404, 20404)
    assert {k.sid for k in client.keys.list()} == {creds.api_key_sid}


def test_authentication_errors(base_url: str, creds: Credentials) -> None:
    wrong = twilio_client(base_url, creds.account_sid, "not the token")
    fails(lambda: wrong.chat.v2.services.list(), 401, 20003)
    unknown = twilio_client(base_url, "AC" + "0" * 32, creds.auth_token)
    fails(lambda: unknown.chat.v2.services.list(), 401, 20003)


def test_nothing_crosses_accounts(base_url: str, store: Any, box: Any, creds: Credentials) -> None:
    other = new_account(store, box, name="other")
    theirs = twilio_client(
        base_url, other.api_key_sid, other.api_key_secret, account_sid=other.account_sid
    )
    ours = twilio_client(base_url, creds.account_sid, creds.auth_token)
    ours.chat.v2.services(creds.chat_service_sid).channels.create(unique_name="private-stuff")

    assert [s.sid for s in theirs.chat.v2.services.list()] == [other.chat_service_sid]
    mine = theirs.chat.v2.services(creds.chat_service_sid)
    fails(lambda: mine.fetch(), 404, 20404)
    fails(lambda: mine.channels("private-stuff").fetch(), 404, 20404)
    fails(lambda: mine.channels.create(unique_name="intrusion"), 404, 20404)
    fails(lambda: mine.users.list(), 404, 20404)
    their_admin = twilio_client(base_url, other.account_sid, other.auth_token)
    fails(lambda: their_admin.keys(creds.api_key_sid).fetch(), 404, 20404)
    assert [k.sid for k in their_admin.keys.list()] == [other.api_key_sid]
    # Their own service does not see ours either.
    assert theirs.chat.v2.services(other.chat_service_sid).channels.list() == []


def test_oversized_bodies_are_refused_unread(base_url: str, creds: Credentials) -> None:
    url = f"{base_url}/v2/Services/{creds.chat_service_sid}/Channels"
    token = b64encode(f"{creds.account_sid}:{creds.auth_token}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url,
        data=b"FriendlyName=" + b"x" * (300 * 1024),
        headers={"Authorization": f"Basic {token}"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert caught.value.code == 413
    assert json.loads(caught.value.read())["code"] == 20413


def raw_request(
    base_url: str, creds: Credentials, path: str, data: bytes | None = None
) -> tuple[int, Any]:
    token = b64encode(f"{creds.account_sid}:{creds.auth_token}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    if data is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(base_url + path, data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_channels_dated_up_to_year_9999_page_on(base_url: str, creds: Credentials) -> None:
    service = f"/v2/Services/{creds.chat_service_sid}"
    dates = ["1970-01-01T00:00:00Z", "2024-05-01T00:00:00Z", "2300-01-01T00:00:00Z"]
    dates.append("9999-12-31T23:59:59Z")
    for number, date in enumerate(dates):
        body = f"UniqueName=c{number}&DateCreated={date}".encode()
        assert raw_request(base_url, creds, f"{service}/Channels", body)[0] == 201
    assert raw_request(base_url, creds, f"{service}/Channels", b"DateCreated=10000-01-01")[0] == 400

    seen: list[str] = []
    path: str | None = f"{service}/Channels?PageSize=1"
    while path is not None:
        status, page = raw_request(base_url, creds, path)
        assert status == 200, page
        seen += [channel["unique_name"] for channel in page["channels"]]
        next_url = page["meta"]["next_page_url"]
        path = next_url[len(base_url) :] if next_url else None
    assert seen == ["c0", "c1", "c2", "c3"]


def test_hostile_inputs_get_client_errors_not_500s(base_url: str, creds: Credentials) -> None:
    service = f"/v2/Services/{creds.chat_service_sid}"
    assert raw_request(base_url, creds, f"{service}/Channels", b"UniqueName=room")[0] == 201
    forged = b64encode(b"c999999999999.CH" + b"0" * 32).decode().rstrip("=")  # after year 9999
    status, body = raw_request(base_url, creds, f"{service}/Channels?PageToken={forged}&Page=1")
    assert (status, body["code"]) == (400, 21481)
    status, body = raw_request(
        base_url, creds, f"{service}/Channels/room/Messages?PageToken=ZDk5OTk5OTk5OTk5&Page=1"
    )
    assert (status, body["code"]) == (400, 21481)
    raw_request(base_url, creds, f"{service}/Channels/room/Members", b"Identity=ann")
    status, body = raw_request(
        base_url,
        creds,
        f"{service}/Channels/room/Members/ann",
        b"LastConsumedMessageIndex=99999999999",
    )
    assert (status, body["code"]) == (400, 20001)
    for path in (f"{service}/Users/a%00b", f"{service}/Channels/r%00m", f"{service}/Roles/RL%00"):
        status, body = raw_request(base_url, creds, path)
        assert (status, body["code"]) == (404, 20404), path
    status, body = raw_request(
        base_url, creds, f"{service}/Channels", b"Attributes=%7B%22n%22%3ANaN%7D"
    )
    assert (status, body["code"]) == (400, 50304)
