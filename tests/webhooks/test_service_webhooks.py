"""A service's pre- and post-event webhooks, end to end: real sockets, real receiver, the
official twilio-python client to configure them and its RequestValidator on every request."""

from __future__ import annotations

import asyncio
import json

from tests.realtime.client import RawClient
from tests.webhooks.conftest import HookedServer, synced
from tests.webhooks.receiver import Answer


def _messages(hooked: HookedServer, channel_sid: str) -> list[str]:
    return [m.body for m in hooked.service().channels(channel_sid).messages.list()]


async def _channel_with(hooked: HookedServer, identity: str) -> tuple[object, str]:
    client = await hooked.client(identity)
    reply = await client.command("create_channel", friendly_name="general")
    assert reply["ok"], reply
    return client, reply["result"]["channel"]["sid"]


@synced
async def test_a_pre_event_webhook_refuses_a_message_and_nothing_is_stored(
    hooked: HookedServer,
) -> None:
    client, channel = await _channel_with(hooked, "alice")
    hooked.hook("onMessageSend", pre=True)
    hooked.receiver.default = Answer(403)
    reply = await client.command("send_message", channel=channel, body="spam")
    assert not reply["ok"]
    assert reply["error"]["status"] == 403
    assert _messages(hooked, channel) == []
    [request] = hooked.receiver.wait_for(1)
    form = request.form
    assert form["EventType"] == "onMessageSend"
    assert form["Body"] == "spam"
    assert form["ChannelSid"] == channel
    assert form["ClientIdentity"] == "alice"
    assert form["From"] == "alice"
    assert form["Source"] == "SDK"
    assert form["RetryCount"] == "0"
    assert form["AccountSid"] == hooked.creds.account_sid
    assert form["InstanceSid"] == hooked.service_sid
    assert "MessageSid" not in form  # not made yet
    hooked.receiver.assert_signed(hooked.creds.auth_token)


@synced
async def test_a_pre_event_webhook_rewrites_a_message(hooked: HookedServer) -> None:
    client, channel = await _channel_with(hooked, "alice")
    hooked.hook("onMessageSend", pre=True)
    hooked.receiver.default = Answer(
        200, json.dumps({"body": "[removed]", "attributes": {"moderated": True}}).encode()
    )
    reply = await client.command("send_message", channel=channel, body="rude words")
    assert reply["ok"], reply
    assert reply["result"]["message"]["body"] == "[removed]"
    assert json.loads(reply["result"]["message"]["attributes"]) == {"moderated": True}
    assert _messages(hooked, channel) == ["[removed]"]
    # An answer that is not JSON lets the action through unchanged.
    hooked.receiver.default = Answer(200, b"ok", content_type="text/plain")
    reply = await client.command("send_message", channel=channel, body="hello")
    assert reply["result"]["message"]["body"] == "hello"


@synced
async def test_a_rewrite_that_breaks_the_rules_refuses_the_action(hooked: HookedServer) -> None:
    client, channel = await _channel_with(hooked, "alice")
    hooked.hook("onMessageSend", pre=True)
    hooked.receiver.default = Answer(200, json.dumps({"body": "x" * 40_000}).encode())
    reply = await client.command("send_message", channel=channel, body="hello")
    assert not reply["ok"]
    assert _messages(hooked, channel) == []


@synced
async def test_a_media_message_refused_by_its_webhook_leaves_its_upload_free(
    hooked: HookedServer,
) -> None:
    """A media message goes through onMessageSend and onMessageSent like any other; refused,
    its upload is not used up: the next send carries it."""
    client, channel = await _channel_with(hooked, "alice")
    upload = hooked.store.create_media(
        hooked.creds.account_sid, hooked.service_sid, "ME" + "d" * 32,
        content_type="image/png", size=9, filename="a.png", author="alice",
    )  # fmt: skip
    hooked.hook("onMessageSend", "onMessageSent", pre=True, post=True)
    hooked.receiver.default = Answer(403)
    refused = await client.command("send_message", channel=channel, media_sid=upload.sid)
    assert refused["error"]["status"] == 403
    [pre] = hooked.receiver.wait_for(1)
    assert (pre.form["EventType"], pre.form["Body"]) == ("onMessageSend", "")
    assert hooked.store.get_media(hooked.service_sid, upload.sid).message_sid is None
    hooked.receiver.default = Answer(200)
    sent = await client.command("send_message", channel=channel, media_sid=upload.sid, body="hi")
    assert sent["ok"], sent
    message = sent["result"]["message"]
    assert (message["type"], message["media"]["sid"]) == ("media", upload.sid)
    post = hooked.receiver.wait_for(3)[2]
    assert (post.form["EventType"], post.form["MessageSid"]) == ("onMessageSent", message["sid"])
    assert post.form["Body"] == "hi"


@synced
async def test_pre_event_webhooks_are_retried_as_twilio_retries_them(
    hooked: HookedServer,
) -> None:
    client, channel = await _channel_with(hooked, "alice")
    hooked.hook("onMessageSend", pre=True, pre_webhook_retry_count=2)
    hooked.receiver.script = [Answer(503), Answer(200, delay=2.0)]  # then a timeout, then 200
    reply = await client.command("send_message", channel=channel, body="hello")
    assert reply["ok"], reply
    assert [r.form["RetryCount"] for r in hooked.receiver.wait_for(3)] == ["0", "1", "2"]
    # Out of retries: refused. A 500 is not retried at all.
    hooked.receiver.script = [Answer(504), Answer(504), Answer(504)]
    reply = await client.command("send_message", channel=channel, body="again")
    assert not reply["ok"]
    hooked.receiver.script = [Answer(500)]
    reply = await client.command("send_message", channel=channel, body="third")
    assert not reply["ok"]
    assert len(hooked.receiver.wait_for(7)) == 7
    assert _messages(hooked, channel) == ["hello"]


@synced
async def test_pre_event_webhooks_fire_only_for_users_and_for_their_filters(
    hooked: HookedServer,
) -> None:
    client, channel = await _channel_with(hooked, "alice")
    sent = await client.command("send_message", channel=channel, body="hi")
    sid = sent["result"]["message"]["sid"]
    hooked.hook("onMessageUpdate", pre=True)
    hooked.receiver.default = Answer(403)
    # Not in the filters: no call.
    assert (await client.command("send_message", channel=channel, body="hi again"))["ok"]
    # REST writes never call pre-event webhooks.
    messages = hooked.service().channels(channel).messages
    messages(sid).update(body="by the server")
    messages.create(body="from the server")
    assert hooked.receiver.received == []
    reply = await client.command("update_message", channel=channel, sid=sid, body="edited")
    assert not reply["ok"]
    [request] = hooked.receiver.wait_for(1)
    form = request.form
    assert form["EventType"] == "onMessageUpdate"
    assert form["Body"] == "edited"  # what it would become
    assert form["MessageSid"] == sid
    assert form["Index"] == "0"
    assert form["ChannelSid"] == channel
    assert form["ModifiedBy"] == "alice"
    assert messages(sid).fetch().body == "by the server"


@synced
async def test_post_event_webhooks_follow_users_actions_in_order(hooked: HookedServer) -> None:
    events = [
        "onChannelAdded",
        "onMemberAdded",
        "onMessageSent",
        "onMessageUpdated",
        "onMessageRemoved",
        "onMemberRemoved",
    ]
    hooked.hook(*events, post=True)
    alice, channel = await _channel_with(hooked, "alice")
    bob = await hooked.client("bob")
    assert (await bob.command("join", channel=channel))["ok"]
    sent = await alice.command("send_message", channel=channel, body="hello")
    sid = sent["result"]["message"]["sid"]
    await alice.command("update_message", channel=channel, sid=sid, body="hello!")
    await alice.command("remove_message", channel=channel, sid=sid)
    await bob.command("leave", channel=channel)
    received = hooked.receiver.wait_for(6)
    # One channel is one lane: its webhooks come in the order of its actions.
    assert [r.event for r in received] == events
    added, joined, message, updated, removed, left = (r.form for r in received)
    assert added["ChannelSid"] == channel
    assert added["CreatedBy"] == "alice"
    assert added["FriendlyName"] == "general"
    assert joined["Identity"] == "bob"
    assert joined["ClientIdentity"] == "bob"
    assert joined["MemberSid"].startswith("MB")
    assert message["MessageSid"] == sid
    assert message["Index"] == "0"
    assert message["Body"] == "hello"
    assert message["From"] == "alice"
    assert updated["Body"] == "hello!"
    assert updated["ModifiedBy"] == "alice"
    assert removed["MessageSid"] == sid
    assert left["Reason"] == "LEFT"
    assert left["Identity"] == "bob"
    assert "DateRemoved" in left
    assert all(r.form["Source"] == "SDK" for r in received)
    assert {r.url for r in received} == {f"{hooked.receiver.base_url}/post"}
    hooked.receiver.assert_signed(hooked.creds.auth_token)


@synced
async def test_rest_writes_are_followed_only_when_the_header_asks(hooked: HookedServer) -> None:
    hooked.hook("onChannelAdded", "onMessageSent", "onUserUpdated", post=True)
    hooked.stop_courier()  # what is queued stays to be seen
    channels = hooked.service().channels
    quiet = channels.create(friendly_name="quiet")
    channels(quiet.sid).messages.create(body="not followed")
    loud = channels.create(friendly_name="loud", x_twilio_webhook_enabled="true")
    channels(loud.sid).messages.create(body="followed", x_twilio_webhook_enabled="true")
    channels(quiet.sid).messages.create(body="not either", x_twilio_webhook_enabled="false")
    user = hooked.service().users.create(identity="zoe")
    hooked.service().users(user.sid).update(friendly_name="Z", x_twilio_webhook_enabled="true")
    queued = hooked.queued()
    assert [(q["EventType"], q.get("Body") or q.get("FriendlyName")) for q in queued] == [
        ("onChannelAdded", "loud"),
        ("onMessageSent", "followed"),
        ("onUserUpdated", "Z"),
    ]
    assert queued[0]["ChannelSid"] == loud.sid
    assert queued[2]["UserSid"] == user.sid
    assert all(q["Source"] == "API" and "ClientIdentity" not in q for q in queued)


@synced
async def test_post_event_webhooks_keep_each_channels_order(hooked: HookedServer) -> None:
    hooked.hook("onMessageSent", post=True)
    alice, channel = await _channel_with(hooked, "alice")
    dave = await hooked.client("dave")
    created = await dave.command("create_channel", friendly_name="other")
    other = created["result"]["channel"]["sid"]
    bob = await hooked.client("bob")
    carol = await hooked.client("carol")
    for who in (bob, carol):
        assert (await who.command("join", channel=channel))["ok"]

    async def send(client: RawClient, channel_sid: str, count: int) -> None:
        for n in range(count):
            reply = await client.command("send_message", channel=channel_sid, body=str(n))
            assert reply["ok"], reply

    # Three connections at once into one channel (their messages interleave), one into another.
    await asyncio.gather(
        send(dave, other, 40),
        send(bob, channel, 14),
        send(carol, channel, 13),
        send(alice, channel, 13),
    )
    received = hooked.receiver.wait_for(80)
    for lane in (channel, other):
        indexes = [int(r.form["Index"]) for r in received if r.form["ChannelSid"] == lane]
        assert indexes == list(range(40))


@synced
async def test_get_webhooks_carry_their_parameters_in_the_query(hooked: HookedServer) -> None:
    hooked.hook("onMessageSent", post=True, webhook_method="GET")
    alice, channel = await _channel_with(hooked, "alice")
    await alice.command("send_message", channel=channel, body="a b&c")
    [request] = hooked.receiver.wait_for(1)
    assert request.method == "GET"
    assert request.form["Body"] == "a b&c"
    hooked.receiver.assert_signed(hooked.creds.auth_token)


@synced
async def test_failed_post_event_webhooks_are_retried_later_in_order(hooked: HookedServer) -> None:
    hooked.hook("onMessageSent", post=True, post_webhook_retry_count=1)
    alice, channel = await _channel_with(hooked, "alice")
    hooked.receiver.script = [Answer(503)]
    for body in ("first", "second"):
        await alice.command("send_message", channel=channel, body=body)
    hooked.receiver.wait_for(1)
    # The lane waits for the retry; move the courier's clock past its backoff.
    hooked.courier_clock.ahead += 60
    received = hooked.receiver.wait_for(3)
    assert [(r.form["Body"], r.form["RetryCount"]) for r in received] == [
        ("first", "0"),
        ("first", "1"),
        ("second", "0"),
    ]
