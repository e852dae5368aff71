"""``kill -9`` of a real ``hubbub serve`` while SDK clients chat: they reconnect and catch up.

Alice sends without pause; Bob listens through a relay, so that after the restart he can be
kept away a while longer, long enough for Alice and the REST API to write more than one page of
messages he must fetch by index. The server is a separate process on a SQLite file, killed with
SIGKILL mid-stream and started again on the same port and database.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from hubbub.client import (
    Backoff,
    ChatClient,
    CommandTimeout,
    ConnectionState,
    Message,
    NotConnected,
)
from hubbub.tokens import Minter
from tests.client.relay import Relay
from tests.realtime.test_crash import free_port, start, stored_indexes

#: Generous: the machine running the tests may be busy with other work.
WAIT = 60.0
#: Messages Alice gets acknowledged before the kill, and after the restart while Bob is away
#: (more than the SDK's catch-up page of 100, so Bob's catch-up takes several pages).
BEFORE_KILL = 50
WHILE_AWAY = 120
AFTER_RETURN = 30
#: Messages written through the REST API while Bob is away.
BY_REST = 5


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def record(client: ChatClient, event: str) -> list[Any]:
    seen: list[Any] = []
    client.on(event, seen.append)
    return seen


def test_clients_reconnect_and_catch_up_after_kill_9(tmp_path: Path) -> None:
    port = free_port()
    server = start(tmp_path, port)
    creds = json.loads((tmp_path / "hubbub-credentials.json").read_text())
    service = creds["chat_service_sid"]
    minter = Minter(creds["account_sid"], creds["api_key_sid"], creds["api_key_secret"])
    url = f"ws://127.0.0.1:{port}/v1/ws"
    base_url = f"http://127.0.0.1:{port}"

    def provider(identity: str) -> Callable[[], Any]:
        async def token() -> str:
            return minter.chat_token(identity, service, ttl=3600)

        return token

    async def connect(identity: str, via: str) -> ChatClient:
        return await ChatClient.create(
            token_provider=provider(identity),
            url=via,
            # Commands issued during the outage wait for the reconnect, however long the
            # restart takes on a busy machine.
            timeout=WAIT,
            backoff=Backoff(initial=0.1, cap=0.5),
        )

    #: (index, body) of every send_message Alice got a reply to.
    acknowledged: list[tuple[int, str]] = []
    #: Sends whose outcome is unknown: in flight when the connection dropped.
    unsure: list[str] = []

    async def send_continuously(alice: ChatClient, channel_sid: str, stop: asyncio.Event) -> None:
        channel = await alice.get_channel_by_sid(channel_sid)
        number = 0
        while not stop.is_set():
            body = f"alice {number}"
            number += 1
            try:
                acknowledged.append((await channel.send_message(body), body))
            except (NotConnected, CommandTimeout):
                unsure.append(body)

    async def scenario() -> None:
        nonlocal server
        async with (
            Relay(url) as relay,
            await connect("alice", url) as alice,
            await connect("bob", relay.url) as bob,
            httpx.AsyncClient(
                base_url=base_url, auth=(creds["account_sid"], creds["auth_token"])
            ) as rest,
        ):
            general = await alice.create_channel(unique_name="general")
            joined = record(bob, "channel_joined")
            await (await bob.get_channel_by_sid(general.sid)).join()
            # The join's baseline is fetched by then: every later message is news to Bob.
            await until(lambda: len(joined) == 1, "Bob's channel_joined")
            got: list[Message] = record(bob, "message_added")
            alice_states = record(alice, "connection_state_changed")
            bob_states = record(bob, "connection_state_changed")

            stop = asyncio.Event()
            sender = asyncio.create_task(send_continuously(alice, general.sid, stop))
            await until(lambda: len(acknowledged) >= BEFORE_KILL, "messages before the kill")
            server.send_signal(signal.SIGKILL)
            await asyncio.to_thread(server.wait, WAIT)
            await until(
                lambda: alice.state is bob.state is ConnectionState.CONNECTING,
                "both clients to notice the kill",
            )
            relay.cut(stay_shut=True)  # Bob stays away after the restart, until reopened
            at_kill = len(acknowledged)

            server = await asyncio.to_thread(start, tmp_path, port)
            await until(lambda: alice.state is ConnectionState.CONNECTED, "Alice's reconnect")
            await until(lambda: len(acknowledged) >= at_kill + WHILE_AWAY, "Alice to send more")
            by_rest = []
            for number in range(BY_REST):
                response = await rest.post(
                    f"/v2/Services/{service}/Channels/{general.sid}/Messages",
                    data={"Body": f"rest {number}", "From": "system"},
                )
                assert response.status_code == 201, response.text
                by_rest.append(response.json()["index"])
            assert bob.state is ConnectionState.CONNECTING

            relay.reopen()
            await until(lambda: bob.state is ConnectionState.CONNECTED, "Bob's reconnect")
            back = len(acknowledged)
            await until(lambda: len(acknowledged) >= back + AFTER_RETURN, "live messages")
            stop.set()
            await sender
            # The last message stored: it reaches Bob after anything still to come from before
            # it, duplicates included.
            last = await general.send_message("last")

            stored = await asyncio.to_thread(stored_indexes, port, creds, general.sid)
            assert stored[-1] == last
            await until(lambda: any(m.index == last for m in got), "Bob to get every message")

            indexes = [message.index for message in got]
            # Every message stored is delivered to Bob once, in index order, with no gap:
            # what he missed while away was fetched by index.
            assert indexes == stored == list(range(len(stored)))
            assert {index for index, _ in acknowledged} <= set(indexes)
            bodies = {message.index: message.body for message in got}
            assert all(bodies[index] == body for index, body in acknowledged)
            assert [bodies[index] for index in by_rest] == [f"rest {n}" for n in range(BY_REST)]
            # Sends cut off by the kill may or may not have been stored; none is duplicated.
            assert len(unsure) <= 1
            assert len(set(bodies.values())) == len(bodies)

            for states in (alice_states, bob_states):
                assert states == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]
            assert alice.close_code == bob.close_code == 1006

    try:
        asyncio.run(scenario())
    finally:
        server.kill()
        server.wait(timeout=WAIT)
