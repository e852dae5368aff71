"""The WebSocket gateway over real sockets: authentication, live chat, isolation."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

from hubbub.chat.provision import new_account
from hubbub.tokens import AccessToken, ChatGrant, Minter
from tests.realtime.client import RawClient
from tests.realtime.conftest import RealtimeServer, signed_in
from tests.web.server import twilio_client


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_authenticate_creates_the_user(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        client = await RawClient.open(realtime_server.url)
        reply = await client.authenticate(realtime_server.mint("alice"))
        assert reply["ok"] is True
        result = reply["result"]
        assert result["identity"] == "alice"
        assert result["service_sid"] == realtime_server.creds.chat_service_sid
        assert result["user"]["identity"] == "alice"
        assert result["about_to_expire_in"] == 3.0
        assert (await client.command("ping"))["ok"] is True
        await client.socket.close()

    run(scenario())
    assert (
        realtime_server.store.get_user(realtime_server.creds.chat_service_sid, "alice").identity
        == "alice"
    )


def test_bad_tokens_get_their_code_then_4001(realtime_server: RealtimeServer) -> None:
    async def scenario(token: str) -> tuple[int, int | None]:
        client = await RawClient.open(realtime_server.url)
        reply = await client.authenticate(token)
        assert reply["ok"] is False
        return reply["error"]["code"], await client.close_code()

    assert run(scenario("not-a-token")) == (20101, 4001)
    expired = realtime_server.mint("bob", ttl=1)
    run(asyncio.sleep(0))  # minted above; now make it stale by tampering instead of waiting
    head, payload, signature = expired.split(".")
    assert run(scenario(f"{head}.{payload}.{signature[:-2]}AA")) == (20107, 4001)
    other = Minter("AC" + "1" * 32, "SK" + "2" * 32, "s" * 32)
    assert run(scenario(other.chat_token("eve", realtime_server.creds.chat_service_sid))) == (
        20103,
        4001,
    )


def test_tokens_for_identities_no_user_may_hold_get_20106_then_4001(
    realtime_server: RealtimeServer,
) -> None:
    creds = realtime_server.creds

    async def scenario(identity: str) -> tuple[int, int | None] | None:
        # AccessToken mints what twilio-python would, whatever the identity.
        token = AccessToken(
            creds.account_sid,
            creds.api_key_sid,
            creds.api_key_secret,
            identity=identity,
            grants=[ChatGrant(service_sid=creds.chat_service_sid)],
        ).to_jwt()
        client = await RawClient.open(realtime_server.url)
        reply = await client.authenticate(token)
        if reply["ok"]:
            await client.socket.close()
            return None
        return reply["error"]["code"], await client.close_code()

    for identity in ("US" + "0" * 32, "MB" + "a" * 32, "al\ud800ice", "a" * 5500, "al\x00ice"):
        assert run(scenario(identity)) == (20106, 4001), repr(identity[:40])
    assert run(scenario("system")) == (20106, 4001)  # the author of REST's messages
    assert run(scenario("System")) is None  # identities are case-sensitive


def test_another_accounts_key_or_service_is_refused(realtime_server: RealtimeServer) -> None:
    theirs = new_account(realtime_server.store, realtime_server.box, name="theirs")
    ours = realtime_server.creds

    async def scenario(token: str) -> tuple[int, int | None]:
        client = await RawClient.open(realtime_server.url)
        reply = await client.authenticate(token)
        return reply["error"]["code"], await client.close_code()

    # Their key signing a token that claims our account: the key is not ours.
    forged = Minter(ours.account_sid, theirs.api_key_sid, theirs.api_key_secret)
    assert run(scenario(forged.chat_token("eve", ours.chat_service_sid))) == (20103, 4001)
    # Our own key, but naming their service.
    ours_minter = Minter(ours.account_sid, ours.api_key_sid, ours.api_key_secret)
    assert run(scenario(ours_minter.chat_token("eve", theirs.chat_service_sid))) == (20106, 4001)


def test_protocol_violations_close_with_their_codes(realtime_server: RealtimeServer) -> None:
    async def close_after(frame: str | bytes) -> int | None:
        client = await RawClient.open(realtime_server.url)
        await client.socket.send(frame)
        return await client.close_code()

    assert run(close_after('{"id": 1, "type": "ping"}')) == 4008  # before authenticate
    assert run(close_after("[1, 2]")) == 4008
    assert run(close_after(b"\x00binary")) == 4008
    assert run(close_after("x" * (70 * 1024))) == 4009


def test_two_users_chat_live(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        alice = await RawClient.open(realtime_server.url)
        bob = await RawClient.open(realtime_server.url)
        await alice.authenticate(realtime_server.mint("alice"))
        await bob.authenticate(realtime_server.mint("bob"))

        created = await alice.command(
            "create_channel", unique_name="general", friendly_name="General"
        )
        assert created["ok"] is True
        channel = created["result"]["channel"]
        assert (await alice.push("channel_joined"))["channel"]["sid"] == channel["sid"]
        assert (await bob.push("channel_added"))["channel"]["unique_name"] == "general"

        # The creator hears of its own membership first, then of bob's.
        assert (await alice.push("member_joined"))["member"]["identity"] == "alice"
        joined = await bob.command("join", channel="general")
        assert joined["result"]["member"]["identity"] == "bob"
        assert (await alice.push("member_joined"))["member"]["identity"] == "bob"

        sent = await bob.command(
            "send_message", channel="general", body="hi alice", attributes='{"x":1}'
        )
        assert sent["result"]["message"]["index"] == 0
        added = await alice.push("message_added")
        assert added["message"]["body"] == "hi alice"
        assert added["message"]["from"] == "bob"
        assert json.loads(added["message"]["attributes"]) == {"x": 1}

        await bob.command("typing", channel="general")
        assert (await alice.push("typing_started"))["identity"] == "bob"

        history = await alice.command("get_messages", channel="general")
        assert [m["body"] for m in history["result"]["messages"]] == ["hi alice"]
        unread = await alice.command("get_unconsumed_count", channel="general")
        assert unread["result"]["unread"] in (None, 1)
        consumed = await alice.command("set_consumed", channel="general", index=0)
        assert consumed["result"]["unread"] == 0

        subscribed = await bob.command("get_subscribed_channels")
        assert [c["channel"]["sid"] for c in subscribed["result"]["channels"]] == [channel["sid"]]

        left = await bob.command("leave", channel="general")
        assert left["ok"] is True
        assert (await alice.push("member_left"))["member"]["identity"] == "bob"
        await alice.socket.close()
        await bob.socket.close()

    run(scenario())


def test_private_channels_are_invisible_to_non_members(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        alice = await RawClient.open(realtime_server.url)
        mallory = await RawClient.open(realtime_server.url)
        await alice.authenticate(realtime_server.mint("alice"))
        await mallory.authenticate(realtime_server.mint("mallory"))
        created = await alice.command(
            "create_channel", unique_name="secret", channel_type="private"
        )
        assert created["result"]["channel"]["type"] == "private"
        await alice.command("send_message", channel="secret", body="the plan")

        for kind, params in [
            ("get_channel", {}),
            ("join", {}),
            ("get_messages", {}),
            ("send_message", {"body": "let me in"}),
        ]:
            reply = await mallory.command(kind, channel="secret", **params)
            assert reply["ok"] is False, kind
            assert reply["error"]["code"] == 20404, kind
        public = await mallory.command("get_public_channels")
        assert public["result"]["channels"] == []
        assert not [p for p in mallory.pushes if p["type"] == "message_added"]

        # Invited, mallory may join.
        invited = await alice.command("invite", channel="secret", identity="mallory")
        assert invited["ok"] is True, invited
        assert (await mallory.push("channel_invited"))["channel"]["unique_name"] == "secret"
        assert (await mallory.command("join", channel="secret"))["ok"] is True
        await alice.socket.close()
        await mallory.socket.close()

    run(scenario())


def test_rest_writes_to_a_users_channels_reach_connected_clients(
    realtime_server: RealtimeServer,
) -> None:
    """``/Users/{US}/Channels/{CH}`` changes a membership like ``/Members`` does, and is heard
    alike: a read horizon set there is ``member_updated``; leaving there is ``member_left`` to
    the channel and ``channel_left`` to the user, who then hears the channel no more."""
    creds = realtime_server.creds

    async def scenario() -> None:
        async with signed_in(realtime_server, "alice", "bob") as (alice, bob):
            room = (await alice.command("create_channel", unique_name="room"))["result"]
            assert (await bob.command("join", channel="room"))["ok"]
            sent = await alice.command("send_message", channel="room", body="one")
            assert sent["ok"], sent
            rest = twilio_client(realtime_server.base_url, creds.account_sid, creds.auth_token)
            mine = rest.chat.v2.services(creds.chat_service_sid).users("bob").user_channels
            await asyncio.to_thread(
                lambda: mine(room["channel"]["sid"]).update(last_consumed_message_index=0)
            )
            updated = await alice.push(
                "member_updated", where=lambda f: f["member"]["identity"] == "bob"
            )
            assert updated["member"]["last_consumed_message_index"] == 0
            await asyncio.to_thread(lambda: mine(room["channel"]["sid"]).delete())
            left = await alice.push("member_left")
            assert left["member"]["identity"] == "bob"
            assert (await bob.push("channel_left"))["channel"]["unique_name"] == "room"
            assert (await alice.command("send_message", channel="room", body="two"))["ok"]
            await bob.command("ping")  # anything pushed to bob before this reply is in
            heard = [p["message"]["body"] for p in bob.pushes if p["type"] == "message_added"]
            assert "two" not in heard

    run(scenario())


def test_rest_writes_reach_connected_clients(realtime_server: RealtimeServer) -> None:
    creds = realtime_server.creds

    async def scenario() -> None:
        alice = await RawClient.open(realtime_server.url)
        await alice.authenticate(realtime_server.mint("alice"))
        await alice.command("create_channel", unique_name="news")
        rest = twilio_client(realtime_server.base_url, creds.account_sid, creds.auth_token)
        chat = rest.chat.v2.services(creds.chat_service_sid)
        await asyncio.to_thread(
            lambda: chat.channels("news").messages.create(body="from REST", from_="bot")
        )
        added = await alice.push("message_added")
        assert (added["message"]["body"], added["message"]["from"]) == ("from REST", "bot")

        # Channels made over REST are announced like those made by clients: a public one to
        # the whole service, a private one only to whom it invites.
        await asyncio.to_thread(lambda: chat.channels.create(unique_name="town"))
        announced = await alice.push(
            "channel_added", where=lambda push: push["channel"]["unique_name"] == "town"
        )
        assert announced["channel"]["type"] == "public"
        secret = await asyncio.to_thread(
            lambda: chat.channels.create(unique_name="backroom", type="private")
        )
        await asyncio.to_thread(lambda: chat.channels(secret.sid).invites.create(identity="alice"))
        invited = await alice.push("channel_invited")
        assert invited["channel"]["sid"] == secret.sid
        assert (
            not [  # the private channel was not announced
                push
                for push in alice.pushes
                if push["type"] == "channel_added" and push["channel"]["sid"] == secret.sid
            ]
        )
        await alice.socket.close()

    run(scenario())


def test_a_token_for_one_service_sees_nothing_of_another(realtime_server: RealtimeServer) -> None:
    store, creds = realtime_server.store, realtime_server.creds
    other_service = store.create_service(creds.account_sid, friendly_name="other")
    other = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)

    async def scenario() -> None:
        alice = await RawClient.open(realtime_server.url)
        await alice.authenticate(realtime_server.mint("alice"))
        await alice.command("create_channel", unique_name="here")
        outsider = await RawClient.open(realtime_server.url)
        await outsider.authenticate(other.chat_token("alice", other_service.sid))
        reply = await outsider.command("get_channel", channel="here")
        assert reply["error"]["code"] == 20404
        assert (await outsider.command("get_public_channels"))["result"]["channels"] == []
        await alice.socket.close()
        await outsider.socket.close()

    run(scenario())


def test_roles_are_enforced_on_commands(realtime_server: RealtimeServer) -> None:
    store, creds = realtime_server.store, realtime_server.creds
    service = creds.chat_service_sid
    mute = store.create_role(
        service, friendly_name="mute", type="channel", permissions=["leaveChannel"]
    )

    async def scenario() -> None:
        alice = await RawClient.open(realtime_server.url)
        bob = await RawClient.open(realtime_server.url)
        await alice.authenticate(realtime_server.mint("alice"))
        await bob.authenticate(realtime_server.mint("bob"))
        await alice.command("create_channel", unique_name="stage")
        await bob.command("join", channel="stage")
        store.update_member(service, "stage", "bob", role_sid=mute.sid)
        denied = await bob.command("send_message", channel="stage", body="can I talk?")
        assert (denied["ok"], denied["error"]["code"], denied["error"]["status"]) == (
            False,
            50107,
            403,
        )
        sent = await alice.command("send_message", channel="stage", body="the show begins")
        theirs = await bob.command(
            "remove_message", channel="stage", sid=sent["result"]["message"]["sid"]
        )
        assert theirs["error"]["code"] == 50107  # not bob's message, and no deleteAnyMessage
        await alice.socket.close()
        await bob.socket.close()

    run(scenario())


def test_rest_updates_reach_clients_and_reachability(realtime_server: RealtimeServer) -> None:
    creds = realtime_server.creds
    rest = twilio_client(realtime_server.base_url, creds.account_sid, creds.auth_token)
    chat = rest.chat.v2.services(creds.chat_service_sid)
    chat.update(reachability_enabled=True)

    async def scenario() -> None:
        alice = await RawClient.open(realtime_server.url)
        await alice.authenticate(realtime_server.mint("alice"))
        await alice.command("create_channel", unique_name="lobby")
        bob = await RawClient.open(realtime_server.url)
        await bob.authenticate(realtime_server.mint("bob"))
        await bob.command("join", channel="lobby")
        online = await bob.push("user_updated")  # bob's own reachability, told to bob
        assert (online["user"]["identity"], online["user"]["is_online"]) == ("bob", True)

        await asyncio.to_thread(lambda: chat.channels("lobby").update(friendly_name="The Lobby"))
        assert (await alice.push("channel_updated"))["channel"]["friendly_name"] == "The Lobby"
        await asyncio.to_thread(lambda: chat.users("alice").update(friendly_name="Alice A."))
        renamed = await alice.push("user_updated", where=lambda f: f["user"]["friendly_name"])
        assert renamed["user"]["friendly_name"] == "Alice A."

        await bob.socket.close()
        offline = await alice.push("user_updated", where=lambda f: not f["user"]["is_online"])
        assert (offline["user"]["identity"], offline["user"]["is_online"]) == ("bob", False)

        await asyncio.to_thread(lambda: chat.channels("lobby").delete())
        assert (await alice.push("channel_removed"))["channel"]["unique_name"] == "lobby"
        await alice.socket.close()

    run(scenario())


def test_revoking_the_key_ends_live_sessions(realtime_server: RealtimeServer) -> None:
    creds = realtime_server.creds
    rest = twilio_client(realtime_server.base_url, creds.account_sid, creds.auth_token)
    key = rest.new_keys.create(friendly_name="short-lived")
    minter = Minter(creds.account_sid, key.sid, key.secret)

    async def scenario() -> float:
        client = await RawClient.open(realtime_server.url)
        reply = await client.authenticate(minter.chat_token("carol", creds.chat_service_sid))
        assert reply["ok"] is True
        await asyncio.to_thread(lambda: rest.keys(key.sid).delete())
        started = asyncio.get_running_loop().time()
        assert await client.close_code(timeout=3) == 4003
        return asyncio.get_running_loop().time() - started

    assert run(scenario()) < 1.5


def test_typing_ends_after_the_services_timeout(realtime_server: RealtimeServer) -> None:
    creds = realtime_server.creds
    realtime_server.store.update_service(
        creds.account_sid,
        creds.chat_service_sid,
        config=dataclasses.replace(
            realtime_server.store.get_service(creds.account_sid, creds.chat_service_sid).config,
            typing_indicator_timeout=1,
        ),
    )

    async def scenario() -> float:
        alice = await RawClient.open(realtime_server.url)
        bob = await RawClient.open(realtime_server.url)
        await alice.authenticate(realtime_server.mint("alice"))
        await bob.authenticate(realtime_server.mint("bob"))
        await alice.command("create_channel", unique_name="quiet")
        await bob.command("join", channel="quiet")
        await bob.command("typing", channel="quiet")
        await alice.push("typing_started")
        started = asyncio.get_running_loop().time()
        ended = await alice.push("typing_ended", timeout=3)
        assert ended["identity"] == "bob"
        await alice.socket.close()
        await bob.socket.close()
        return asyncio.get_running_loop().time() - started

    assert 0.5 < run(scenario()) < 2.0


def test_a_role_changed_over_rest_applies_at_once(realtime_server: RealtimeServer) -> None:
    """The gateway caches memberships; a REST role change must not leave the old role in force."""
    creds = realtime_server.creds
    rest = twilio_client(realtime_server.base_url, creds.account_sid, creds.auth_token)
    chat = rest.chat.v2.services(creds.chat_service_sid)
    mute = realtime_server.store.create_role(
        creds.chat_service_sid, friendly_name="mute", type="channel", permissions=["leaveChannel"]
    )

    async def scenario() -> None:
        alice = await RawClient.open(realtime_server.url)
        bob = await RawClient.open(realtime_server.url)
        await alice.authenticate(realtime_server.mint("alice"))
        await bob.authenticate(realtime_server.mint("bob"))
        await alice.command("create_channel", unique_name="stage")
        await bob.command("join", channel="stage")
        assert (await bob.command("send_message", channel="stage", body="one"))["ok"] is True
        await asyncio.to_thread(
            lambda: chat.channels("stage").members("bob").update(role_sid=mute.sid)
        )
        updated = await alice.push(
            "member_updated", where=lambda push: push["member"]["identity"] == "bob"
        )
        assert updated["member"]["role_sid"] == mute.sid
        denied = await bob.command("send_message", channel="stage", body="two")
        assert (denied["ok"], denied["error"]["code"]) == (False, 50107)
        await alice.socket.close()
        await bob.socket.close()

    run(scenario())


def test_the_authenticate_reply_comes_before_news_of_oneself(
    realtime_server: RealtimeServer,
) -> None:
    """With reachability on, coming online is pushed as user_updated, but only after the reply
    that tells the client who it is (so it can tell the push is about itself)."""
    creds = realtime_server.creds
    rest = twilio_client(realtime_server.base_url, creds.account_sid, creds.auth_token)
    rest.chat.v2.services(creds.chat_service_sid).update(reachability_enabled=True)

    async def scenario() -> list[dict[str, Any]]:
        alice = await RawClient.open(realtime_server.url)
        frame = {"id": 1, "type": "authenticate", "token": realtime_server.mint("alice")}
        await alice.socket.send(json.dumps(frame))
        frames = [await alice.next_frame(), await alice.next_frame()]
        await alice.socket.close()
        return frames

    first, second = run(scenario())
    assert (first.get("id"), first["ok"]) == (1, True)
    assert second["type"] == "user_updated"
    assert (second["user"]["identity"], second["user"]["is_online"]) == ("alice", True)


def test_presence_kept_for_push_is_not_shown_without_reachability(
    realtime_server: RealtimeServer,
) -> None:
    creds = realtime_server.creds
    store = realtime_server.store
    rest = twilio_client(realtime_server.base_url, creds.account_sid, creds.auth_token)
    chat = rest.chat.v2.services(creds.chat_service_sid)
    # Push on, reachability off: presence is recorded (pushes go to those offline only), and
    # shown nowhere, as Twilio shows null.
    chat.update(notifications_new_message_enabled=True, reachability_enabled=False)

    def users_online() -> list[Any]:
        return [user.is_online for user in chat.users.list()]

    async def scenario() -> None:
        alice = await RawClient.open(realtime_server.url)
        await alice.authenticate(realtime_server.mint("alice"))
        await alice.command("create_channel", unique_name="lobby")
        bob = await RawClient.open(realtime_server.url)
        signed = await bob.authenticate(realtime_server.mint("bob"))
        assert signed["result"]["user"]["is_online"] is None
        await bob.command("join", channel="lobby")
        members = await alice.command("get_members", channel="lobby")
        assert [m["user"]["is_online"] for m in members["result"]["members"]] == [None, None]
        assert store.get_user(creds.chat_service_sid, "bob").is_online  # recorded, for push
        fetched = await asyncio.to_thread(lambda: chat.users("bob").fetch())
        assert (fetched.is_online, fetched.is_notifiable) == (None, None)
        assert await asyncio.to_thread(users_online) == [None, None]

        await bob.socket.close()
        await asyncio.to_thread(
            lambda: _until(lambda: not store.get_user(creds.chat_service_sid, "bob").is_online)
        )
        # A later event as a barrier: whatever bob's leaving sent alice came before it.
        await asyncio.to_thread(lambda: chat.channels("lobby").update(friendly_name="Lobby"))
        await alice.push("channel_updated")
        assert [p for p in alice.pushes if p["type"] == "user_updated"] == []
        await alice.socket.close()

    run(scenario())


def _until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.02)
