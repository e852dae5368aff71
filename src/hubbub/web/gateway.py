"""The WebSocket endpoint ``/v1/ws``: thin adapters between the network and ``Session``.

Two adapters share one core (``Link``, one per connection, and ``Realtime``, one per process):

- ``WebSocketProtocol`` is the one ``hubbub serve`` uses: uvicorn hands it the socket when a
  request asks for the WebSocket upgrade (its ``ws=`` protocol class), and it speaks WebSocket
  itself through the sans-I/O ``websockets`` protocol, skipping ASGI. A connection is then a
  few objects and no task: frames are handled as they arrive (SQLite work runs on the loop,
  see web/endpoint.py), and a push is one pre-built frame written straight to the socket.
  A client that reads too slowly is cut off (1013) once 1,000 frames wait beyond the socket's
  buffer, rather than buffering without end.
- ``serve`` is the Starlette endpoint behind ``create_app``'s ``/v1/ws`` route, for tests,
  embedders and other ASGI servers: a reading task and a writing task fed by a bounded queue.

Every deadline (authentication, token warning and expiry, typing) lives in one heap per
process (``realtime.timers``); one sweep a second ends the sessions whose API key was revoked.
On SQLite, the messages sent over ``WebSocketProtocol`` connections in one turn of the loop are
stored in one transaction (group commit), and each sender is answered after that commit; a
connection's later frames wait for its message, so its commands keep their order. On PostgreSQL
the messages waiting are stored one transaction at a time in the thread pool, so there too they
are answered and pushed in the order of their indexes. Output is gathered per connection and
written once per turn of the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from hubbub.realtime.cache import Lookups
from hubbub.realtime.chat import Chat, Event, channel_sids
from hubbub.realtime.hub import Broker, Hub
from hubbub.realtime.protocol import MAX_FRAME, CloseCode, Outgoing
from hubbub.realtime.session import KEY_CHECK_INTERVAL, Close, Pending, Send, Session, Step
from hubbub.realtime.timers import Entry, Timers
from hubbub.service.keys import KeyRing
from hubbub.store import Store
from hubbub.store.errors import NotFound
from hubbub.store.records import Message, NewMessage
from hubbub.web.render import Urls

log = logging.getLogger("hubbub.gateway")

#: Frames waiting for a slow client before it is cut off.
QUEUE_LIMIT = 1000
#: Idle connections are pinged this often; one silent for two rounds is dropped.
PING_INTERVAL = 30.0
#: Frames larger than this are refused by the WebSocket layer itself (1009) before they are
#: buffered whole; frames over ``MAX_FRAME`` and up to this get the protocol's 4009.
WIRE_LIMIT = 1 << 20
_CHAT_CACHE = 64
_PING = bytes((0x89, 0))  # an empty ping frame, unmasked (server to client)


class KeyedLocks:
    """An ``asyncio.Lock`` per key, kept only while someone holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[Any, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass(slots=True)
class Realtime:
    """What the gateway shares across the connections of one process."""

    store: Store
    keys: KeyRing
    hub: Hub
    broker: Broker
    inline: bool
    warning: float
    clock: Callable[[], float] = time.time
    #: permessage-deflate for clients that offer it (costs ~35 KiB of zlib state a connection).
    compression: bool = False
    #: Frames that may wait for a slow reader beyond the socket's buffer before it is cut off.
    queue_limit: int = QUEUE_LIMIT
    timers: Timers = field(default_factory=Timers)
    by_key: dict[str, set[Link]] = field(default_factory=dict)
    links: set[Link] = field(default_factory=set)
    typing: dict[tuple[str, str], Entry] = field(default_factory=dict)
    _chats: dict[str, Chat] = field(default_factory=dict)
    _handle: asyncio.TimerHandle | None = None
    _armed: float = float("inf")
    _sweeping: bool = False
    _last_ping: float = 0.0
    lookups: Lookups = field(init=False)
    #: Whether ``send_message`` is stored by group commit on the loop (SQLite).
    group_commit: bool = field(init=False)
    _batch: list[tuple[WebSocketProtocol, Pending]] = field(default_factory=list)
    #: Messages waiting for the next transaction in the thread pool (PostgreSQL).
    _waiting: list[tuple[Link, Pending, asyncio.Future[None]]] = field(default_factory=list)
    _committing: bool = False
    _corked: list[WebSocketProtocol] = field(default_factory=list)
    #: The loop the connections, the hub and the broker live on: set when the app starts, or
    #: by the first connection.
    loop: asyncio.AbstractEventLoop | None = None
    #: Off the loop (PostgreSQL), a user's "online" and "offline" are written one at a time,
    #: so that a connection's late "offline" cannot land after the next one's "online".
    presence: KeyedLocks = field(default_factory=KeyedLocks)

    def __post_init__(self) -> None:
        self.lookups = Lookups(self.store)
        self.broker.subscribe(self.lookups.observe)
        # On SQLite, ``WebSocketProtocol`` connections hand their messages to ``enqueue`` (the
        # store runs on the loop); elsewhere messages go through ``store_in_order``.
        self.group_commit = self.inline

    def publish_from_any_thread(self, event: Event) -> None:
        """``broker.publish`` for REST handlers, which run in the thread pool on PostgreSQL:
        the hub and the broker are the event loop's, so the event is handed over to it."""
        loop = self.loop
        if loop is not None and not _running(loop):
            loop.call_soon_threadsafe(self.broker.publish, event)
        else:  # on the loop, or no loop yet, so no connection either
            self.broker.publish(event)

    # -- writes ----------------------------------------------------------------------------------
    def cork(self, link: WebSocketProtocol) -> None:
        """``link`` has output: write it, all in one, once this turn of the loop is done (a
        busy sender's reply and the echoes of its channel go out in one system call)."""
        if not self._corked:
            asyncio.get_running_loop().call_soon(self._uncork)
        self._corked.append(link)

    def _uncork(self) -> None:
        corked, self._corked = self._corked, []
        for link in corked:
            link.uncork()

    # -- group commit --------------------------------------------------------------------------
    def enqueue(self, link: WebSocketProtocol, pending: Pending) -> None:
        """Store ``pending`` with the others that arrive in this turn of the loop, in one
        transaction; each sender hears back after the commit."""
        if not self._batch:
            asyncio.get_running_loop().call_soon(self._commit)
        self._batch.append((link, pending))

    def _commit(self) -> None:
        batch, self._batch = self._batch, []
        results = store_batch(self.store, [pending.draft.row() for _, pending in batch])
        _complete([(link, pending) for link, pending in batch], results)
        for link, _ in batch:
            link.resume()

    async def store_in_order(self, link: Link, pending: Pending) -> None:
        """For stores whose calls block (PostgreSQL): store ``pending`` with the messages of
        other connections waiting meanwhile, one transaction at a time in the thread pool. With
        one commit in flight, messages are answered and pushed in the order of their indexes,
        as group commit on the loop does."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((link, pending, future))
        if not self._committing:
            self._committing = True
            asyncio.get_running_loop().create_task(self._commit_in_threads())
        await future

    async def _commit_in_threads(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                rows = [pending.draft.row() for _, pending, _ in batch]
                try:
                    results = await run_in_threadpool(store_batch, self.store, rows)
                    _complete([(link, pending) for link, pending, _ in batch], results)
                finally:
                    for _, _, future in batch:
                        if not future.done():
                            future.set_result(None)
        finally:
            self._committing = False

    def chat_for(self, base_url: str) -> Chat:
        """One ``Chat`` per base URL (the Host header): not one per connection."""
        chat = self._chats.get(base_url)
        if chat is None:
            chat = Chat(self.store, self.keys, Urls(base_url), lookups=self.lookups)
            if len(self._chats) < _CHAT_CACHE:  # the Host header is the client's to choose
                self._chats[base_url] = chat
        return chat

    # -- time --------------------------------------------------------------------------------
    def schedule(self, when: float, callback: Callable[[], None]) -> Entry:
        """Call ``callback`` at ``when`` (on ``clock``) from the event loop."""
        entry = self.timers.push(when, callback)
        if not self._sweeping:
            self._sweeping = True
            sweep = self.clock() + KEY_CHECK_INTERVAL
            self.timers.push(sweep, self._sweep)
            when = min(when, sweep)
        if when < self._armed:
            self._arm(when)
        return entry

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed = when
        delay = max(0.0, when - self.clock())
        self._handle = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._armed = float("inf")
        for callback in self.timers.pop_due(self.clock()):
            try:
                callback()
            except Exception:
                log.exception("a real-time timer failed")
        upcoming = self.timers.next()
        if upcoming is not None and upcoming < self._armed:
            self._arm(upcoming)

    def _sweep(self) -> None:
        """Once a second: end the sessions whose API key is revoked; now and then, ping."""
        now = self.clock()
        self.timers.push(now + KEY_CHECK_INTERVAL, self._sweep)
        for key_sid, links in list(self.by_key.items()):
            some = next(iter(links), None)
            who = some.session.who if some is not None else None
            # Asked of the store, not the key ring's copy: a key revoked by another process
            # ends its sessions here within this second.
            self.keys.forget(key_sid)
            if who is not None and not some.session.chat.key_alive(who):  # type: ignore[union-attr]
                for link in list(links):
                    link.perform(link.session.revoke())
        if now - self._last_ping >= PING_INTERVAL:
            self._last_ping = now
            for link in list(self.links):
                link.keepalive(now)


class Link:
    """One connection's share of the core: its session, its timer, its place in the hub.

    Adapters subclass it and provide ``push`` (a frame), ``end`` (close with a code) and
    optionally ``keepalive``.
    """

    __slots__ = ("_timer", "_when", "key_sid", "realtime", "registered", "session")

    def __init__(self, realtime: Realtime, chat: Chat) -> None:
        self.realtime = realtime
        self.session = Session(chat, now=realtime.clock(), warning=realtime.warning)
        self.registered = False
        #: The API key of the token in force, under which ``by_key`` files this link.
        self.key_sid = ""
        self._timer: Entry | None = None
        self._when = float("inf")

    # -- what the hub sees --------------------------------------------------------------------
    @property
    def service_sid(self) -> str:
        who = self.session.who
        return who.service_sid if who else ""

    @property
    def identity(self) -> str:
        who = self.session.who
        return who.identity if who else ""

    def push(self, frame: Outgoing) -> None:
        raise NotImplementedError

    def end(self, code: CloseCode, reason: str) -> None:
        raise NotImplementedError

    def keepalive(self, now: float) -> None:
        """Called every ``PING_INTERVAL`` seconds."""

    # -- driving the session -------------------------------------------------------------------
    def start(self) -> None:
        if self.realtime.loop is None:
            self.realtime.loop = asyncio.get_running_loop()
        self.realtime.links.add(self)
        self._rearm()

    def receive(self, text: str) -> Pending | None:
        """Handle one text frame on the loop (SQLite: the store is called inline). A
        ``send_message`` comes back pending when the process stores messages by group commit."""
        realtime = self.realtime
        step = self.session.receive(text, realtime.clock(), defer=realtime.group_commit)
        came_online: list[Event] = []
        if self.session.who is not None and not self.registered:
            channels = _channel_sids(realtime.store, self.session)
            if self._register(channels):
                came_online = self.session.chat.set_online(self.session.who, channels, True)
        # The authenticate reply first: a client learns who it is before news about itself.
        self.perform(step)
        self.publish(came_online)
        self._follow_key()
        return step.pending

    async def receive_async(self, text: str) -> None:
        """``receive`` for stores whose calls block (PostgreSQL): they run in the thread pool,
        and a ``send_message`` is stored in order with those of other connections."""
        realtime = self.realtime
        receive = partial(self.session.receive, defer=not realtime.inline)
        step = await _call(realtime, receive, text, realtime.clock())
        who = self.session.who
        came_online: list[Event] = []
        if who is not None and not self.registered:
            channels = await _call(realtime, _channel_sids, realtime.store, self.session)
            if self._register(channels):
                async with realtime.presence.hold((who.service_sid, who.identity)):
                    came_online = await _call(
                        realtime, self.session.chat.set_online, who, channels, True
                    )
        self.perform(step)  # the authenticate reply before news about the user itself
        self.publish(came_online)
        self._follow_key()
        if step.pending is not None:
            await realtime.store_in_order(self, step.pending)

    def _register(self, channels: list[str]) -> bool:
        """Join the hub; whether this is the user's first connection here."""
        who = self.session.who
        if who is None:  # pragma: no cover - called once authenticated
            raise RuntimeError("register before authenticate")
        realtime = self.realtime
        first = not realtime.hub.has_user(who.service_sid, who.identity)
        realtime.hub.add(self, channels)
        self.key_sid = who.key_sid
        realtime.by_key.setdefault(who.key_sid, set()).add(self)
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
        self.realtime.by_key.setdefault(who.key_sid, set()).add(self)

    def _unfile(self) -> None:
        by_key = self.realtime.by_key
        links = by_key.get(self.key_sid)
        if links is not None:
            links.discard(self)
            if not links:
                del by_key[self.key_sid]

    def unregister(self) -> tuple[list[str], bool] | None:
        """Leave the hub: the channels it was in, and whether it was the user's last
        connection here (then the caller reports the user offline); None if never joined."""
        realtime = self.realtime
        realtime.links.discard(self)
        Timers.cancel(self._timer)
        self._timer = None
        who = self.session.who
        if not self.registered or who is None:
            return None
        self.registered = False
        channels = realtime.hub.channels_of(self)
        realtime.hub.remove(self)
        self._unfile()
        return channels, not realtime.hub.has_user(who.service_sid, who.identity)

    def went_offline(self, channels: list[str]) -> None:
        who = self.session.who
        if who is not None:
            self.publish(self.session.chat.set_online(who, channels, False))

    async def went_offline_async(self, channels: list[str]) -> None:
        """``went_offline`` for stores whose calls block: unless the user came back meanwhile
        (their new connection's "online" may already be written; see ``presence``)."""
        who = self.session.who
        if who is None:
            return
        realtime = self.realtime
        async with realtime.presence.hold((who.service_sid, who.identity)):
            if realtime.hub.has_user(who.service_sid, who.identity):
                return
            events = await _call(realtime, self.session.chat.set_online, who, channels, False)
        self.publish(events)

    def perform(self, step: Step) -> None:
        for action in step.actions:
            if isinstance(action, Send):
                self.push(Outgoing(action.frame))
            else:
                self.end(action.code, action.reason)
        self.publish(step.events)
        self._rearm()

    def publish(self, events: list[Event]) -> None:
        realtime = self.realtime
        for event in events:
            realtime.broker.publish(event)
            if event.ends_after is not None:
                _schedule_end(realtime, event)

    def _rearm(self) -> None:
        if self.session.closed:
            Timers.cancel(self._timer)
            self._timer = None
            return
        when = self.session.next_deadline()
        if when != self._when:
            Timers.cancel(self._timer)
            self._when = when
            self._timer = self.realtime.schedule(when, self._deadline)

    def _deadline(self) -> None:
        self._timer = None
        self._when = float("inf")
        self.perform(self.session.tick(self.realtime.clock()))


# -- the uvicorn protocol (hubbub serve) -------------------------------------------------------
def _realtime_of(app: Any) -> Realtime | None:
    """The ``Realtime`` of the hubbub app uvicorn serves, under the middleware that wraps it
    (a few attribute lookups per connection; nothing kept that could outlive the app)."""
    inner = app
    for _ in range(16):
        realtime = getattr(getattr(inner, "state", None), "realtime", None)
        if isinstance(realtime, Realtime):
            return realtime
        inner = getattr(inner, "app", None)
        if inner is None:
            break
    return None


class WebSocketProtocol(Link, asyncio.Protocol):
    """uvicorn's ``ws`` protocol class for ``hubbub serve``: ``/v1/ws`` without ASGI.

    uvicorn constructs it when an HTTP request asks to upgrade, calls ``connection_made`` with
    the socket and ``data_received`` with the request head, then routes the socket's data here.
    """

    __slots__ = (
        "backlog",
        "closing",
        "compressed",
        "connections",
        "fragments",
        "inbox",
        "out",
        "paused",
        "seen",
        "transport",
        "waiting",
        "worker",
        "ws",
    )

    def __init__(self, config: Any, server_state: Any, app_state: Any = None, **_: Any) -> None:
        if not config.loaded:
            config.load()
        realtime = _realtime_of(config.loaded_app)
        self.realtime = realtime  # type: ignore[assignment]  # None: refused at the handshake
        self.registered = False
        self._timer = None
        self._when = float("inf")
        self.connections: set[Any] = server_state.connections
        extensions = []
        if realtime is not None and realtime.compression:
            # Small windows and memLevel, as uvicorn's: zlib's defaults cost ~100 KiB each.
            extensions = [
                ServerPerMessageDeflateFactory(
                    server_max_window_bits=12,
                    client_max_window_bits=12,
                    compress_settings={"memLevel": 5},
                )
            ]
        self.ws = ServerProtocol(extensions=extensions, max_size=WIRE_LIMIT, logger=log)
        self.transport: asyncio.Transport | None = None
        self.compressed = False
        self.closing = False
        self.paused = False
        self.backlog = 0
        self.seen = 0.0
        self.fragments: list[bytes] | None = None
        self.inbox: deque[str] | None = None
        self.worker: asyncio.Task[None] | None = None
        self.waiting = False
        self.out: list[bytes] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connections.add(self)

    def data_received(self, data: bytes) -> None:
        ws = self.ws
        ws.receive_data(data)
        self.seen = time.monotonic()
        for event in ws.events_received():
            if isinstance(event, Frame):
                self._frame(event)
            elif isinstance(event, Request):
                self._handshake(event)
        self._flush()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self._flush()
        return None

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.backlog = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        self.closing = True
        if self.realtime is None or not hasattr(self, "session"):
            return
        self.session.closed = True
        left = self.unregister()
        if left is not None and left[1]:
            if self.realtime.inline:
                self.went_offline(left[0])
            else:
                channels = left[0]
                asyncio.get_running_loop().create_task(self.went_offline_async(channels))

    # -- uvicorn ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """The server is stopping."""
        if self.transport is None:
            return
        if self.ws.state is State.OPEN and not self.closing:
            self.end(CloseCode.GOING_AWAY, "server shutting down")
        else:
            self.uncork()
            self.transport.close()

    # -- WebSocket ------------------------------------------------------------------------------
    def _handshake(self, request: Request) -> None:
        ws = self.ws
        realtime = self.realtime
        if request.path.partition("?")[0] != "/v1/ws" or realtime is None:
            ws.send_response(ws.reject(404, "Not Found\n"))
            return
        response = ws.accept(request)
        ws.send_response(response)
        if response.status_code != 101:
            return
        self.compressed = bool(ws.extensions)
        transport = self.transport
        scheme = "https" if transport and transport.get_extra_info("sslcontext") else "http"
        host = request.headers.get("Host", "localhost")
        Link.__init__(self, realtime, realtime.chat_for(f"{scheme}://{host}"))
        self.start()

    def _frame(self, frame: Frame) -> None:
        if self.closing:
            return
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.CONT:
            if opcode is Opcode.TEXT and frame.fin:
                data = frame.data
            else:
                parts = self.fragments
                if parts is None:
                    parts = self.fragments = []
                parts.append(bytes(frame.data))
                if sum(map(len, parts)) > MAX_FRAME:
                    self.end(CloseCode.FRAME_TOO_LARGE, "frame too large")
                    return
                if not frame.fin:
                    return
                data = b"".join(parts)
                self.fragments = None
            if len(data) > MAX_FRAME:
                self.end(CloseCode.FRAME_TOO_LARGE, "frame too large")
                return
            try:
                text = bytes(data).decode()
            except UnicodeDecodeError:
                self.end(CloseCode.PROTOCOL_VIOLATION, "text frames are UTF-8")
                return
            self._text(text)
        elif opcode is Opcode.BINARY:
            self.end(CloseCode.PROTOCOL_VIOLATION, "binary frames are not used")
        # PING is answered, CLOSE completed, by the websockets protocol itself.

    def _text(self, text: str) -> None:
        if self.realtime.inline:
            if self.waiting:  # a message of ours is being stored: what follows waits for it
                if self.inbox is None:
                    self.inbox = deque()
                self.inbox.append(text)
            else:
                self._now(text)
            return
        if self.inbox is None:
            self.inbox = deque()
        self.inbox.append(text)
        if self.worker is None:
            self.worker = asyncio.get_running_loop().create_task(self._drain())

    def _now(self, text: str) -> None:
        try:
            pending = self.receive(text)
        except Exception:
            log.exception("a real-time command failed")
            self.end(CloseCode.SERVER_ERROR, "server error")
            return
        if pending is not None:
            self.waiting = True
            self.realtime.enqueue(self, pending)

    def resume(self) -> None:
        """Our pending message is stored and answered: handle what came in meanwhile."""
        self.waiting = False
        inbox = self.inbox
        while inbox and not self.waiting and not self.closing:
            self._now(inbox.popleft())
        self._flush()

    async def _drain(self) -> None:
        inbox = self.inbox
        if inbox is None:  # pragma: no cover - started with a frame in the inbox
            return
        try:
            while inbox and not self.closing:
                await self.receive_async(inbox.popleft())
        except Exception:
            log.exception("a real-time command failed")
            self.end(CloseCode.SERVER_ERROR, "server error")
        finally:
            self.worker = None

    def _flush(self) -> None:
        """Write what the websockets protocol has to send (handshake, pongs, close)."""
        if self.transport is None:
            return
        for chunk in self.ws.data_to_send():
            if chunk:
                self._write(chunk)
            else:  # the closing handshake is over: the server closes TCP first
                self.uncork()
                self.transport.close()
                self.closing = True

    def _write(self, data: bytes) -> None:
        out = self.out
        if out is not None:
            out.append(data)
        elif self.realtime is None:  # not hubbub's app: the handshake is refused
            if self.transport is not None:  # type: ignore[unreachable]
                self.transport.write(data)
        else:
            self.out = [data]
            self.realtime.cork(self)

    def uncork(self) -> None:
        out = self.out
        if out is None:
            return
        self.out = None
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(out[0] if len(out) == 1 else b"".join(out))

    # -- Link -----------------------------------------------------------------------------------
    def push(self, frame: Outgoing) -> None:
        transport = self.transport
        if self.closing or transport is None:
            return
        if self.paused:
            # Past the socket's buffer: count what waits, and cut off a client that lags.
            self.backlog += 1
            if self.backlog > self.realtime.queue_limit:
                # The close goes after what is buffered; the client gets it if it reads on,
                # and is dropped after a few seconds if not (see ``end``).
                self.end(CloseCode.TRY_AGAIN_LATER, "too slow to keep up")
                return
        if self.compressed:
            self.ws.send_text(frame.data)
            self._flush()
        else:
            self._write(frame.wire)

    def end(self, code: CloseCode, reason: str) -> None:
        if self.closing or self.transport is None:
            return
        session: Session | None = getattr(self, "session", None)
        if session is not None:
            session.closed = True
        if self.ws.state is State.OPEN:
            self.ws.send_close(int(code), reason)
            self._flush()
        self.closing = True
        transport = self.transport
        # The client answers the close and the handshake ends in data_received; a client that
        # does not is dropped after a while.
        asyncio.get_running_loop().call_later(5.0, transport.abort)

    def keepalive(self, now: float) -> None:
        transport = self.transport
        if transport is None or self.closing:
            return
        idle = time.monotonic() - self.seen
        if idle > 2 * PING_INTERVAL + 5:
            transport.abort()
        elif idle >= PING_INTERVAL - 1 and not self.compressed:
            self._write(_PING)
        elif idle >= PING_INTERVAL - 1:
            self.ws.send_ping(b"")
            self._flush()


def settle_gc() -> None:
    """Move what the server built at startup out of the garbage collector's sight, and make
    full collections rarer: with thousands of long-lived connection objects, the default
    thresholds make the collector walk them all over and over."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


# -- the Starlette endpoint (create_app's route) ------------------------------------------------
class _StarletteLink(Link):
    """A connection served through ASGI: frames go to a writer task through a bounded queue."""

    __slots__ = ("overflowed", "queue")

    def __init__(self, realtime: Realtime, chat: Chat) -> None:
        super().__init__(realtime, chat)
        self.queue: asyncio.Queue[Outgoing | Close] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False

    def push(self, frame: Outgoing) -> None:
        self._put(frame)

    def end(self, code: CloseCode, reason: str) -> None:
        self.session.closed = True
        self._put(Close(code, reason))

    def _put(self, item: Outgoing | Close) -> None:
        """Queue a frame (or the close) for the writer; a full queue cuts the client off."""
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(Close(CloseCode.TRY_AGAIN_LATER, "too slow to keep up"))


async def serve(websocket: WebSocket, realtime: Realtime) -> None:
    """Run one connection to its end."""
    await websocket.accept()
    urls = f"{'https' if websocket.url.scheme == 'wss' else 'http'}://{websocket.url.netloc}"
    link = _StarletteLink(realtime, realtime.chat_for(urls))
    link.start()
    session = link.session
    writer = asyncio.create_task(_write(websocket, link))
    try:
        while not session.closed and not writer.done():
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = _text_of(link, message)
            if text is not None:
                await link.receive_async(text)
    except WebSocketDisconnect:
        pass
    finally:
        left = link.unregister()
        if left is not None and left[1]:
            await link.went_offline_async(left[0])
        if not writer.done():
            if not session.closed:
                link.end(CloseCode.NORMAL, "")
            try:
                await asyncio.wait_for(writer, 5)
            except (TimeoutError, WebSocketDisconnect, RuntimeError):
                writer.cancel()


def _text_of(link: Link, message: Mapping[str, Any]) -> str | None:
    text = message.get("text")
    if text is None:
        link.end(CloseCode.PROTOCOL_VIOLATION, "binary frames are not used")
        return None
    if len(text) > MAX_FRAME:
        link.end(CloseCode.FRAME_TOO_LARGE, "frame too large")
        return None
    return str(text)


async def _write(websocket: WebSocket, link: _StarletteLink) -> None:
    while True:
        item = await link.queue.get()
        if isinstance(item, Close):
            await websocket.close(int(item.code), item.reason)
            return
        await websocket.send_text(item.text)


# -- shared helpers --------------------------------------------------------------------------
def store_batch(store: Store, rows: list[NewMessage]) -> list[Message | NotFound | None]:
    """``store.create_messages`` for a batch. Should the batch fail as a whole, each message
    is stored alone, so that whatever broke it costs only its own sender (``None``)."""
    try:
        return list(store.create_messages(rows))
    except Exception:
        log.exception("storing %d messages together failed; storing them one by one", len(rows))
    results: list[Message | NotFound | None] = []
    for row in rows:
        try:
            results += store.create_messages([row])
        except Exception:
            log.exception("storing a message failed")
            results.append(None)
    return results


def _complete(batch: list[tuple[Link, Pending]], results: list[Message | NotFound | None]) -> None:
    """Answer each stored message, in the order stored: its reply, then its push."""
    for (link, pending), stored in zip(batch, results, strict=True):
        if stored is None:
            link.end(CloseCode.SERVER_ERROR, "server error")
            continue
        try:
            link.perform(link.session.complete(pending, stored))
        except Exception:
            log.exception("a real-time command failed")
            link.end(CloseCode.SERVER_ERROR, "server error")


def _running(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether this thread is running ``loop``."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


async def _call(realtime: Realtime, function: Callable[..., Any], *args: Any) -> Any:
    # SQLite work runs on the loop (see web/endpoint.py); PostgreSQL work in the thread pool.
    if realtime.inline:
        return function(*args)
    return await run_in_threadpool(function, *args)


def _channel_sids(store: Store, session: Session) -> list[str]:
    who = session.who
    return [] if who is None else channel_sids(store, who.service_sid, who.identity)


def _schedule_end(realtime: Realtime, event: Event) -> None:
    """Publish ``<state>_ended`` once ``event`` lapses, unless it is renewed before."""
    key = (event.frame["channel_sid"], event.frame["identity"])
    Timers.cancel(realtime.typing.pop(key, None))
    kind = event.frame["type"].removesuffix("_started")
    ended = Event(event.audience, {**event.frame, "type": f"{kind}_ended"})

    def end() -> None:
        realtime.typing.pop(key, None)
        realtime.broker.publish(ended)

    realtime.typing[key] = realtime.schedule(realtime.clock() + (event.ends_after or 0.0), end)
