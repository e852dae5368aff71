"""One connection's share of the real-time node: its session, its timer, its place in the hub.

A ``Link`` drives its ``Session`` with the frames its adapter feeds it, whichever adapter
(hubbub's own uvicorn protocol, or ASGI) and whichever store: each frame's work runs through
the node's executor (on the loop for SQLite, in the thread pool for PostgreSQL), one frame at
a time, and a message waits for its group commit before the next frame is handled. The
adapter provides a ``Transport``: how to push a frame, close, keep an idle socket alive, and
whether too much output waits for the client: then its frames wait too (the adapter stops
reading its socket) until the adapter says it has read enough (``release``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from hubbub.chat.errors import TOO_MANY_REQUESTS, ApiError
from hubbub.chat.users import channel_sids
from hubbub.realtime.commands import Commands
from hubbub.realtime.node import Node
from hubbub.realtime.protocol import CloseCode, Outgoing
from hubbub.realtime.session import Send, Session, Step
from hubbub.realtime.timers import Entry, Timers

log = logging.getLogger("hubbub.gateway")


class Transport(Protocol):
    def push(self, frame: Outgoing) -> None:
        """Send ``frame`` (encoded once for all its recipients)."""

    def end(self, code: CloseCode, reason: str) -> None:
        """Close the connection with ``code``."""

    def keepalive(self, now: float) -> None:
        """Called every ``PING_INTERVAL`` seconds."""

    def backlogged(self) -> bool:
        """Whether more output waits for the client than ``node.output_pause``: its commands
        wait until it has read some (the adapter then calls ``Link.release``)."""


class Link:
    """What the hub sees of a connection, and what drives its session."""

    # Thousands of these live at once: no per-instance __dict__.
    __slots__ = (
        "_busy",
        "_draining",
        "_inbox",
        "_settled",
        "_timer",
        "_when",
        "key_sid",
        "node",
        "push",
        "registered",
        "session",
        "transport",
    )

    def __init__(
        self,
        node: Node,
        commands: Commands,
        transport: Transport,
        session: Session | None = None,
    ) -> None:
        """``session``: another protocol's state machine with ``Session``'s contract
        (``twilsock.session``); hubbub's own by default."""
        self.node = node
        self.transport = transport
        #: What the hub calls for every event this connection hears: the transport's own
        #: method, with no call of ours between (fan-out makes thousands a message).
        self.push: Callable[[Outgoing], None] = transport.push
        self.session = session or Session(commands, now=node.clock(), warning=node.warning)
        self.registered = False
        #: The API key of the token in force, under which ``by_key`` files this link.
        self.key_sid = ""
        self._timer: Entry | None = None
        self._when = float("inf")
        #: Frames that came while one was being handled (or its message stored).
        self._inbox: deque[str | bytes] | None = None
        self._busy = False
        self._draining = False
        self._settled: asyncio.Future[None] | None = None

    # -- what the hub sees --------------------------------------------------------------------
    @property
    def service_sid(self) -> str:
        who = self.session.who
        return who.service_sid if who else ""

    @property
    def identity(self) -> str:
        who = self.session.who
        return who.identity if who else ""

    def end(self, code: CloseCode, reason: str) -> None:
        self.session.closed = True
        self.transport.end(code, reason)

    def missed(self) -> None:
        """Events meant for this connection may have been lost on their way from another
        process. hubbub's own protocol has no replay to offer: its clients catch up on what
        they show when they next reconnect."""

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        node = self.node
        if node.loop is None:
            node.loop = asyncio.get_running_loop()
        node.links.add(self)
        node.metrics.connections.inc()
        self._rearm()

    def feed(self, text: str | bytes) -> None:
        """A frame from the client: handled now, or after those before it."""
        inbox = self._inbox
        if self._busy or self._draining or inbox or self.transport.backlogged():
            # Behind the frames that wait, whatever made them wait: commands keep their order.
            if inbox is None:
                inbox = self._inbox = deque()
            inbox.append(text)
            if not self._busy and not self._draining:
                self._drain()
            return
        self._handle(text)

    def closed(self) -> None:
        """The connection is gone: leave the hub, and if this was the user's last connection
        here, mark them offline."""
        session = self.session
        session.closed = True
        self._inbox = None
        self._busy = False
        self._settle()
        node = self.node
        if self in node.links:
            node.links.discard(self)
            node.metrics.connections.dec()
        Timers.cancel(self._timer)
        self._timer = None
        who = session.who
        if not self.registered or who is None:
            return
        self.registered = False
        channels = node.hub.channels_of(self)
        node.hub.remove(self)
        self._unfile()
        if not node.hub.has_user(who.service_sid, who.identity):
            node.presence.change(session.commands, who, channels, False)

    async def settled(self) -> None:
        """Until every frame fed so far is handled (the ASGI adapter reads on after)."""
        if self._busy or self._inbox:
            self._settled = asyncio.get_running_loop().create_future()
            await self._settled

    def _settle(self) -> None:
        settled = self._settled
        if settled is not None and not (self._busy or self._inbox):
            self._settled = None
            if not settled.done():
                settled.set_result(None)

    # -- one frame -----------------------------------------------------------------------------
    def _handle(self, text: str | bytes) -> None:
        self._busy = True
        self.node.executor_for(self.session.who).submit(
            self._work, (text, self.node.clock()), self._worked
        )

    def _work(self, text: str | bytes, now: float) -> tuple[Step, list[str] | None]:
        """The store's part of a frame (in the executor): the session's step and, the first
        time it is authenticated, the channels to hear."""
        session = self.session
        step = session.receive(text, now, defer=True)  # type: ignore[arg-type]
        who = session.who
        channels = None
        if who is not None and not self.registered:
            channels = channel_sids(self.node.store, who.service_sid, who.identity)
        return step, channels

    def _worked(self, result: Any) -> None:
        try:
            if isinstance(result, Exception):
                raise result
            self._finish(*result)
        except Exception:
            log.exception("a real-time command failed")
            self._busy = False
            self._inbox = None
            self.end(CloseCode.SERVER_ERROR, "server error")
            self._settle()

    def _finish(self, step: Step, channels: list[str] | None) -> None:
        first = False
        if channels is not None and not self.session.closed:
            if self._crowded():
                step = self.session.turn_away(step, self._crowded_error())
            else:
                first = self._register(channels)
        # The reply first: a client learns who it is before news about itself.
        self.perform(step)
        who = self.session.who
        if first and who is not None:
            self.node.presence.change(self.session.commands, who, channels or [], True)
        self._follow_key()
        if step.pending is not None and not self.session.closed:
            self.node.commits.add(self, step.pending)  # resume() once it is answered
        else:
            self.resume()

    def resume(self) -> None:
        """This link's frame (or its message) is done: handle what came in meanwhile."""
        self._busy = False
        self.release()

    def release(self) -> None:
        """Handle the frames that wait, unless one is in hand or the output is backlogged."""
        if self._inbox and not self._busy and not self._draining:
            self._drain()
        self._settle()

    def _drain(self) -> None:
        self._draining = True
        try:
            inbox = self._inbox
            transport = self.transport
            while inbox and not self._busy and not self.session.closed:
                if transport.backlogged():
                    break
                self._handle(inbox.popleft())
            if self.session.closed and inbox:
                inbox.clear()
        finally:
            self._draining = False

    def perform(self, step: Step) -> None:
        """Carry out ``step``: send its frames or close, and publish its events."""
        for action in step.actions:
            if isinstance(action, Send):
                frame = action.frame
                self.transport.push(frame if isinstance(frame, Outgoing) else Outgoing(frame))
            else:
                self.end(action.code, action.reason)
        if step.events:
            self.node.publish(step.events)
        self._rearm()

    # -- the hub and the key index -------------------------------------------------------------
    def _crowded(self) -> bool:
        """Whether this session's identity has as many sessions here as it may."""
        who = self.session.who
        node = self.node
        return (
            who is not None
            and node.hub.sessions_of(who.service_sid, who.identity) >= node.sessions_per_identity
        )

    def _crowded_error(self) -> ApiError:
        limit = self.node.sessions_per_identity
        return ApiError(
            429,
            TOO_MANY_REQUESTS,
            f"this identity has {limit} sessions open on this server, the most it may; "
            "close one, then connect again",
        )

    def _register(self, channels: list[str]) -> bool:
        """Join the hub; whether this is the user's first connection here."""
        who = self.session.who
        if who is None:  # pragma: no cover - called once authenticated
            raise RuntimeError("register before authenticate")
        node = self.node
        first = not node.hub.has_user(who.service_sid, who.identity)
        node.hub.add(self, channels)
        self.key_sid = who.key_sid
        node.by_key.setdefault(who.key_sid, set()).add(self)
        self.registered = True
        return first

    def _follow_key(self) -> None:
        """After ``update_token`` to a token of another API key, file the link under that key,
        so that revoking either key ends exactly the sessions whose token it signed."""
        who = self.session.who
        if not self.registered or who is None or who.key_sid == self.key_sid:
            return
        self._unfile()
        self.key_sid = who.key_sid
        self.node.by_key.setdefault(who.key_sid, set()).add(self)

    def _unfile(self) -> None:
        by_key = self.node.by_key
        links = by_key.get(self.key_sid)
        if links is not None:
            links.discard(self)
            if not links:
                del by_key[self.key_sid]

    # -- deadlines -----------------------------------------------------------------------------
    def _rearm(self) -> None:
        if self.session.closed:
            Timers.cancel(self._timer)
            self._timer = None
            return
        when = self.session.next_deadline()
        if when != self._when:
            Timers.cancel(self._timer)
            self._when = when
            self._timer = self.node.schedule(when, self._deadline)

    def _deadline(self) -> None:
        self._timer = None
        self._when = float("inf")
        self.perform(self.session.tick(self.node.clock()))
