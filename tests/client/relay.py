"""A TCP relay in front of a server, which a test can cut (and keep shut) at will.

Cutting aborts both sides, so the client sees its connection vanish with no close frame, as
when a network path or a server process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit


class Relay:
    def __init__(self, url: str) -> None:
        target = urlsplit(url)
        self._host = target.hostname or "127.0.0.1"
        self._port = target.port or 80
        self._path = target.path
        self.url = ""
        self.accepting = True
        #: Connections turned away while shut.
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}{self._path}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def cut(self, *, stay_shut: bool = False) -> None:
        """Abort every relayed connection; with ``stay_shut``, refuse new ones until ``reopen``."""
        self.accepting = not stay_shut
        for writer in list(self._writers):
            writer.transport.abort()

    def reopen(self) -> None:
        self.accepting = True

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            if not self.accepting:
                self.refused += 1
                return
            up_reader, upstream = await asyncio.open_connection(self._host, self._port)
            self._writers.add(upstream)
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except OSError:
            pass
        finally:
            for end in (writer, upstream):
                if end is not None:
                    self._writers.discard(end)
                    end.transport.abort()
            self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
