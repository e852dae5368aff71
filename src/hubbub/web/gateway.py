"""The WebSocket endpoint ``/v1/ws``: a thin adapter between Starlette and ``Session``.

Reading, the session's deadlines and the store run in one task per connection; writing runs
in another, fed by a bounded queue, so a slow reader never holds up fan-out to the others: when
its queue is full the connection is closed (1013, try again later) rather than buffering
without end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from hubbub.realtime.chat import Chat, Event
from hubbub.realtime.hub import Broker, Hub
from hubbub.realtime.protocol import MAX_FRAME, CloseCode, encode
from hubbub.realtime.session import Close, Send, Session, Step
from hubbub.service.keys import KeyRing
from hubbub.store import Store
from hubbub.web.render import Urls

#: Frames waiting for a slow client before it is cut off.
QUEUE_LIMIT = 1000


@dataclass(slots=True)
class Realtime:
    """What the gateway shares across connections of one process."""

    store: Store
    keys: KeyRing
    hub: Hub
    broker: Broker
    inline: bool
    warning: float
    clock: Callable[[], float] = time.time


class _Connection:
    """One client as the hub sees it."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.queue: asyncio.Queue[dict[str, Any] | Close] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False

    @property
    def service_sid(self) -> str:
        return self.session.who.service_sid if self.session.who else ""

    @property
    def identity(self) -> str:
        return self.session.who.identity if self.session.who else ""

    def push(self, frame: dict[str, Any] | Close) -> None:
        """Queue a frame (or the close) for the writer; a full queue cuts the client off."""
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(Close(CloseCode.TRY_AGAIN_LATER, "too slow to keep up"))


async def serve(websocket: WebSocket, realtime: Realtime) -> None:
    """Run one connection to its end."""
    await websocket.accept()
    urls = Urls(f"{'https' if websocket.url.scheme == 'wss' else 'http'}://{websocket.url.netloc}")
    chat = Chat(realtime.store, realtime.keys, urls)
    session = Session(chat, now=realtime.clock(), warning=realtime.warning)
    connection = _Connection(session)
    writer = asyncio.create_task(_write(websocket, connection))
    registered = False
    try:
        while not session.closed and not writer.done():
            timeout = max(0.0, session.next_deadline() - realtime.clock())
            try:
                message = await asyncio.wait_for(websocket.receive(), timeout)
            except TimeoutError:
                step = session.tick(realtime.clock())
            else:
                if message["type"] == "websocket.disconnect":
                    break
                step = await _receive(realtime, session, message)
            if session.who is not None and not registered:
                channels = await _call(realtime, _channel_sids, realtime.store, session)
                first = not realtime.hub.has_user(session.who.service_sid, session.who.identity)
                realtime.hub.add(connection, channels)
                registered = True
                if first:
                    await _reachability(realtime, session, channels, online=True)
            _perform(realtime, connection, step)
    except WebSocketDisconnect:
        pass
    finally:
        if registered and session.who is not None:
            channels = realtime.hub.channels_of(connection)
            realtime.hub.remove(connection)
            if not realtime.hub.has_user(session.who.service_sid, session.who.identity):
                await _reachability(realtime, session, channels, online=False)
        if not writer.done():
            if not session.closed:
                connection.push(Close(CloseCode.NORMAL, ""))
            try:
                await asyncio.wait_for(writer, 5)
            except (TimeoutError, WebSocketDisconnect, RuntimeError):
                writer.cancel()


async def _receive(realtime: Realtime, session: Session, message: Mapping[str, Any]) -> Step:
    text = message.get("text")
    if text is None:
        return _violation(session, CloseCode.PROTOCOL_VIOLATION, "binary frames are not used")
    if len(text) > MAX_FRAME:
        return _violation(session, CloseCode.FRAME_TOO_LARGE, "frame too large")
    step: Step = await _call(realtime, session.receive, text, realtime.clock())
    return step


async def _reachability(
    realtime: Realtime, session: Session, channels: list[str], *, online: bool
) -> None:
    """The user's first connection here makes it online, its last one offline."""
    who = session.who
    if who is None:
        return
    events = await _call(realtime, session.chat.set_online, who, channels, online)
    for event in events:
        realtime.broker.publish(event)


def _violation(session: Session, code: CloseCode, reason: str) -> Step:
    session.closed = True
    return Step(actions=[Close(code, reason)])


async def _call(realtime: Realtime, function: Callable[..., Any], *args: Any) -> Any:
    # SQLite work runs on the loop (see web/endpoint.py); PostgreSQL work in the thread pool.
    if realtime.inline:
        return function(*args)
    return await run_in_threadpool(function, *args)


def _channel_sids(store: Store, session: Session) -> list[str]:
    who = session.who
    if who is None:
        return []
    sids: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list_user_channels(who.service_sid, who.identity, limit=1000, cursor=cursor)
        sids += [item.channel_sid for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return sids


def _perform(realtime: Realtime, connection: _Connection, step: Step) -> None:
    for action in step.actions:
        connection.push(action.frame if isinstance(action, Send) else action)
    for event in step.events:
        realtime.broker.publish(event)
        if event.ends_after is not None:
            _schedule_end(realtime, event)


_typing: dict[tuple[str, str], asyncio.TimerHandle] = {}


def _schedule_end(realtime: Realtime, event: Event) -> None:
    """Publish ``<state>_ended`` once ``event`` lapses, unless it is renewed before."""
    key = (event.frame["channel_sid"], event.frame["identity"])
    previous = _typing.pop(key, None)
    if previous is not None:
        previous.cancel()
    kind = event.frame["type"].removesuffix("_started")
    ended = Event(event.audience, {**event.frame, "type": f"{kind}_ended"})

    def end() -> None:
        _typing.pop(key, None)
        realtime.broker.publish(ended)

    _typing[key] = asyncio.get_running_loop().call_later(event.ends_after or 0.0, end)


async def _write(websocket: WebSocket, connection: _Connection) -> None:
    while True:
        item = await connection.queue.get()
        if isinstance(item, Close):
            await websocket.close(int(item.code), item.reason)
            return
        await websocket.send_text(encode(item))
