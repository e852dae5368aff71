"""Hostile clients of ``/v1/ws`` as ``hubbub serve`` runs it: each is cut off in bounded time and
memory, and the rest of the process carries on."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

from websockets.asyncio.client import connect

from hubbub.realtime.protocol import MAX_FRAGMENTS, Outgoing
from hubbub.web.ws_asgi import QueueTransport
from tests.realtime import wire
from tests.realtime.client import RawClient
from tests.realtime.conftest import RealtimeServer, signed_in


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_thousands_of_empty_fragments_are_cut_off_without_stalling_the_process(
    hubbub_realtime_server: RealtimeServer,
) -> None:
    """One unauthenticated socket sends a text frame without FIN, then 30,000 empty
    continuation frames: the gateway counts fragments (each in constant time), closes with 4009
    after ``MAX_FRAGMENTS``, and ``/healthz`` answers promptly meanwhile."""
    base_url = hubbub_realtime_server.base_url

    async def scenario() -> tuple[int | None, float, int]:
        reader, writer = await wire.upgraded(base_url)
        writer.write(wire.client_frame(wire.TEXT, b'{"id": 1, ', fin=False))
        writer.write(wire.client_frame(wire.CONTINUATION, fin=False) * 30_000)
        await writer.drain()
        started = time.monotonic()
        status = await wire.status_of(base_url, "/healthz")
        answered = time.monotonic() - started
        code = await wire.close_code(reader)
        writer.close()
        return code, answered, status

    code, answered, status = run(scenario())
    assert code == 4009
    assert status == 200
    assert answered < 2.0  # the quadratic re-count took seconds


def test_a_fragmented_message_within_the_limits_is_handled(
    hubbub_realtime_server: RealtimeServer,
) -> None:
    """The cap is on fragments beyond what a client may use: a message in ``MAX_FRAGMENTS``
    parts is put together and answered."""
    token = hubbub_realtime_server.mint("alice")
    message = f'{{"id": 1, "type": "authenticate", "token": "{token}"}}'.encode()
    cut = len(message) // 2

    async def scenario() -> bytes:
        reader, writer = await wire.upgraded(hubbub_realtime_server.base_url)
        writer.write(wire.client_frame(wire.TEXT, message[:cut], fin=False))
        empty = wire.client_frame(wire.CONTINUATION, fin=False)
        writer.write(empty * (MAX_FRAGMENTS - 2))
        writer.write(wire.client_frame(wire.CONTINUATION, message[cut:]))
        _, reply = await asyncio.wait_for(wire.read_frame(reader), 5)
        writer.close()
        return reply

    reply = run(scenario())
    assert b'"ok":true' in reply


def _address(base_url: str) -> tuple[str, int]:
    host, port = base_url.removeprefix("http://").split(":")
    return host, int(port)


def _output_of(server: RealtimeServer) -> tuple[int, bool | None]:
    """What the server holds for its one connection, in bytes, and whether it reads that
    connection's socket (None: the ASGI server's business); asked on the server's loop."""

    async def probe() -> tuple[int, bool | None]:
        (link,) = server.node.links
        transport: Any = link.transport
        if isinstance(transport, QueueTransport):  # ASGI: the writer's queue
            items = list(transport.queue._queue)  # type: ignore[attr-defined]
            return sum(len(item.data) for item in items if isinstance(item, Outgoing)), None
        sock = transport.transport
        corked = sum(map(len, transport.out or ()))
        return corked + sock.get_write_buffer_size(), sock.is_reading()

    loop = server.node.loop
    assert loop is not None
    return asyncio.run_coroutine_threadsafe(probe(), loop).result(10)


def test_a_client_that_does_not_read_is_not_read_from(realtime_server: RealtimeServer) -> None:
    """A client asks for page after page of big messages and reads none of the replies: past
    ``output_pause`` bytes waiting for it the server stops reading its commands, so what it
    holds stays near one reply, not 60; once the client reads, every command is answered."""
    commands = 60

    async def scenario() -> tuple[int, list[bool | None], int]:
        # A small receive buffer (no autotuning) and no compression: what the client does not
        # read stays in the server, not in the kernel's buffers (tens of MB on loopback).
        sock = socket.create_connection(_address(realtime_server.base_url))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        client = RawClient(
            await connect(realtime_server.url, sock=sock, max_size=4 << 20, compression=None)
        )
        assert (await client.authenticate(realtime_server.mint("hoarder")))["ok"]
        assert (await client.command("create_channel", unique_name="big"))["ok"]
        for _ in range(25):
            sent = await client.command("send_message", channel="big", body="x" * 30_000)
            assert sent["ok"], sent
        client.socket.transport.pause_reading()  # and never read a reply
        for number in range(commands):
            frame = {"id": 1000 + number, "type": "get_messages", "channel": "big"}
            await client.socket.send(json.dumps(frame))
        most, reading = 0, []
        deadline = time.monotonic() + 1.5  # ample for 60 replies of ~800 KB without the bound
        while time.monotonic() < deadline:
            held, reads = await asyncio.to_thread(_output_of, realtime_server)
            most = max(most, held)
            reading.append(reads)
            await asyncio.sleep(0.02)
        client.socket.transport.resume_reading()
        answered = 0
        while answered < commands:
            frame = await client.next_frame(10)
            if frame.get("id", 0) >= 1000:
                assert frame["ok"], frame
                answered += 1
        await client.socket.close()
        return most, reading, answered

    most, reading, answered = run(scenario())
    assert most <= 4 << 20  # the output limit; ~45 MB without the bound
    assert reading[-1] is not True  # the hubbub protocol paused reading
    assert answered == commands


def test_a_client_that_stops_reading_and_leaves_is_let_go(realtime_server: RealtimeServer) -> None:
    """A client whose output backs up past the pause, and which then drops its connection or is
    cut off, leaves the server: its session ends and it no longer counts as connected."""

    async def scenario() -> None:
        sock = socket.create_connection(_address(realtime_server.base_url))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        client = RawClient(
            await connect(realtime_server.url, sock=sock, max_size=4 << 20, compression=None)
        )
        assert (await client.authenticate(realtime_server.mint("leaver")))["ok"]
        assert (await client.command("create_channel", unique_name="heavy"))["ok"]
        for _ in range(25):
            assert (await client.command("send_message", channel="heavy", body="y" * 30_000))["ok"]
        client.socket.transport.pause_reading()
        for number in range(60):
            frame = {"id": 1000 + number, "type": "get_messages", "channel": "heavy"}
            await client.socket.send(json.dumps(frame))
        # Let the server fall behind (through ASGI it may hand everything to the server's own
        # buffers instead); then leave, however far behind it is.
        deadline = time.monotonic() + 5
        while (await asyncio.to_thread(_output_of, realtime_server))[0] <= 256 * 1024:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        client.socket.transport.abort()
        node = realtime_server.node
        deadline = time.monotonic() + 15
        while await asyncio.to_thread(lambda: bool(node.links)):
            assert time.monotonic() < deadline, "the connection was never let go"
            await asyncio.sleep(0.05)

    run(scenario())


def test_sessions_per_identity_are_limited(realtime_server: RealtimeServer) -> None:
    """One identity's sessions on a process are bounded: the one over gets 20429 and 1013; once
    one closes, a new one is let in. Other identities are not affected."""
    realtime_server.node.sessions_per_identity = 3

    async def scenario() -> None:
        async with signed_in(realtime_server, "alice", "alice", "alice", "bob") as clients:
            extra = await RawClient.open(realtime_server.url)
            refused = await extra.authenticate(realtime_server.mint("alice"))
            assert refused["ok"] is False
            assert refused["error"]["code"] == 20429
            assert refused["error"]["status"] == 429
            assert await extra.close_code() == 1013
            await clients[0].socket.close()
            for _ in range(100):  # the server sees the close soon after
                again = await RawClient.open(realtime_server.url)
                reply = await again.authenticate(realtime_server.mint("alice"))
                if reply["ok"]:
                    break
                await asyncio.sleep(0.05)
            assert reply["ok"], reply
            assert (await again.command("ping"))["ok"]
            await again.socket.close()

    run(scenario())
