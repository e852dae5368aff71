"""One WebSocket to the server, over ``websockets``: text frames out and in, and how it ended.

Everything protocol-specific lives in ``protocol``; this module only moves text.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hubbub.client.errors import NotConnected

log = logging.getLogger("hubbub.client")
#: websockets logs every frame at DEBUG, and ``authenticate`` and ``update_token`` frames carry
#: the token: its logger stays at INFO unless the application lowers it on purpose.
wire_log = logging.getLogger("hubbub.client.wire")
if wire_log.level == logging.NOTSET:
    wire_log.setLevel(logging.INFO)

#: Frames *from* the server may exceed the 64 KiB the server accepts: a page of 100 messages
#: of up to 32 KiB each is one reply.
MAX_INCOMING = 8 * 1024 * 1024


class Connection:
    """An open WebSocket carrying protocol frames."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket

    @classmethod
    async def open(cls, url: str, *, open_timeout: float = 10.0) -> Connection:
        """Connect to ``url``; raises ``OSError``, ``TimeoutError`` or a websockets error."""
        socket = await connect(
            url,
            open_timeout=open_timeout,
            max_size=MAX_INCOMING,
            # Deflate costs each server connection far more memory than chat frames save.
            compression=None,
            logger=wire_log,
        )
        return cls(socket)

    async def send(self, text: str) -> None:
        try:
            await self._socket.send(text)
        except ConnectionClosed:
            raise NotConnected("the connection is closed") from None

    async def frames(self) -> AsyncIterator[str]:
        """The text frames received, until the connection closes (binary ones are skipped)."""
        try:
            async for frame in self._socket:
                if isinstance(frame, str):
                    yield frame
                else:
                    log.warning("ignoring a binary frame from the server")
        except ConnectionClosed:
            pass

    @property
    def close_code(self) -> int | None:
        """The code the server closed with (1006 if the connection just dropped)."""
        return self._socket.close_code

    @property
    def close_reason(self) -> str:
        return self._socket.close_reason or ""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._socket.close(code, reason)
