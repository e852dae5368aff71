"""A bare protocol client for the gateway tests: frames in, frames out, nothing hidden."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


class RawClient:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.pushes: list[dict[str, Any]] = []
        self._next_id = 0

    @classmethod
    async def open(cls, url: str) -> RawClient:
        return cls(await connect(url, max_size=1 << 20))

    async def command(self, kind: str, **params: Any) -> dict[str, Any]:
        """Send a command and return its reply, keeping pushes that arrive meanwhile."""
        self._next_id += 1
        command_id = self._next_id
        await self.socket.send(json.dumps({"id": command_id, "type": kind, **params}))
        while True:
            frame = await self.next_frame()
            if frame.get("id") == command_id:
                return frame
            self.pushes.append(frame)

    async def next_frame(self, timeout: float = 5) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
        return frame

    async def push(
        self, kind: str, timeout: float = 5, where: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """The next push of this type matching ``where`` (the others are kept)."""

        def wanted(frame: dict[str, Any]) -> bool:
            return frame["type"] == kind and (where is None or where(frame))

        for i, frame in enumerate(self.pushes):
            if wanted(frame):
                return self.pushes.pop(i)
        while True:
            frame = await self.next_frame(timeout)
            if wanted(frame):
                return frame
            self.pushes.append(frame)

    async def authenticate(self, token: str) -> dict[str, Any]:
        return await self.command("authenticate", token=token)

    async def close_code(self, timeout: float = 5) -> int | None:
        """Wait for the server to close, and return its close code."""
        try:
            while True:
                self.pushes.append(await self.next_frame(timeout))
        except Exception:  # noqa: S110 - the close is what we wait for
            pass
        return self.socket.close_code
