"""The emitter: in order, sync and async callbacks, failures contained."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hubbub.client.events import Emitter


def test_callbacks_run_in_order_sync_and_async() -> None:
    seen: list[str] = []

    async def scenario() -> None:
        emitter = Emitter()

        async def slow(value: int) -> None:
            await asyncio.sleep(0.01 if value == 1 else 0)
            seen.append(f"async {value}")

        emitter.on("message_added", slow)
        emitter.on("message_added", lambda value: seen.append(f"sync {value}"))
        emitter.on("token_expired", lambda: seen.append("expired"))
        emitter.emit("message_added", 1)
        emitter.emit("token_expired")
        emitter.emit("message_added", 2)
        await emitter.close()

    asyncio.run(scenario())
    assert seen == ["async 1", "sync 1", "expired", "async 2", "sync 2"]


def test_a_failing_callback_is_logged_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[int] = []

    def broken(value: int) -> None:
        raise RuntimeError("oops")

    async def scenario() -> None:
        emitter = Emitter()
        emitter.on("message_added", broken)
        emitter.on("message_added", seen.append)
        emitter.emit("message_added", 1)
        emitter.emit("message_added", 2)
        await emitter.close()

    with caplog.at_level(logging.ERROR, logger="hubbub.client"):
        asyncio.run(scenario())
    assert seen == [1, 2]
    assert caplog.text.count("a message_added callback raised") == 2


def test_off_removes_a_callback() -> None:
    seen: list[int] = []

    async def scenario() -> None:
        emitter = Emitter()
        emitter.on("message_added", seen.append)
        emitter.emit("message_added", 1)
        async with asyncio.timeout(10):  # delivered by the emitter's task once this one yields
            while not seen:
                await asyncio.sleep(0)
        emitter.off("message_added", seen.append)
        emitter.off("message_added", seen.append)  # twice is harmless
        emitter.emit("message_added", 2)
        await emitter.close()

    asyncio.run(scenario())
    assert seen == [1]


def test_unknown_events_are_refused() -> None:
    with pytest.raises(ValueError, match="messageAdded"):
        Emitter().on("messageAdded", print)
