"""Hostile clients of ``/v1/ws`` as ``hubbub serve`` runs it: each is cut off in bounded time and
memory, and the rest of the process carries on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hubbub.realtime.protocol import MAX_FRAGMENTS
from tests.realtime import wire
from tests.realtime.conftest import RealtimeServer


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
