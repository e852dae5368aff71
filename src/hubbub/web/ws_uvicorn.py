"""``/v1/ws`` as ``hubbub serve`` serves it: hubbub's own WebSocket protocol under uvicorn.

uvicorn constructs ``WebSocketProtocol`` (its ``ws=`` protocol class) when a request asks for
the WebSocket upgrade, calls ``connection_made`` with the socket and ``data_received`` with the
request head, then routes the socket's data here. It speaks WebSocket itself through the
sans-I/O ``websockets`` protocol, skipping ASGI: a connection is then a few objects and no
task, and a push is one pre-built frame written straight to the socket.

Output is bounded in bytes: what the transport holds plus what is corked for this turn of the
loop. Past ``node.output_pause`` the socket is not read and the commands already read wait, so
a client that does not read cannot make the server build more replies; past
``node.output_limit`` (events keep coming) the client is cut off with 1013.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from hubbub.realtime.link import Link
from hubbub.realtime.node import PING_INTERVAL, Node
from hubbub.realtime.protocol import MAX_FRAGMENTS, MAX_FRAME, CloseCode, Outgoing
from hubbub.twilsock.frames import MAX_FRAME as TWILSOCK_FRAME
from hubbub.twilsock.link import TwilsockLink

log = logging.getLogger("hubbub.gateway")

#: Frames larger than this are refused by the WebSocket layer itself (1009) before they are
#: buffered whole; frames over ``MAX_FRAME`` and up to this get the protocol's 4009.
WIRE_LIMIT = 1 << 20
_PING = bytes((0x89, 0))  # an empty ping frame, unmasked (server to client)
#: Where Twilio's SDKs connect (their ``twilsock.uri`` option).
TWILSOCK_PATH = "/v3/wsconnect"


def node_of(app: Any) -> Node | None:
    """The ``Node`` of the hubbub app uvicorn serves, under the middleware that wraps it (a
    few attribute lookups per connection; nothing kept that could outlive the app)."""
    inner = app
    for _ in range(16):
        node = getattr(getattr(inner, "state", None), "node", None)
        if isinstance(node, Node):
            return node
        inner = getattr(inner, "app", None)
        if inner is None:
            break
    return None


class WebSocketProtocol(asyncio.Protocol):
    """uvicorn's ``ws`` protocol class for ``hubbub serve``, and the ``Transport`` of its link."""

    __slots__ = (
        "closing",
        "compressed",
        "connections",
        "fragments",
        "fragments_size",
        "link",
        "node",
        "out",
        "out_size",
        "paused",
        "seen",
        "transport",
        "twilsock",
        "ws",
    )

    def __init__(self, config: Any, server_state: Any, app_state: Any = None, **_: Any) -> None:
        if not config.loaded:
            config.load()
        node = node_of(config.loaded_app)
        self.node = node  # None: not hubbub's app, refused at the handshake
        self.link: Link | None = None
        self.connections: set[Any] = server_state.connections
        extensions = []
        if node is not None and node.compression:
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
        #: The transport holds more than ``node.output_pause``: reading is paused.
        self.paused = False
        self.seen = 0.0
        #: The parts of a fragmented message so far, and their total length: a running sum,
        #: so that each fragment costs the same however many came before it.
        self.fragments: list[bytes] | None = None
        self.fragments_size = 0
        self.out: list[bytes] | None = None
        self.out_size = 0
        #: Twilio's protocol (``/v3/wsconnect``, binary frames) rather than ``/v1/ws``.
        self.twilsock = False

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A socket's transport (uvloop's is no subclass of asyncio's classes, only alike).
        self.transport = sock = cast(asyncio.Transport, transport)
        self.connections.add(self)
        if self.node is not None:
            # pause_writing past this many bytes; resume_writing below a quarter of it.
            sock.set_write_buffer_limits(high=self.node.output_pause)

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
        """The client is behind: read nothing more from it until it catches up."""
        self.paused = True
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        self.seen = time.monotonic()  # it read: it is alive, though it was not read from
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()
        if self.link is not None and not self.closing:
            self.link.release()

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        self.closing = True
        if self.link is not None:
            self.link.closed()

    # -- uvicorn ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """The server is stopping."""
        if self.transport is None:
            return
        if self.ws.state is State.OPEN and not self.closing and self.link is not None:
            # Through the link: a twilsock one tells the SDK first (close 308, come back).
            self.link.end(CloseCode.GOING_AWAY, "server shutting down")
        elif self.ws.state is State.OPEN and not self.closing:
            self.end(CloseCode.GOING_AWAY, "server shutting down")
        else:
            self.uncork()
            self.transport.close()

    # -- WebSocket ------------------------------------------------------------------------------
    def _handshake(self, request: Request) -> None:
        ws = self.ws
        node = self.node
        path = request.path.partition("?")[0]
        if path not in ("/v1/ws", TWILSOCK_PATH) or node is None:
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
        commands = node.commands_for(f"{scheme}://{host}")
        if path == TWILSOCK_PATH:
            self.twilsock = True
            self.link = TwilsockLink(node, commands, self)
        else:
            self.link = Link(node, commands, self)
        self.link.start()

    def _frame(self, frame: Frame) -> None:
        if self.closing:
            return
        opcode = frame.opcode
        # /v1/ws speaks text, twilsock binary; continuations belong to either.
        wanted = Opcode.BINARY if self.twilsock else Opcode.TEXT
        if opcode is not wanted and opcode is not Opcode.CONT:
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                self.end(CloseCode.PROTOCOL_VIOLATION, f"{opcode.name.lower()} frames are not used")
            return  # PING is answered, CLOSE completed, by the websockets protocol itself.
        data = self._message(frame, TWILSOCK_FRAME if self.twilsock else MAX_FRAME)
        if data is None or self.link is None:
            return
        if self.twilsock:
            self.link.feed(data)
            return
        try:
            text = data.decode()
        except UnicodeDecodeError:
            self.end(CloseCode.PROTOCOL_VIOLATION, "text frames are UTF-8")
            return
        self.link.feed(text)

    def _message(self, frame: Frame, limit: int) -> bytes | None:
        """The whole message once its last fragment is in, if it is at most ``limit`` bytes
        (the connection ends with 4009 if not); ``None`` while fragments are missing."""
        if frame.opcode is not Opcode.CONT and frame.fin:
            data = bytes(frame.data)
        else:
            parts = self.fragments
            if parts is None:
                parts = self.fragments = []
                self.fragments_size = 0
            parts.append(bytes(frame.data))
            self.fragments_size += len(frame.data)
            if self.fragments_size > limit:
                self.fragments = None
                self.end(CloseCode.FRAME_TOO_LARGE, "frame too large")
                return None
            if len(parts) > MAX_FRAGMENTS:
                # Empty fragments never reach the size cap: count them too.
                self.fragments = None
                self.end(CloseCode.FRAME_TOO_LARGE, "message in too many fragments")
                return None
            if not frame.fin:
                return None
            data = b"".join(parts)
            self.fragments = None
        if len(data) > limit:
            self.end(CloseCode.FRAME_TOO_LARGE, "frame too large")
            return None
        return data

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
        elif self.node is None:  # not hubbub's app: the handshake is refused
            if self.transport is not None:
                self.transport.write(data)
        else:
            self.out = [data]
            self.node.cork(self.uncork)
        self.out_size += len(data)

    def uncork(self) -> None:
        out = self.out
        if out is None:
            return
        self.out = None
        self.out_size = 0
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(out[0] if len(out) == 1 else b"".join(out))
            if not self.paused and self.link is not None and not self.closing:
                # The socket took it all: the commands that waited for it may go on.
                self.link.release()

    # -- Transport ------------------------------------------------------------------------------
    def push(self, frame: Outgoing) -> None:
        transport = self.transport
        if self.closing or transport is None:
            return
        data = frame.data if self.compressed else frame.wire
        node = self.node
        # Below the transport's high-water mark (``output_pause``) its buffer cannot bring the
        # total near the limit: ask for its size only when paused, or when what is corked is.
        if (
            node is not None
            and (self.paused or self.out_size + len(data) > node.output_limit - node.output_pause)
            and self.out_size + transport.get_write_buffer_size() + len(data) > node.output_limit
        ):
            # The close goes after what is buffered; the client gets it if it reads on, and
            # is dropped after a few seconds if not (see ``end``).
            self.end(CloseCode.TRY_AGAIN_LATER, "too slow to keep up")
            return
        if self.compressed:
            if frame.binary:
                self.ws.send_binary(data)
            else:
                self.ws.send_text(data)
            self._flush()
        else:
            self._write(data)

    def backlogged(self) -> bool:
        node = self.node
        return self.paused or (node is not None and self.out_size > node.output_pause)

    def end(self, code: CloseCode, reason: str) -> None:
        if self.closing or self.transport is None:
            return
        if self.link is not None:
            self.link.session.closed = True
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
