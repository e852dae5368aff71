"""How sessions end, and who hears of what, over real sockets: revoked keys (also after
``update_token`` to another key, and when revoked by another process), deleted users and
services, user updates told once to each, and services kept apart."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import pytest

from hubbub.chat.provision import new_api_secret
from hubbub.tokens import Minter
from tests.realtime.client import RawClient
from tests.realtime.conftest import RealtimeServer, signed_in
from tests.web.server import twilio_client


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def second_key(server: RealtimeServer) -> Minter:
    secret = new_api_secret()
    key = server.store.create_api_key(
        server.creds.account_sid,
        friendly_name="second",
        encrypted_secret=server.box.encrypt(secret),
    )
    return Minter(server.creds.account_sid, key.sid, secret)


def test_a_session_follows_its_token_to_another_key(realtime_server: RealtimeServer) -> None:
    """Revoking a key ends exactly the sessions whose token in force it signed."""
    creds = realtime_server.creds
    service = creds.chat_service_sid
    first = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)
    second = second_key(realtime_server)
    rest = twilio_client(realtime_server.base_url, creds.account_sid, creds.auth_token)

    async def scenario() -> None:
        moved = await RawClient.open(realtime_server.url)
        stayed = await RawClient.open(realtime_server.url)
        await moved.authenticate(first.chat_token("alice", service))
        await stayed.authenticate(first.chat_token("bob", service))
        updated = await moved.command("update_token", token=second.chat_token("alice", service))
        assert updated["ok"], updated
        await asyncio.to_thread(lambda: rest.keys(second.key_sid).delete())
        assert await moved.close_code(timeout=3) == 4003
        assert (await stayed.command("ping"))["ok"]  # its key stands
        await asyncio.to_thread(lambda: rest.keys(first.key_sid).delete())
        assert await stayed.close_code(timeout=3) == 4003

    run(scenario())


def test_a_key_revoked_by_another_process_ends_sessions_within_a_second(
    realtime_server: RealtimeServer,
) -> None:
    """Another process revokes the key: this one only sees the store change (its key ring was
    not told), and still ends the session within about a second."""
    creds = realtime_server.creds
    minter = second_key(realtime_server)

    async def scenario() -> float:
        client = await RawClient.open(realtime_server.url)
        await client.authenticate(minter.chat_token("carol", creds.chat_service_sid))
        assert (await client.command("ping"))["ok"]  # the key is in this process's ring now
        realtime_server.store.update_api_key(creds.account_sid, minter.key_sid, revoked=True)
        started = asyncio.get_running_loop().time()
        assert await client.close_code(timeout=3) == 4003
        return asyncio.get_running_loop().time() - started

    assert run(scenario()) < 1.3


def test_deleting_a_user_ends_their_sessions_and_tells_their_channels(
    realtime_server: RealtimeServer, caplog: pytest.LogCaptureFixture
) -> None:
    creds = realtime_server.creds
    rest = twilio_client(realtime_server.base_url, creds.account_sid, creds.auth_token)
    chat = rest.chat.v2.services(creds.chat_service_sid)
    chat.update(reachability_enabled=True)  # going offline must cope with a deleted user

    async def scenario() -> None:
        async with signed_in(realtime_server, "alice", "bob") as (alice, bob):
            await alice.command("create_channel", unique_name="room")
            await bob.command("join", channel="room")
            await asyncio.to_thread(lambda: chat.users("bob").delete())
            assert await bob.close_code() == 4004
            left = await alice.push("member_left", where=lambda f: f["member"]["identity"] == "bob")
            room = realtime_server.store.get_channel(creds.chat_service_sid, "room")
            assert left["channel_sid"] == room.sid
            assert (await alice.command("ping"))["ok"]

    with caplog.at_level(logging.WARNING):
        run(scenario())
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_deleting_a_service_ends_its_sessions(
    realtime_server: RealtimeServer, caplog: pytest.LogCaptureFixture
) -> None:
    creds = realtime_server.creds
    store = realtime_server.store
    doomed = store.create_service(creds.account_sid, friendly_name="doomed")
    config = dataclasses.replace(doomed.config, reachability_enabled=True)
    store.update_service(creds.account_sid, doomed.sid, config=config)
    minter = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)
    rest = twilio_client(realtime_server.base_url, creds.account_sid, creds.auth_token)

    async def scenario() -> None:
        carol = await RawClient.open(realtime_server.url)
        await carol.authenticate(minter.chat_token("carol", doomed.sid))
        await carol.command("create_channel", unique_name="soon-gone")
        survivor = await RawClient.open(realtime_server.url)
        await survivor.authenticate(realtime_server.mint("dave"))
        await asyncio.to_thread(lambda: rest.chat.v2.services(doomed.sid).delete())
        assert await carol.close_code() == 4004
        assert (await survivor.command("ping"))["ok"]  # another service's session goes on
        await survivor.socket.close()

    with caplog.at_level(logging.WARNING):
        run(scenario())
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_user_update_reaches_each_connection_once(realtime_server: RealtimeServer) -> None:
    """Renamed over REST: the user and everyone sharing a channel hear it, each once, however
    many channels they share; others do not."""
    creds = realtime_server.creds
    rest = twilio_client(realtime_server.base_url, creds.account_sid, creds.auth_token)
    chat = rest.chat.v2.services(creds.chat_service_sid)

    async def scenario() -> None:
        async with signed_in(realtime_server, "alice", "bob", "stranger") as clients:
            alice, bob, _ = clients
            for name in ("one", "two"):
                await alice.command("create_channel", unique_name=name)
                await bob.command("join", channel=name)
            await asyncio.to_thread(lambda: chat.users("alice").update(friendly_name="Alice A."))
            for client in (alice, bob):
                renamed = await client.push("user_updated")
                assert renamed["user"]["friendly_name"] == "Alice A."
            for client in clients:
                await client.command("ping")  # everything pushed before this reply is in
                assert not [p for p in client.pushes if p["type"] == "user_updated"]

    run(scenario())


def test_pushes_and_commands_stay_within_their_service(realtime_server: RealtimeServer) -> None:
    """The same identity on two services: nothing of one reaches or is reachable from the
    other, by unique name or by SID."""
    store, creds = realtime_server.store, realtime_server.creds
    other = store.create_service(creds.account_sid, friendly_name="other")
    minter = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)

    async def scenario() -> None:
        here = await RawClient.open(realtime_server.url)
        there = await RawClient.open(realtime_server.url)
        await here.authenticate(realtime_server.mint("alice"))
        await there.authenticate(minter.chat_token("alice", other.sid))
        created = await here.command("create_channel", unique_name="mine")
        sid = created["result"]["channel"]["sid"]
        await here.command("send_message", channel="mine", body="hello")
        await here.command("typing", channel="mine")
        for kind, params in [
            ("get_channel", {}),
            ("join", {}),
            ("send_message", {"body": "x"}),
            ("get_messages", {}),
            ("get_members", {}),
        ]:
            reply = await there.command(kind, channel=sid, **params)
            assert reply["error"]["code"] == 20404, (kind, reply)
        await there.command("ping")
        assert there.pushes == []  # no channel_added, message_added or typing from the other
        await here.socket.close()
        await there.socket.close()

    run(scenario())
