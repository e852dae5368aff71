"""What the fast paths must not change: group commit, cached checks, a slow reader, ordering."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cryptography.fernet import Fernet
from websockets.asyncio.client import connect

from hubbub.chat.provision import new_account
from hubbub.crypto import SecretBox
from hubbub.realtime.commits import store_batch
from hubbub.store import open_store
from tests.postgres import PostgresDatabases
from tests.realtime.client import RawClient
from tests.realtime.conftest import RealtimeServer


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_concurrent_senders_get_unique_indexes_delivered_in_order(
    realtime_server: RealtimeServer,
) -> None:
    """Many senders at once (stored together by group commit on ``hubbub serve``'s path): each
    acknowledged message is stored once, and every member sees the channel in index order."""

    async def scenario() -> tuple[list[int], list[list[int]]]:
        owner = await RawClient.open(realtime_server.url)
        await owner.authenticate(realtime_server.mint("owner"))
        await owner.command("create_channel", unique_name="busy")
        senders = []
        for number in range(8):
            client = await RawClient.open(realtime_server.url)
            await client.authenticate(realtime_server.mint(f"sender{number}"))
            assert (await client.command("join", channel="busy"))["ok"]
            senders.append(client)

        async def burst(client: RawClient, number: int) -> list[int]:
            # Twenty commands written at once, the replies read after: the server sees them
            # together, as it does under load.
            for k in range(20):
                command = {"id": 1000 + k, "type": "send_message", "channel": "busy"}
                await client.socket.send(json.dumps({**command, "body": f"{number}:{k}"}))
            indexes: list[int] = []
            while len(indexes) < 20:
                frame = await client.next_frame()
                if frame.get("type") == "reply":
                    assert frame["ok"], frame
                    indexes.append(frame["result"]["message"]["index"])
                else:
                    client.pushes.append(frame)
            return indexes

        acked = await asyncio.gather(*(burst(c, n) for n, c in enumerate(senders)))
        seen = []
        for client in [owner, *senders]:
            order = [f["message"]["index"] for f in client.pushes if f["type"] == "message_added"]
            while len(order) < 160:
                frame = await client.next_frame()
                if frame["type"] == "message_added":
                    order.append(frame["message"]["index"])
            seen.append(order)
            await client.socket.close()
        # Each sender's own messages are stored in the order it sent them.
        for indexes in acked:
            assert indexes == sorted(indexes)
        return [i for indexes in acked for i in indexes], seen

    acked, seen = run(scenario())
    assert sorted(acked) == list(range(160))
    for order in seen:
        assert order == list(range(160))
    store, creds = realtime_server.store, realtime_server.creds
    stored = store.list_messages(creds.chat_service_sid, "busy", limit=1000).items
    assert [m.index for m in stored] == list(range(160))


def test_a_member_who_left_cannot_send_a_moment_later(realtime_server: RealtimeServer) -> None:
    """The checks of send_message are cached, but leaving drops the membership at once."""

    async def scenario() -> None:
        alice = await RawClient.open(realtime_server.url)
        await alice.authenticate(realtime_server.mint("alice"))
        await alice.command("create_channel", unique_name="brief")
        assert (await alice.command("send_message", channel="brief", body="one"))["ok"]
        assert (await alice.command("leave", channel="brief"))["ok"]
        refused = await alice.command("send_message", channel="brief", body="two")
        assert refused["ok"] is False
        assert refused["error"]["code"] == 50400
        assert (await alice.command("join", channel="brief"))["ok"]
        assert (await alice.command("send_message", channel="brief", body="three"))["ok"]
        await alice.socket.close()

    run(scenario())


def test_a_client_that_does_not_read_is_cut_off_with_1013(
    hubbub_realtime_server: RealtimeServer,
) -> None:
    """Frames for a client that stopped reading wait in a buffer bounded in bytes; past the
    bound the server sends 1013 after them and pushes nothing more."""
    hubbub_realtime_server.node.output_limit = 1 << 20

    async def scenario() -> tuple[int | None, int]:
        reader = await connect(hubbub_realtime_server.url, max_size=1 << 20)
        token = hubbub_realtime_server.mint("sleepy")
        await reader.send(json.dumps({"id": 1, "type": "authenticate", "token": token}))
        assert json.loads(await reader.recv())["ok"]
        await reader.send(json.dumps({"id": 2, "type": "create_channel", "unique_name": "flood"}))
        assert json.loads(await reader.recv())["ok"]
        reader.transport.pause_reading()  # stop reading: the server's writes back up
        writers = []
        for number in range(4):
            writer = await RawClient.open(hubbub_realtime_server.url)
            await writer.authenticate(hubbub_realtime_server.mint(f"loud{number}"))
            await writer.command("join", channel="flood")
            writers.append(writer)

        async def flood(writer: RawClient) -> None:
            body = "x" * 30_000
            for k in range(150):
                frame = {"id": 10 + k, "type": "send_message", "channel": "flood", "body": body}
                await writer.socket.send(json.dumps(frame))
                await asyncio.sleep(1 / 40)  # under the limit of 50 commands a second
                try:
                    while True:  # the writer reads its copies: it is not the slow one
                        await asyncio.wait_for(writer.socket.recv(), 0.001)
                except TimeoutError:
                    pass

        await asyncio.gather(*(flood(w) for w in writers))
        reader.transport.resume_reading()
        received = 0
        try:
            async for _ in reader:
                received += 1
        except Exception:  # noqa: S110 - the close is what we wait for
            pass
        for writer in writers:
            await writer.socket.close()
        return reader.close_code, received

    code, received = run(scenario())
    assert code == 1013
    assert received < 600  # 600 messages were sent: the rest were never queued for it


def test_permessage_deflate_is_off_unless_asked_for(
    hubbub_realtime_server: RealtimeServer,
) -> None:
    """Compression costs memory per connection: declined by default, negotiated on request."""

    async def session(identity: str) -> list[Any]:
        socket_ = await connect(hubbub_realtime_server.url)  # offers permessage-deflate
        token = hubbub_realtime_server.mint(identity)
        await socket_.send(json.dumps({"id": 1, "type": "authenticate", "token": token}))
        assert json.loads(await socket_.recv())["ok"]
        await socket_.send(json.dumps({"id": 2, "type": "ping"}))
        assert json.loads(await socket_.recv())["ok"]
        extensions = list(socket_.protocol.extensions)
        await socket_.close()
        return extensions

    assert run(session("plain")) == []
    hubbub_realtime_server.node.compression = True
    assert [e.name for e in run(session("squeezed"))] == ["permessage-deflate"]


def test_a_message_that_breaks_its_batch_costs_only_its_own_sender(
    postgres: PostgresDatabases,
) -> None:
    """PostgreSQL refuses a NUL in text, so this batch fails as a whole; the messages are then
    stored one by one, and only the bad one is lost (the protocol refuses NULs earlier; this is
    what stands behind it for anything else a database may refuse)."""
    url = postgres.new()
    store = open_store(url, run_migrations=False)
    try:
        creds = new_account(store, SecretBox(Fernet.generate_key()))
        service = creds.chat_service_sid
        channel = store.create_channel(service, unique_name="room").sid
        rows = [(service, channel, "alice", body, "{}") for body in ("one", "t\x00wo", "three")]
        results = store_batch(store, rows, lambda i, stored: i)
        assert [None if r is None else (getattr(r[0], "body", r[0]), r[1]) for r in results] == [
            ("one", 0),
            None,
            ("three", 2),
        ]
        stored = store.list_messages(service, channel, order="asc", limit=10).items
        assert [(m.index, m.body) for m in stored] == [(0, "one"), (1, "three")]
    finally:
        store.close()
        postgres.drop(url)
