"""Request heads under ``hubbub serve``'s HTTP protocol, over real sockets: bounded in size and
header count (431), and in time (closed), whatever the client sends or does not send."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from hubbub.crypto import SecretBox
from hubbub.store import open_store
from hubbub.web.app import create_app
from hubbub.web.http_uvicorn import HttpProtocol
from tests.realtime import wire
from tests.web.server import running


class QuickHeads(HttpProtocol):
    """The served protocol with a short head deadline, so the tests need not wait 10 s."""

    head_timeout = 0.5


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    store = open_store(f"sqlite:///{tmp_path / 'hubbub.db'}")
    yield create_app(store, SecretBox(Fernet.generate_key()))
    store.close()


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    with running(app) as base_url:
        yield base_url


async def _answer(base_url: str, head: bytes) -> tuple[bytes, bytes]:
    """Send ``head`` on a new connection; the status line and whatever follows until EOF."""
    reader, writer = await wire.connect(base_url)
    try:
        writer.write(head)
        status = await asyncio.wait_for(reader.readline(), 10)
        rest = await asyncio.wait_for(reader.read(), 10)  # b"" at once without "close"
        return status, rest
    finally:
        writer.close()


def test_a_head_over_64_kib_gets_431_and_the_connection_closes(server: str) -> None:
    big = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * HttpProtocol.max_head
    status, rest = run(_answer(server, big))  # never ends the head: no end to wait for
    assert status.startswith(b"HTTP/1.1 431 ")
    assert rest.endswith(b"Request head too large\n")


def test_over_100_headers_get_431(server: str) -> None:
    fields = b"".join(b"X-%d: 1\r\n" % n for n in range(HttpProtocol.max_headers))
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + fields + b"\r\n"
    status, _ = run(_answer(server, head))
    assert status.startswith(b"HTTP/1.1 431 ")


def test_heads_within_the_limits_are_served(server: str) -> None:
    """Just under both limits, and a head split across reads, as any client may."""
    fields = b"".join(b"X-%d: 1\r\n" % n for n in range(HttpProtocol.max_headers - 3))
    filler = b"a" * (HttpProtocol.max_head - len(fields) - 200)
    head = (
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + fields
        + b"X-Filler: "
        + filler
        + b"\r\nConnection: close\r\n\r\n"
    )
    assert len(head) <= HttpProtocol.max_head
    status, _ = run(_answer(server, head))
    assert status.startswith(b"HTTP/1.1 200 ")


def test_endless_header_bytes_are_not_taken_in(server: str) -> None:
    """A client streams a header for ever: the server stops it after the limit, rather than
    holding what it sends (four such clients made a server gigabytes larger)."""

    async def scenario() -> int:
        _, writer = await wire.connect(server)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        chunk = b"a" * 65536
        sent = 0
        try:
            while sent < 64 << 20:  # with no limit the server takes it all
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), 10)
                sent += len(chunk)
        except (ConnectionError, TimeoutError):
            pass
        writer.close()
        return sent

    assert run(scenario()) < 32 << 20  # the kernel's buffers, not the server's


def test_connections_without_a_complete_head_in_time_are_closed(app: Any) -> None:
    """Silent sockets, half-sent heads, half-sent WebSocket upgrades, and a kept-alive
    connection that starts a second request and stops: each is closed by the deadline."""

    async def closed(reader: asyncio.StreamReader) -> bool:
        try:
            return await asyncio.wait_for(reader.read(), 10) is not None
        except ConnectionError:
            return True

    async def scenario(base_url: str) -> list[bool]:
        sockets = [await wire.connect(base_url) for _ in range(30)]
        for number, (_, writer) in enumerate(sockets):
            if number % 3 == 1:
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            elif number % 3 == 2:
                writer.write(b"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
        reader, writer = await wire.connect(base_url)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 ")
        writer.write(b"G")
        sockets.append((reader, writer))
        results = await asyncio.gather(*(closed(reader) for reader, _ in sockets))
        for _, writer in sockets:
            writer.close()
        return results

    with running(app, http=QuickHeads) as base_url:
        assert all(run(scenario(base_url)))


def test_kept_alive_connections_are_not_timed_by_the_head_deadline(app: Any) -> None:
    """The deadline counts from the first byte of a later request, not from the last response:
    idle time between requests is uvicorn's keep-alive timeout's business."""

    async def scenario(base_url: str) -> list[bytes]:
        reader, writer = await wire.connect(base_url)
        statuses = []
        for _ in range(2):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            statuses.append(head.split(b"\r\n")[0])
            await reader.readexactly(_content_length(head))
            await asyncio.sleep(QuickHeads.head_timeout * 2)
        writer.close()
        return statuses

    with running(app, http=QuickHeads) as base_url:
        assert run(scenario(base_url)) == [b"HTTP/1.1 200 OK"] * 2


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0
