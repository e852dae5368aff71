"""Reachability: a user is online while they have a connection to this process.

The first connection of a user marks them online, the last to close marks them offline. The
writes of one user run one at a time, in the order they were asked for, so that a late
"offline" (in the thread pool, on PostgreSQL) cannot land after the next connection's
"online"; an "offline" is dropped if the user came back meanwhile.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from hubbub.chat.events import Event
from hubbub.realtime.commands import Commands, Identity
from hubbub.realtime.executor import Executor
from hubbub.realtime.hub import Hub

log = logging.getLogger("hubbub.gateway")
_Change = tuple[Commands, Identity, list[str], bool]


class Presence:
    __slots__ = ("_executor", "_hub", "_publish", "_queues")

    def __init__(
        self, hub: Hub, executor: Executor, publish: Callable[[list[Event]], None]
    ) -> None:
        self._hub = hub
        self._executor = executor
        self._publish = publish
        self._queues: dict[tuple[str, str], deque[_Change]] = {}

    def change(self, commands: Commands, who: Identity, channels: list[str], online: bool) -> None:
        """Record that ``who`` came online or went offline, and tell their channels."""
        key = (who.service_sid, who.identity)
        queue = self._queues.get(key)
        if queue is not None:
            queue.append((commands, who, channels, online))
            return
        self._queues[key] = deque()
        self._run(key, (commands, who, channels, online))

    def _run(self, key: tuple[str, str], change: _Change) -> None:
        commands, who, channels, online = change
        if not online and self._hub.has_user(*key):
            self._next(key)
            return
        self._executor.submit(
            commands.set_online, (who, channels, online), lambda done: self._done(key, done)
        )

    def _done(self, key: tuple[str, str], events: Any) -> None:
        if isinstance(events, Exception):
            log.error("recording reachability failed", exc_info=events)
        else:
            self._publish(events)
        self._next(key)

    def _next(self, key: tuple[str, str]) -> None:
        queue = self._queues[key]
        if queue:
            self._run(key, queue.popleft())
        else:
            del self._queues[key]
