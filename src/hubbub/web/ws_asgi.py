"""``/v1/ws`` through ASGI: the Starlette route of ``create_app``, for tests, embedders and
other ASGI servers. A reading task feeds the link; a writing task drains a queue bounded in
bytes: past ``node.output_pause`` the link's commands wait (and the socket is not read), past
``node.output_limit`` the client is cut off with 1013."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from hubbub.realtime.link import Link
from hubbub.realtime.node import Node
from hubbub.realtime.protocol import MAX_FRAME, CloseCode, Outgoing
from hubbub.realtime.session import Close
from hubbub.twilsock.frames import MAX_FRAME as TWILSOCK_FRAME
from hubbub.twilsock.link import TwilsockLink


class QueueTransport:
    """Frames for the writer task, through a queue bounded in bytes; a full queue cuts the
    client off."""

    __slots__ = ("link", "node", "overflowed", "queue", "queued")

    def __init__(self, node: Node) -> None:
        self.node = node
        self.link: Link | None = None
        self.queue: asyncio.Queue[Outgoing | Close] = asyncio.Queue()
        #: The bytes of the frames in ``queue``.
        self.queued = 0
        self.overflowed = False

    def push(self, frame: Outgoing) -> None:
        size = len(frame.data)
        if self.queued + size > self.node.output_limit:
            self._overflow()
            return
        self.queued += size
        self._put(frame)

    def sent(self, frame: Outgoing) -> None:
        """The writer handed ``frame`` to the server: the link's commands may go on."""
        if self.overflowed:
            return
        self.queued -= len(frame.data)
        if self.link is not None and not self.backlogged():
            self.link.release()

    def backlogged(self) -> bool:
        return self.queued > self.node.output_pause

    def end(self, code: CloseCode, reason: str) -> None:
        self._put(Close(code, reason))

    def keepalive(self, now: float) -> None:
        """The ASGI server pings on its own."""

    def _put(self, item: Outgoing | Close) -> None:
        if self.overflowed:
            return
        self.queue.put_nowait(item)

    def _overflow(self) -> None:
        if self.overflowed:
            return
        self.overflowed = True
        self.queued = 0
        self.queue = asyncio.Queue(1)
        self.queue.put_nowait(Close(CloseCode.TRY_AGAIN_LATER, "too slow to keep up"))
        self.finished()

    def finished(self) -> None:
        """Nothing more goes out: the session is over, and the reader may stop waiting."""
        link = self.link
        if link is not None:
            link.session.closed = True
            link.release()


async def serve(websocket: WebSocket, node: Node, *, twilsock: bool = False) -> None:
    """Run one connection to its end: ``/v1/ws``, or with ``twilsock`` Twilio's protocol
    (``/v3/wsconnect``)."""
    await websocket.accept()
    base = f"{'https' if websocket.url.scheme == 'wss' else 'http'}://{websocket.url.netloc}"
    transport = QueueTransport(node)
    commands = node.commands_for(base)
    if twilsock:
        link: Link = TwilsockLink(node, commands, transport)
    else:
        link = Link(node, commands, transport)
    transport.link = link
    link.start()
    session = link.session
    writer = asyncio.create_task(_write(websocket, transport))
    try:
        while not session.closed and not writer.done():
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = _bytes_of(link, message) if twilsock else _text_of(link, message)
            if text is not None:
                link.feed(text)
                # One frame at a time: what a client sends waits in its socket, not here.
                await link.settled()
    except WebSocketDisconnect:
        pass
    finally:
        open_still = not session.closed
        link.closed()
        if not writer.done():
            if open_still:
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


def _bytes_of(link: Link, message: Mapping[str, Any]) -> bytes | None:
    data = message.get("bytes")
    if data is None:
        link.end(CloseCode.PROTOCOL_VIOLATION, "twilsock frames are binary")
        return None
    if len(data) > TWILSOCK_FRAME:
        link.end(CloseCode.FRAME_TOO_LARGE, "frame too large")
        return None
    return bytes(data)


async def _write(websocket: WebSocket, transport: QueueTransport) -> None:
    try:
        while True:
            item = await transport.queue.get()
            if isinstance(item, Close):
                await websocket.close(int(item.code), item.reason)
                return
            if item.binary:
                await websocket.send_bytes(item.data)
            else:
                await websocket.send_text(item.text)
            transport.sent(item)
    finally:
        # Closed, or the client is gone: a reader waiting for output to drain must not wait
        # for ever.
        transport.finished()
