"""Event names, connection states, and the emitter that calls the application's callbacks.

Callbacks run one at a time, in the order the events happened, in a task of their own: a
callback may await client commands (their replies are read meanwhile), and one that raises is
logged without stopping the others.

| event | callback arguments |
|---|---|
| ``connection_state_changed`` | ``ConnectionState`` |
| ``token_about_to_expire`` | ``expires_at`` (Unix seconds) |
| ``token_expired`` | none |
| ``channel_added``, ``_joined``, ``_left``, ``_invited``, ``_updated``, ``_removed`` | Channel |
| ``message_added``, ``message_updated``, ``message_removed`` | ``Message`` |
| ``member_joined``, ``member_left``, ``member_updated`` | ``Member`` |
| ``typing_started``, ``typing_ended`` | ``Typing`` |
| ``user_updated`` | ``User`` |
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

log = logging.getLogger("hubbub.client")

EVENTS = frozenset(
    {
        "connection_state_changed",
        "token_about_to_expire",
        "token_expired",
        "channel_added",
        "channel_joined",
        "channel_left",
        "channel_invited",
        "channel_updated",
        "channel_removed",
        "message_added",
        "message_updated",
        "message_removed",
        "member_joined",
        "member_left",
        "member_updated",
        "typing_started",
        "typing_ended",
        "user_updated",
    }
)

#: A sync function or a coroutine function; its return value is ignored.
Callback = Callable[..., Any]


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    DENIED = "denied"


class Emitter:
    """Listeners per event, and one task that delivers queued events to them in order."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Callback]] = {}
        self._queue: asyncio.Queue[tuple[str, tuple[Any, ...]] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def on(self, event: str, callback: Callback) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        self._listeners.setdefault(event, []).append(callback)

    def off(self, event: str, callback: Callback) -> None:
        listeners = self._listeners.get(event, [])
        if callback in listeners:
            listeners.remove(callback)

    def emit(self, event: str, *args: Any) -> None:
        """Queue an event; it is delivered after those queued before it."""
        if self._task is None:
            self._task = asyncio.create_task(self._deliver(), name="hubbub-client-events")
        self._queue.put_nowait((event, args))

    async def close(self) -> None:
        """Deliver what is queued, then stop (unless called from a callback: then just stop)."""
        task = self._task
        if task is None or task.done():
            return
        self._queue.put_nowait(None)
        if task is not asyncio.current_task():
            await task

    async def _deliver(self) -> None:
        while (item := await self._queue.get()) is not None:
            event, args = item
            for callback in list(self._listeners.get(event, ())):
                try:
                    result = callback(*args)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("a %s callback raised", event)
