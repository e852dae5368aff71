"""Fan-out: a broker carries events between server processes, a hub to local connections.

The ``Broker`` interface is small so that the Redis-backed broker (``redis_broker``, for several
processes or machines) stands beside the in-process one; every event goes through it, including
those of the process that caused them, so one node and many behave alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

from hubbub.chat.events import Event
from hubbub.realtime.protocol import CloseCode, Outgoing


class Connection(Protocol):
    """What the hub needs of a connection: its identity and a way to hand it a frame (encoded
    once for all its recipients)."""

    @property
    def service_sid(self) -> str: ...

    @property
    def identity(self) -> str: ...

    def push(self, frame: Outgoing) -> None: ...

    def end(self, code: CloseCode, reason: str) -> None: ...


class Broker(Protocol):
    def publish(self, event: Event) -> None:
        """Deliver ``event`` to this process's subscribers at once, and to other processes'."""

    def subscribe(self, deliver: Callable[[Event], None]) -> None: ...

    async def start(self) -> None:
        """Begin the broker's background work (the app's startup)."""

    async def close(self) -> None:
        """End it (the app's shutdown)."""

    def watch_lag(self, observe: Callable[[float], None]) -> None:
        """Report how long events from other processes took to arrive (if any come)."""

    def watch_gaps(self, notice: Callable[[], None]) -> None:
        """Be told when events from other processes may have been lost (the broker lost its
        connection, and has it back)."""


class MemoryBroker:
    """The broker of a single process: publishing is delivering."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[Event], None]] = []

    def publish(self, event: Event) -> None:
        for deliver in self._subscribers:
            deliver(event)

    def subscribe(self, deliver: Callable[[Event], None]) -> None:
        self._subscribers.append(deliver)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def watch_lag(self, observe: Callable[[float], None]) -> None:
        pass  # nothing comes from elsewhere

    def watch_gaps(self, notice: Callable[[], None]) -> None:
        pass  # nor is anything lost on the way


class Hub:
    """The connections of this process, indexed by service, user and channel."""

    def __init__(self) -> None:
        self._by_service: defaultdict[str, set[Connection]] = defaultdict(set)
        self._by_user: defaultdict[tuple[str, str], set[Connection]] = defaultdict(set)
        self._by_channel: defaultdict[str, set[Connection]] = defaultdict(set)
        self._channels_of: defaultdict[Connection, set[str]] = defaultdict(set)
        #: Connections following Sync objects (twilsock's), and the objects each follows.
        self._by_object: defaultdict[str, set[Connection]] = defaultdict(set)
        self._objects_of: defaultdict[Connection, set[str]] = defaultdict(set)

    def add(self, connection: Connection, channel_sids: list[str]) -> None:
        self._by_service[connection.service_sid].add(connection)
        self._by_user[(connection.service_sid, connection.identity)].add(connection)
        for sid in channel_sids:
            self._join(connection, sid)

    def remove(self, connection: Connection) -> None:
        self._discard(self._by_service, connection.service_sid, connection)
        self._discard(self._by_user, (connection.service_sid, connection.identity), connection)
        for sid in self._channels_of.pop(connection, set()):
            self._discard(self._by_channel, sid, connection)
        for sid in self._objects_of.pop(connection, set()):
            self._discard(self._by_object, sid, connection)

    def follow(self, connection: Connection, object_sid: str) -> None:
        """``connection`` hears the events of the Sync object ``object_sid``."""
        self._by_object[object_sid].add(connection)
        self._objects_of[connection].add(object_sid)

    def follows(self, connection: Connection, object_sid: str) -> bool:
        return object_sid in self._objects_of.get(connection, ())

    def unfollow(self, connection: Connection, object_sid: str) -> None:
        self._discard(self._by_object, object_sid, connection)
        followed = self._objects_of.get(connection)
        if followed is not None:
            followed.discard(object_sid)

    def has_user(self, service_sid: str, identity: str) -> bool:
        return bool(self._by_user.get((service_sid, identity)))

    def sessions_of(self, service_sid: str, identity: str) -> int:
        return len(self._by_user.get((service_sid, identity), ()))

    def channels_of(self, connection: Connection) -> list[str]:
        return sorted(self._channels_of.get(connection, ()))

    def connections(self) -> int:
        return sum(len(connections) for connections in self._by_service.values())

    def deliver(self, event: Event) -> None:
        """Hand ``event`` to the connections of its audience, first changing subscriptions as
        it says (``follow``); an event that ends sessions ends them instead (4004)."""
        kind, *key = event.audience
        if kind == "nobody":  # news for the processes themselves (their caches), not clients
            return
        if kind == "channel":
            targets = self._by_channel.get(key[0], set())
        elif kind == "object":
            targets = self._by_object.get(key[0], set())
        elif kind == "user":
            targets = self._by_user.get((key[0], key[1]), set())
        elif kind == "peers":
            targets = set(self._by_user.get((key[0], key[1]), ()))
            for sid in key[2:]:
                targets.update(self._by_channel.get(sid, ()))
        else:
            targets = self._by_service.get(key[0], set())
        if event.ends_sessions is not None:
            for connection in list(targets):
                connection.end(CloseCode.GONE, event.ends_sessions)
            return
        follow = event.follow
        if follow is not None and follow[0] != "close":
            for connection in list(targets):
                if follow[0] == "join":
                    self._join(connection, follow[1])
                else:
                    self._discard(self._by_channel, follow[1], connection)
                    self._channels_of[connection].discard(follow[1])
        outgoing = Outgoing(event.frame)
        for connection in list(targets):
            connection.push(outgoing)
        if follow is not None and follow[0] == "close":
            for connection in self._by_channel.pop(follow[1], set()):
                self._channels_of[connection].discard(follow[1])
        for rider in event.riders:
            self.deliver(rider)

    def _join(self, connection: Connection, channel_sid: str) -> None:
        self._by_channel[channel_sid].add(connection)
        self._channels_of[connection].add(channel_sid)

    @staticmethod
    def _discard(
        index: defaultdict[Any, set[Connection]], key: Any, connection: Connection
    ) -> None:
        members = index.get(key)
        if members is not None:
            members.discard(connection)
            if not members:
                del index[key]
