"""Reachability: a user is online while any of their connections is open, on any node.

This process is one node: it holds a lease in the store, renewed every ``RENEW`` seconds, and
the store records which users it has connections of (``Store.join_presence``). The first
connection of a user here joins, the last one to close leaves; the store says whether that
made them reachable or not anywhere. A node that stops renewing (killed, cut off) is expired
by the others within ``LEASE`` + ``RENEW`` seconds, and the users only it had go offline.

The writes of one user run one at a time, in the order they were asked for, so that a late
"leave" (in the thread pool, on PostgreSQL) cannot land after the next connection's "join";
a "leave" is dropped if the user came back here meanwhile.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from hubbub.chat import users
from hubbub.chat.events import Event
from hubbub.chat.render import Urls
from hubbub.realtime.commands import Commands, Identity
from hubbub.realtime.executor import Executor
from hubbub.realtime.hub import Hub
from hubbub.store import Store

log = logging.getLogger("hubbub.gateway")
#: Seconds a node's lease lasts, and how often it is renewed (and others' looked at).
LEASE = 6.0
RENEW = 2.0
_Change = tuple[Commands, Identity, list[str], bool]
#: A user connected here: the commands of one of their connections, who, their channels.
_Held = tuple[Commands, Identity, list[str]]


class Presence:
    __slots__ = (
        "_clock",
        "_executor",
        "_hub",
        "_publish",
        "_queues",
        "_renewing",
        "_store",
        "_urls",
        "node",
    )

    def __init__(
        self,
        store: Store,
        hub: Hub,
        executor: Executor,
        publish: Callable[[list[Event]], None],
        clock: Callable[[], float],
        urls: Callable[[], Urls],
    ) -> None:
        """``urls`` gives where the URLs of a push about a user who went away point."""
        self._store = store
        self._hub = hub
        self._executor = executor
        self._publish = publish
        self._clock = clock
        self._urls = urls
        self._queues: dict[tuple[str, str], deque[_Change]] = {}
        self._renewing = False
        #: This process's name among the nodes sharing the store.
        self.node = uuid.uuid4().hex

    def change(self, commands: Commands, who: Identity, channels: list[str], online: bool) -> None:
        """``who``'s first connection here opened (``online``), or their last one closed."""
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
        now = self._clock()
        args = (commands.core, who.actor, channels, online)
        self._executor.submit(
            lambda: users.set_online(*args, node=self.node, now=now, lease_until=now + LEASE),
            (),
            lambda done: self._done(key, done),
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

    # -- leases ------------------------------------------------------------------------------
    def renew(self, core: Any, holders: Callable[[], list[_Held]]) -> None:
        """Renew this node's lease and expire the nodes gone silent (every ``RENEW`` seconds).
        ``holders`` gives a connection of each user here, to join them all again should the
        lease have lapsed (a stalled process, clocks apart: others took this node for dead)."""
        if self._renewing:  # the last round is still in the thread pool
            return
        self._renewing = True
        now = self._clock()
        self._executor.submit(self._lease, (core, now), lambda done: self._leased(done, holders))

    def _lease(self, core: Any, now: float) -> tuple[bool, list[Event]]:
        kept = self._store.renew_presence(self.node, lease_until=now + LEASE)
        gone = self._store.expire_presence(now=now)
        urls = self._urls()
        events = [e for account, user in gone for e in users.went_away(core, account, user, urls)]
        return kept, events

    def _leased(self, done: Any, holders: Callable[[], list[_Held]]) -> None:
        self._renewing = False
        if isinstance(done, Exception):
            log.error("renewing this node's presence lease failed", exc_info=done)
            return
        kept, events = done
        self._publish(events)
        if not kept:
            for commands, who, channels in holders():
                self.change(commands, who, channels, True)

    def leave(self, core: Any) -> list[Event]:
        """This node stops: everyone it had who is nowhere else goes offline at once."""
        gone = self._store.expire_presence(now=self._clock(), nodes=[self.node])
        urls = self._urls()
        return [e for account, user in gone for e in users.went_away(core, account, user, urls)]
