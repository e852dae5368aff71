"""The twilsock session state machine, fed frames and the time: no sockets, no sleep."""

from __future__ import annotations

import pytest

from hubbub.chat import channels, members, messages, users
from hubbub.realtime.protocol import CloseCode
from hubbub.realtime.session import AUTH_TIMEOUT
from hubbub.store import NotFound
from hubbub.sync import objects
from hubbub.sync.objects import MESSAGES, MY_CHANNELS, USER_INFO
from hubbub.tokens import Minter
from hubbub.twilsock import frames
from hubbub.twilsock.api import Subscribe
from hubbub.twilsock.session import BURST, RATE, TwilsockSession
from tests.twilsock.conftest import T0, World
from tests.twilsock.support import closed, init, only, out, request, update

WARNING = 180.0


def fresh(world: World) -> TwilsockSession:
    return TwilsockSession(world.commands, world.api, now=T0, warning=WARNING)


def opened(world: World, identity: str = "alice", ttl: int = 600) -> TwilsockSession:
    session = fresh(world)
    reply = only(session.receive(init(world.token(identity, ttl=ttl)), T0))
    assert reply.header["status"]["code"] == 200, reply.header
    return session


def close_status(step: object) -> int:
    """The ``status.code`` of the ``close`` frame the step sends (there must be one)."""
    found = [f for f in out(step) if f.method == "close"]  # type: ignore[arg-type]
    assert len(found) == 1
    return int(found[0].header["status"]["code"])


# -- init ----------------------------------------------------------------------------------------
def test_init_with_a_valid_token_is_answered_with_a_continuation_token(world: World) -> None:
    session = fresh(world)
    step = session.receive(init(world.token("alice"), "RQ42"), T0)
    reply = only(step)
    assert reply.method == "reply"
    assert reply.id == "RQ42"
    assert reply.header["status"] == {"code": 200, "status": "OK"}
    assert reply.header["continuation_token"]
    assert "client_update" in reply.header["capabilities"]
    assert closed(step) is None
    assert session.who is not None
    assert session.who.identity == "alice"
    # The user exists now, as after any first session.
    assert world.store.get_user(world.service_sid, "alice").identity == "alice"


def test_init_with_an_expired_token_is_refused_with_20104_and_closes(world: World) -> None:
    session = fresh(world)
    stale = world.token("alice", ttl=600, now=T0 - 3600)
    step = session.receive(init(stale, "RQold"), T0)
    reply = out(step)[0]
    assert reply.method == "reply"
    assert reply.id == "RQold"
    assert reply.header["status"]["code"] == 401
    assert reply.header["status"]["errorCode"] == 20104
    assert closed(step) == CloseCode.TOKEN_INVALID
    assert session.closed
    assert session.who is None
    # Nothing more comes of a closed session.
    assert session.receive(init(world.token("alice")), T0 + 1).actions == []


def test_init_with_a_bad_signature_is_refused_and_closes(world: World) -> None:
    creds = world.creds
    forger = Minter(creds.account_sid, creds.api_key_sid, "x" * len(creds.api_key_secret))
    forged = forger.chat_token("alice", world.service_sid, ttl=600, now=int(T0))
    session = fresh(world)
    step = session.receive(init(forged), T0)
    reply = out(step)[0]
    assert reply.header["status"]["code"] == 401
    assert reply.header["status"]["errorCode"] == 20107
    assert closed(step) == CloseCode.TOKEN_INVALID
    assert session.closed


def test_init_without_a_token_is_refused(world: World) -> None:
    session = fresh(world)
    step = session.receive(frames.encode({"method": "init", "id": "RQ"}), T0)
    assert out(step)[0].header["status"]["code"] == 401
    assert closed(step) == CloseCode.TOKEN_INVALID


def test_init_twice_is_a_bad_request(world: World) -> None:
    session = opened(world)
    step = session.receive(init(world.token("alice"), "RQ2"), T0 + 1)
    assert only(step).header["status"]["code"] == 400
    assert not session.closed


def test_a_frame_before_init_is_forbidden_and_keeps_the_session_open(world: World) -> None:
    session = fresh(world)
    step = session.receive(request("GET", "Client/v2/Configuration", frame_id="RQearly"), T0)
    reply = only(step)
    assert (reply.method, reply.id) == ("reply", "RQearly")
    assert reply.header["status"]["code"] == 403
    assert "http_status" not in reply.header  # nothing was served
    assert closed(step) is None
    assert not session.closed
    # And init still works afterwards.
    assert only(session.receive(init(world.token("alice")), T0 + 1)).header["status"]["code"] == 200


def test_an_unknown_method_is_a_bad_request(world: World) -> None:
    session = opened(world)
    step = session.receive(frames.encode({"method": "teleport", "id": "RQx"}), T0 + 1)
    reply = only(step)
    assert (reply.id, reply.header["status"]["code"]) == ("RQx", 400)
    assert closed(step) is None


def test_pings_and_notification_contexts_are_acknowledged(world: World) -> None:
    session = opened(world)
    for method in ("ping", "put_notification_ctx", "delete_notification_ctx"):
        reply = only(session.receive(frames.encode({"method": method, "id": method}), T0 + 1))
        assert (reply.method, reply.id, reply.header["status"]["code"]) == ("reply", method, 200)
    # A reply from the client (to a notification) is answered with nothing.
    assert session.receive(frames.encode(frames.reply("TM1")), T0 + 1).actions == []


def test_the_client_closing_ends_without_a_close_frame(world: World) -> None:
    session = opened(world)
    step = session.receive(frames.encode({"method": "close", "id": "RQc"}), T0 + 1)
    assert out(step) == []
    assert closed(step) == CloseCode.NORMAL


@pytest.mark.parametrize("data", [b"hello", b"TWILSOCK V3.0 x\r\n{}", "text frame"])
def test_garbage_closes_with_406(world: World, data: bytes | str) -> None:
    session = opened(world)
    step = session.receive(data, T0 + 1)
    assert close_status(step) == 406
    assert closed(step) == CloseCode.PROTOCOL_VIOLATION
    assert session.closed


# -- the clock ----------------------------------------------------------------------------------
def test_no_init_in_time_closes_with_308(world: World) -> None:
    session = fresh(world)
    assert session.next_deadline() == T0 + AUTH_TIMEOUT
    assert session.tick(T0 + AUTH_TIMEOUT - 0.01).actions == []
    step = session.tick(T0 + AUTH_TIMEOUT)
    assert close_status(step) == 308
    assert closed(step) == CloseCode.AUTH_TIMEOUT
    assert session.closed
    assert session.tick(T0 + AUTH_TIMEOUT + 1).actions == []


def test_the_token_is_warned_of_once_then_expires_with_410(world: World) -> None:
    session = opened(world, ttl=600)
    exp = T0 + 600
    leeway = world.commands.leeway
    assert session.next_deadline() == exp - WARNING
    assert session.tick(exp - WARNING - 1).actions == []
    warned = only(session.tick(exp - WARNING))
    assert warned.method == "client_update"
    assert warned.header["client_update_type"] == "token_about_to_expire"
    assert session.next_deadline() == exp + leeway
    assert session.tick(exp - 10).actions == []  # said once
    assert session.tick(exp + leeway - 1).actions == []
    step = session.tick(exp + leeway)
    sent = out(step)
    assert [f.method for f in sent] == ["close"]
    assert sent[0].header["status"]["code"] == 410
    assert sent[0].header["status"]["status"] == "TOKEN_EXPIRED"
    assert closed(step) == CloseCode.TOKEN_EXPIRED
    assert session.closed


def test_a_short_token_is_warned_of_at_init(world: World) -> None:
    session = fresh(world)
    step = session.receive(init(world.token("alice", ttl=60)), T0)
    assert [f.method for f in out(step)] == ["reply", "client_update"]
    assert session.tick(T0 + 30).actions == []  # not again


def test_update_moves_the_deadlines(world: World) -> None:
    session = opened(world, ttl=600)
    session.tick(T0 + 600 - WARNING)  # warned
    later = T0 + 500
    renewed = world.token("alice", ttl=3600, now=later)
    reply = only(session.receive(update(renewed, "RQu"), later))
    assert (reply.id, reply.header["status"]["code"]) == ("RQu", 200)
    new_exp = later + 3600
    assert session.next_deadline() == new_exp - WARNING
    # The old expiry passes unnoticed; the new token is warned of in its turn, then expires.
    assert session.tick(T0 + 600 + world.commands.leeway).actions == []
    assert session.tick(new_exp - WARNING - 1).actions == []
    warned = only(session.tick(new_exp - WARNING))
    assert warned.header["client_update_type"] == "token_about_to_expire"
    assert closed(session.tick(new_exp + world.commands.leeway)) == CloseCode.TOKEN_EXPIRED


def test_update_for_another_identity_is_refused_and_the_old_token_stands(world: World) -> None:
    session = opened(world, ttl=600)
    other = world.token("mallory", ttl=3600, now=T0 + 1)
    step = session.receive(update(other, "RQm"), T0 + 1)
    reply = only(step)
    assert reply.id == "RQm"
    assert reply.header["status"]["code"] in (401, 403)
    assert reply.header["status"]["errorCode"] == 20106
    assert closed(step) is None
    assert session.who is not None
    assert session.who.identity == "alice"
    assert closed(session.tick(T0 + 600 + world.commands.leeway)) == CloseCode.TOKEN_EXPIRED


def test_a_garbage_update_is_refused_without_closing(world: World) -> None:
    session = opened(world)
    step = session.receive(update("not-a-token"), T0 + 1)
    assert only(step).header["status"]["code"] == 401
    assert not session.closed


def test_revoking_closes_with_401(world: World) -> None:
    session = opened(world)
    step = session.revoke()
    assert close_status(step) == 401
    assert closed(step) == CloseCode.KEY_REVOKED
    assert session.revoke().actions == []


def test_a_flood_is_cut_off_and_the_allowance_refills(world: World) -> None:
    session = opened(world)  # init took one frame of the burst
    ping = frames.encode({"method": "ping", "id": "p"})
    steps = [session.receive(ping, T0) for _ in range(int(BURST) - 1)]
    assert all(closed(step) is None for step in steps)
    last = session.receive(ping, T0)
    assert closed(last) == CloseCode.RATE_LIMITED
    assert close_status(last) == 308  # come back later

    patient = opened(world)
    for _ in range(int(BURST) - 1):
        patient.receive(ping, T0)
    # A second later, RATE more frames are allowed, and no more.
    later = [patient.receive(ping, T0 + 1) for _ in range(int(RATE))]
    assert all(closed(step) is None for step in later)
    assert closed(patient.receive(ping, T0 + 1)) == CloseCode.RATE_LIMITED


# -- tunnelled requests ---------------------------------------------------------------------------
def test_configuration_names_links_and_sync_objects(world: World) -> None:
    session = opened(world)
    for path in ("Client/v1/Configuration", "/Client/v2/Configuration"):
        reply = only(session.receive(request("GET", path, frame_id="RQconf"), T0 + 1))
        assert reply.id == "RQconf"
        assert reply.header["status"]["code"] == 200
        assert reply.header["http_status"]["code"] == 200
        body = reply.body()
        user_sid = world.store.get_user(world.service_sid, "alice").sid
        assert body["identity"] == "alice"
        assert body["sync_objects"]["my_user_info"] == objects.of(USER_INFO, user_sid)
        assert body["sync_objects"]["my_channels"] == objects.of(MY_CHANNELS, user_sid)
        assert body["sync_objects"]["my_conversations"] == objects.of(MY_CHANNELS, user_sid)
        for link in ("my_channels", "channels", "users", "current_user", "typing"):
            assert body["links"][link].startswith("http://127.0.0.1/")
        assert body["links"]["current_user"].endswith("/Users/alice")


def _room(world: World, identity: str = "alice", kind: str = "public") -> str:
    created = channels.create_channel(
        world.core, world.actor(identity), {"unique_name": "room", "type": kind}
    )
    assert created.resource is not None
    return str(created.resource["sid"])


def test_a_message_sent_through_the_socket_is_stored_and_answered(world: World) -> None:
    room = _room(world)
    session = opened(world)
    path = f"Client/v2/Conversations/{room}/Messages"
    body = {"body": "héllo ✓", "attributes": {"k": 1}}
    step = session.receive(request("POST", path, body, frame_id="RQsend"), T0 + 1)
    reply = only(step)
    assert reply.id == "RQsend"
    assert reply.header["http_status"]["code"] == 200
    sent = reply.body()
    assert sent["index"] == 0
    assert sent["body"] == "héllo ✓"
    assert sent["conversation_sid"] == sent["channel_sid"] == room
    stored = world.store.list_messages(world.service_sid, room).items
    assert [(m.index, m.body, m.from_) for m in stored] == [(0, "héllo ✓", "alice")]
    # The message is announced to the channel, with its Sync events riding along.
    every = [e for event in step.events for e in (event, *event.riders)]
    kinds = [event.frame.get("type") or event.frame.get("event_type") for event in every]
    assert "message_added" in kinds
    assert "list_item_added" in kinds
    list_sid = objects.of(MESSAGES, room)
    assert world.store.last_event_ids([list_sid])[list_sid] == 1
    second = only(session.receive(request("POST", path, {"body": "again"}), T0 + 2))
    assert second.body()["index"] == 1


def test_media_messages_from_chat_and_conversations(world: World) -> None:
    """Chat's SDKs name an upload in ``media_sid``, Conversations' in ``media_sids``; the
    messages list item carries it as ``media`` for the one and ``medias`` for the other."""
    room = _room(world)
    session = opened(world)
    path = f"Client/v2/Conversations/{room}/Messages"
    uploads = [
        world.store.create_media(
            world.creds.account_sid, world.service_sid, "ME" + str(i) * 32,
            content_type="image/png", size=10 + i, filename=f"{i}.png", author="alice",
        )
        for i in range(4)
    ]  # fmt: skip
    sends = [
        {"media_sid": uploads[0].sid, "attributes": "{}"},  # chat 5 and 6
        {"media_sids": [uploads[1].sid], "attributes": "{}"},  # Conversations' sendMedia
        {"body": "with words", "media_sids": [uploads[2].sid]},  # Conversations' builder
        {"body": "text only", "media_sids": []},  # the builder, without media
    ]
    for body in sends:
        step = session.receive(request("POST", path, body), T0 + 1)
        assert only(step).header["http_status"]["code"] == 200, only(step).body()
    stored = world.store.list_messages(world.service_sid, room).items
    assert [(m.type, m.body) for m in stored] == [
        ("media", ""), ("media", ""), ("media", "with words"), ("text", "text only"),
    ]  # fmt: skip
    assert [m.media.sid for m in stored if m.media] == [u.sid for u in uploads[:3]]
    items = only(
        session.receive(request("GET", f"v3/Lists/{objects.of(MESSAGES, room)}/Items"), T0 + 2)
    ).body()["items"]
    first = items[0]["data"]
    assert first["type"] == "media"
    assert first["media"] == {
        "sid": uploads[0].sid, "filename": "0.png", "contentType": "image/png", "size": 10,
    }  # fmt: skip
    assert first["medias"] == [{**first["media"], "category": "media"}]
    assert (items[3]["data"]["type"], items[3]["data"]["media"]) == ("text", None)
    assert "medias" not in items[3]["data"]

    for body, status in [
        ({"media_sids": [uploads[3].sid, uploads[3].sid]}, 400),  # one media per message
        ({"media_sids": "ME" + "3" * 32}, 400),
        ({"media_sid": uploads[0].sid}, 409),  # already sent
        ({"media_sid": "ME" + "f" * 32}, 404),
    ]:
        reply = only(session.receive(request("POST", path, body), T0 + 3))
        assert reply.header["http_status"]["code"] == status, body
        _twilio_error(reply.body(), status)
    assert len(world.store.list_messages(world.service_sid, room).items) == 4
    config = only(session.receive(request("GET", "Client/v2/Configuration"), T0 + 4)).body()
    assert config["links"]["media_service"].endswith(f"/v1/Services/{world.service_sid}/Media")
    assert config["options"]["media_attachments_count_limit"] == 1
    assert config["options"]["media_attachment_size_limit_in_mb"] == 150


def test_a_deferred_message_waits_for_the_store(world: World) -> None:
    room = _room(world)
    session = opened(world)
    path = f"Client/v2/Conversations/{room}/Messages"
    step = session.receive(
        request("POST", path, {"body": "later"}, frame_id="RQd"), T0 + 1, defer=True
    )
    assert step.actions == []
    assert step.pending is not None
    assert world.store.list_messages(world.service_sid, room).items == ()
    draft = step.pending.draft
    with world.core.atomic():
        stored = world.store.create_message(world.service_sid, draft.channel_sid, **draft.values)
        done = session.complete(step.pending, stored)
    reply = only(done)
    assert reply.id == "RQd"
    assert reply.body()["index"] == 0


def test_a_form_encoded_typing_request(world: World) -> None:
    room = _room(world)
    session = opened(world)
    step = session.receive(
        request("POST", "Client/v2/Typing", f"ChannelSid={room}".encode(), form=True), T0 + 1
    )
    reply = only(step)
    assert reply.header["http_status"]["code"] == 200
    assert reply.body()["typing_timeout"] > 0
    assert [event.frame["type"] for event in step.events] == ["typing_started"]


def test_query_parameters_arrive_percent_encoded(world: World) -> None:
    """twilsock passes the query on as the URL had it: twilio-sync 3.0 (in twilio-chat 6's
    browser bundle) pages messages by ``PageToken`` alone, its ``:`` as ``%3A``."""
    room = _room(world)
    session = opened(world)
    post = f"Client/v2/Conversations/{room}/Messages"
    for number in range(5):
        session.receive(request("POST", post, {"body": str(number)}), T0 + 1)
    items = f"/v3/Lists/{objects.of(MESSAGES, room)}/Items"
    first = only(
        session.receive(request("GET", items, params={"PageSize": "2", "Order": "desc"}), T0 + 2)
    )
    token = first.body()["meta"]["next_token"]
    assert ":" in token
    encoded = token.replace(":", "%3A")
    step = session.receive(request("GET", items, params={"PageToken": encoded}), T0 + 3)
    second = only(step)
    assert second.header["http_status"]["code"] == 200, second.body()
    assert [item["index"] for item in first.body()["items"]] == [4, 3]
    assert [item["index"] for item in second.body()["items"]] == [2, 1]


def _twilio_error(body: dict[str, object], status: int) -> None:
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["status"] == status
    assert isinstance(body["code"], int)
    assert isinstance(body["message"], str)
    assert body["message"]
    assert str(body["more_info"]).startswith("https://www.twilio.com/docs/errors/")


def test_http_errors_come_back_as_replies_in_twilios_shape(world: World) -> None:
    public = _room(world)
    private = channels.create_channel(
        world.core, world.actor("alice"), {"unique_name": "secret", "type": "private"}
    ).resource["sid"]  # type: ignore[index]
    session = opened(world, "bob")
    for channel, status in ((public, 403), (private, 404), ("CH" + "0" * 32, 404)):
        path = f"Client/v2/Conversations/{channel}/Messages"
        step = session.receive(request("POST", path, {"body": "hi"}, frame_id="RQerr"), T0 + 1)
        reply = only(step)
        assert reply.id == "RQerr"
        assert reply.header["status"]["code"] == 200  # the frame went through; HTTP said no
        assert reply.header["http_status"]["code"] == status
        _twilio_error(reply.body(), status)
        assert not session.closed
    assert world.store.list_messages(world.service_sid, public).items == ()
    nowhere = only(session.receive(request("GET", "Client/v2/Nowhere"), T0 + 1))
    assert nowhere.header["http_status"]["code"] == 404
    _twilio_error(nowhere.body(), 404)
    wrong = only(session.receive(request("DELETE", "Client/v2/Configuration"), T0 + 1))
    assert wrong.header["http_status"]["code"] == 405
    _twilio_error(wrong.body(), 405)


def test_a_request_body_that_is_not_json_is_a_400(world: World) -> None:
    room = _room(world)
    session = opened(world)
    path = f"Client/v2/Conversations/{room}/Messages"
    reply = only(session.receive(request("POST", path, b"{broken"), T0 + 1))
    assert reply.header["http_status"]["code"] == 400
    _twilio_error(reply.body(), 400)
    missing = frames.encode({"method": "message", "id": "RQnone"})
    assert only(session.receive(missing, T0 + 1)).header["status"]["code"] == 400
    assert world.store.list_messages(world.service_sid, room).items == ()


def test_subscribing_to_an_object_the_user_may_not_read_is_refused(world: World) -> None:
    room = _room(world)
    members.join(world.core, world.actor("bob"), room)
    bob = world.store.get_user(world.service_sid, "bob")
    session = opened(world)
    theirs = objects.of(MY_CHANNELS, bob.sid)
    ours = objects.of(MESSAGES, room)
    body = {
        "action": "establish",
        "correlation_id": 7,
        "requests": [
            {"object_sid": theirs, "object_type": "map", "last_event_id": 0},
            {"object_sid": ours, "object_type": "list", "last_event_id": 3},
            {"object_sid": "MX" + "0" * 32, "object_type": "map"},
        ],
    }
    step = session.receive(request("POST", "/v4/Subscriptions", body), T0 + 1)
    reply = only(step)
    assert reply.header["http_status"]["code"] == 200
    assert [type(work) for work in step.then] == [Subscribe]
    subscribe = step.then[0]
    assert isinstance(subscribe, Subscribe)
    assert subscribe.action == "establish"
    assert subscribe.correlation_id == 7
    assert subscribe.accepted == [(ours, "list", 3)]
    refused = {sid: error for sid, _, error in subscribe.refused}
    assert set(refused) == {theirs, "MX" + "0" * 32}
    assert refused[theirs]["status"] == 403
    assert refused["MX" + "0" * 32]["status"] == 404


def test_subscriptions_need_an_action_and_a_list(world: World) -> None:
    session = opened(world)
    for body in ({"action": "nope", "requests": []}, {"action": "establish"}, [1, 2]):
        step = session.receive(request("POST", "/v4/Subscriptions", body), T0 + 1)
        assert only(step).header["http_status"]["code"] == 400
        assert step.then == []


def test_twilio_chats_user_descriptors_name_each_member_of_a_channel(world: World) -> None:
    """``GET Users?ConversationSid=`` (twilio-chat's ``getUserDescriptors``) and
    ``GET Users/{identity}``: the users with their names, attributes and reachability."""
    room = _room(world)
    members.join(world.core, world.actor("bob"), room)
    users.update_user(world.core, world.actor("bob"), "bob", {"friendly_name": "Bob ✓"})
    session = opened(world)
    path = "Client/v2/Users"
    listed = only(session.receive(request("GET", path, params={"ConversationSid": room}), T0 + 1))
    assert listed.header["http_status"]["code"] == 200
    found = {user["identity"]: user for user in listed.body()["users"]}
    assert set(found) == {"alice", "bob"}
    bob = world.store.get_user(world.service_sid, "bob")
    assert found["bob"]["friendly_name"] == "Bob ✓"
    assert found["bob"]["attributes"] == "{}"
    assert found["bob"]["is_online"] is None  # the service does not track reachability
    assert found["bob"]["sync_objects"]["user_info_map"] == objects.of(USER_INFO, bob.sid)
    one = only(session.receive(request("GET", f"{path}/bob"), T0 + 1)).body()
    assert one == found["bob"]
    # Only a member may list a channel's users.
    outsider = opened(world, "carol")
    refused = only(outsider.receive(request("GET", path, params={"ConversationSid": room}), T0))
    assert refused.header["http_status"]["code"] == 403


def test_inviting_needs_the_permission_before_anyone_is_made_a_user(world: World) -> None:
    room = _room(world, "alice", "private")
    outsider = opened(world, "mallory")
    path = f"Client/v2/Conversations/{room}/Invites"
    refused = only(outsider.receive(request("POST", path, {"identity": "ghost"}), T0 + 1))
    assert refused.header["http_status"]["code"] == 404  # a private channel not theirs
    nowhere = f"Client/v2/Conversations/CH{'0' * 32}/Invites"
    refused = only(outsider.receive(request("POST", nowhere, {"identity": "ghost"}), T0 + 1))
    assert refused.header["http_status"]["code"] == 404
    with pytest.raises(NotFound):
        world.store.get_user(world.service_sid, "ghost")
    # A member who may invite does so, and the invitee becomes a user.
    alice = opened(world, "alice")
    invited = only(alice.receive(request("POST", path, {"identity": "ghost"}), T0 + 1))
    assert invited.header["http_status"]["code"] == 200
    assert world.store.get_user(world.service_sid, "ghost").identity == "ghost"


@pytest.mark.parametrize("size", ["²", "٣", "-1", "0", "101", "1e2"])
def test_page_sizes_that_are_not_plain_numbers_are_a_400(world: World, size: str) -> None:
    room = _room(world)
    session = opened(world)
    list_sid = objects.of(MESSAGES, room)
    for path in (f"/v3/Lists/{list_sid}/Items", "Client/v2/Me/Conversations"):
        reply = only(session.receive(request("GET", path, params={"PageSize": size}), T0 + 1))
        assert reply.header["http_status"]["code"] == 400, (path, size)


def test_muting_stays_in_the_channel_map_when_the_read_horizon_moves(world: World) -> None:
    room = _room(world)
    messages.send_message(world.core, world.actor("alice"), room, {"body": "one"})
    session = opened(world)
    mine = f"Client/v2/Me/Conversations/{room}"
    muted = only(session.receive(request("POST", mine, {"notification_level": "muted"}), T0))
    assert muted.body()["notification_level"] == "muted"
    moved = session.receive(request("POST", mine, {"last_read_message_index": 0}), T0 + 1)
    riders = [rider for event in moved.events for rider in event.riders]
    user_sid = world.store.get_user(world.service_sid, "alice").sid
    (entry,) = [r for r in riders if r.audience[1] == objects.of(MY_CHANNELS, user_sid)]
    assert entry.frame["event"]["item_data"]["notificationLevel"] == "muted"
    assert entry.frame["event"]["item_data"]["lastConsumedMessageIndex"] == 0
