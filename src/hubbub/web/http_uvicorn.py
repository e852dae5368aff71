"""HTTP/1.1 as ``hubbub serve`` serves it: uvicorn's httptools protocol, with bounded heads.

uvicorn's httptools protocol puts no limit on a request head: llhttp streams it, uvicorn appends
every piece of the URL and every header it is handed, and httptools joins the pieces of one
header in Python, so a client that sends header bytes without end grows the process without end.
(uvicorn's h11 protocol bounds the head, ``h11_max_incomplete_event_size``, but parses slower.)

``HttpProtocol`` counts each head's bytes as they arrive, and its headers: past ``max_head`` or
``max_headers`` it answers 431 and closes. And a connection must send a complete head within
``head_timeout`` seconds (counted from connecting, then from the first byte of each later
request), or it is closed; a WebSocket upgrade's handshake is done once its head is, so it is
held to the same deadline. Idle kept-alive connections are closed by uvicorn itself
(``timeout_keep_alive``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head over the limits."""


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's ``http`` protocol class for ``hubbub serve``."""

    #: The most bytes a request head (request line and headers) may take.
    max_head = 64 * 1024
    #: The most header fields a request may have.
    max_headers = 100
    #: Seconds a connection has to send a complete request head.
    head_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Whether the bytes that come are (part of) a request head, and how many came.
        self.in_head = True
        self.head_size = 0
        self.head_too_large = False
        #: Heads parsed on this connection so far.
        self.heads = 0
        self.head_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.head_timer = self.loop.call_later(self.head_timeout, self.head_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.in_head:  # a body: uvicorn's flow control bounds it
            super().data_received(data)
            return
        room = self.max_head - self.head_size
        if len(data) <= room:
            self.head_size += len(data)
            super().data_received(data)
            return
        # Only the head's allowance is parsed; the rest if the head ended within it.
        self.head_size = self.max_head
        heads = self.heads
        super().data_received(data[:room])
        if self.heads == heads:
            self.refuse_head()
            return
        protocol = self.transport.get_protocol()
        if not self.transport.is_closing():
            # After an upgrade, the bytes that followed the head are the WebSocket's.
            protocol.data_received(data[room:])  # type: ignore[attr-defined]

    # -- parser callbacks ----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self.in_head:  # a later request on a kept-alive connection
            self.in_head = True
            self.head_size = 0
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.head_timeout, self.head_late)

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= self.max_headers:
            self.head_too_large = True
            raise HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.heads += 1
        self.stop_head_timer()
        super().on_headers_complete()

    # -- refusals ------------------------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        # uvicorn answers 400 to any parser error, including the one ``on_header`` raises.
        if self.head_too_large:
            self.refuse_head()
        else:
            super().send_400_response(msg)

    def refuse_head(self) -> None:
        """431, then close: the head is over ``max_head`` bytes or ``max_headers`` fields."""
        self.in_head = False
        self.stop_head_timer()
        transport = self.transport
        if transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # An earlier request's response is being written: a 431 would land inside it.
            transport.close()
            return
        body = b"Request head too large\n"
        content = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(body)).encode() + b"\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]
        )
        transport.write(b"".join(content))
        transport.close()

    def head_late(self) -> None:
        """No complete head in time: close (abort, if output the client does not read waits)."""
        self.head_timer = None
        transport = self.transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size():
            transport.abort()
        else:
            transport.close()

    def stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
