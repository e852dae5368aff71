"""WebSocket and HTTP by hand, for tests that send what no well-behaved client library would."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from urllib.parse import urlsplit

TEXT, CONTINUATION, CLOSE = 0x1, 0x0, 0x8


async def connect(base_url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to the server at ``base_url`` (``http://127.0.0.1:port``)."""
    where = urlsplit(base_url)
    assert where.hostname == "127.0.0.1"
    assert where.port is not None
    return await asyncio.open_connection(where.hostname, where.port)


async def upgraded(base_url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to ``/v1/ws`` past its opening handshake (101)."""
    reader, writer = await connect(base_url)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        b"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return reader, writer


def client_frame(opcode: int, payload: bytes = b"", *, fin: bool = True) -> bytes:
    """One frame as a client sends it: masked (with a zero key, so the payload reads as is)."""
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    if size < 126:
        head = bytes((first, 0x80 | size))
    elif size < 65536:
        head = bytes((first, 0x80 | 126)) + struct.pack("!H", size)
    else:
        head = bytes((first, 0x80 | 127)) + struct.pack("!Q", size)
    return head + b"\0\0\0\0" + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The server's next frame (unmasked): its opcode and payload."""
    first, second = await reader.readexactly(2)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", await reader.readexactly(2))
    elif size == 127:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    return first & 0x0F, await reader.readexactly(size)


async def close_code(reader: asyncio.StreamReader, timeout: float = 10) -> int | None:
    """Read the server's frames until its close frame; its code (None if the socket ended
    without one)."""

    async def read() -> int | None:
        while True:
            try:
                opcode, payload = await read_frame(reader)
            except asyncio.IncompleteReadError:
                return None
            if opcode == CLOSE:
                return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None

    return await asyncio.wait_for(read(), timeout)


async def status_of(base_url: str, path: str, timeout: float = 10) -> int:
    """``GET path`` on a connection of its own; the response's status code."""
    reader, writer = await connect(base_url)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), timeout)
        return int(line.split()[1])
    finally:
        writer.close()
