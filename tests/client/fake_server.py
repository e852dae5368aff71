"""A scripted stand-in for hubbub's gateway: enough of the protocol to drive the client's I/O
paths (close codes, timeouts, catch-up) in milliseconds, with the server's every move chosen by
the test. The real gateway is exercised in ``test_integration.py``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

CHANNEL_SID = "CH" + "0" * 32
CHANNEL = {"sid": CHANNEL_SID, "unique_name": "general", "friendly_name": "General"}


def message(index: int, body: str = "", author: str = "bob") -> dict[str, Any]:
    return {
        "sid": f"IM{index:032d}",
        "channel_sid": CHANNEL_SID,
        "index": index,
        "from": author,
        "body": body or f"message {index}",
        "attributes": "{}",
    }


class FakeServer:
    """One channel, a list of messages, and whatever the test scripts."""

    def __init__(self) -> None:
        self.url = ""
        self.valid_tokens = {"good"}
        self.tokens_seen: list[str] = []
        self.commands: list[dict[str, Any]] = []
        self.connections = 0
        self.history: list[dict[str, Any]] = []
        #: Command types not answered until the test calls ``release``.
        self.held: set[str] = set()
        #: Run after each successful authenticate, before any other command is read.
        self.after_auth: Callable[[FakeServer], Awaitable[None]] | None = None
        self.sockets: set[ServerConnection] = set()
        self._server: Server | None = None
        self._holding: list[tuple[ServerConnection, dict[str, Any]]] = []

    async def __aenter__(self) -> FakeServer:
        self._server = await serve(self._serve, "127.0.0.1", 0, compression=None)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/v1/ws"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def types(self) -> list[str]:
        return [command["type"] for command in self.commands]

    def add_message(self, body: str = "") -> dict[str, Any]:
        """Store a message without telling anyone (as if sent while the client was away)."""
        added = message(len(self.history), body)
        self.history.append(added)
        return added

    async def push(self, frame: dict[str, Any]) -> None:
        for socket in list(self.sockets):
            await socket.send(json.dumps(frame))

    async def send_message(self, body: str = "") -> dict[str, Any]:
        """Store a message and push it, as when another user sends one."""
        added = self.add_message(body)
        await self.push({"type": "message_added", "channel_sid": CHANNEL_SID, "message": added})
        return added

    async def close_all(self, code: int, reason: str = "") -> None:
        for socket in list(self.sockets):
            await socket.close(code, reason)

    def drop_all(self) -> None:
        """Cut every connection without a close frame, as a crash or a network fault does."""
        for socket in list(self.sockets):
            socket.transport.abort()

    async def _serve(self, socket: ServerConnection) -> None:
        self.connections += 1
        self.sockets.add(socket)
        try:
            async for text in socket:
                command = json.loads(text)
                self.commands.append(command)
                if command["type"] in self.held:
                    self._holding.append((socket, command))
                else:
                    await self._answer(socket, command)
        except Exception:  # noqa: S110 - a dropped connection is what the tests cause
            pass
        finally:
            self.sockets.discard(socket)

    async def release(self) -> None:
        """Answer the held commands now, on the connections still open."""
        holding, self._holding = self._holding, []
        for socket, command in holding:
            with contextlib.suppress(ConnectionClosed):
                await self._answer(socket, command)

    async def _answer(self, socket: ServerConnection, command: dict[str, Any]) -> None:
        kind, command_id = command["type"], command["id"]

        async def ok(result: dict[str, Any]) -> None:
            await socket.send(
                json.dumps({"id": command_id, "type": "reply", "ok": True, "result": result})
            )

        async def error(code: int, status: int) -> None:
            frame = {"code": code, "message": f"error {code}", "status": status}
            await socket.send(
                json.dumps({"id": command_id, "type": "reply", "ok": False, "error": frame})
            )

        if kind in ("authenticate", "update_token"):
            self.tokens_seen.append(command["token"])
            if command["token"] not in self.valid_tokens:
                await error(20101, 401)
                if kind == "authenticate":
                    await socket.close(4001, "the token did not verify")
                return
        if kind == "authenticate":
            user = {"sid": "US1", "identity": "alice"}
            await ok({"identity": "alice", "user": user, "service_sid": "IS1", "expires_at": 0})
            if self.after_auth is not None:
                await self.after_auth(self)
        elif kind == "update_token":
            await ok({"expires_at": 0})
        elif kind == "get_subscribed_channels":
            await ok({"channels": [{"channel": CHANNEL, "member": {"sid": "MB1"}, "unread": 0}]})
        elif kind == "get_channel" and command["channel"] in (CHANNEL_SID, "general"):
            await ok({"channel": CHANNEL})
        elif kind == "get_messages":
            await ok({"messages": self._page(command)})
        elif kind == "send_message":
            added = self.add_message(command["body"])
            await ok({"message": added})
            await self.push({"type": "message_added", "channel_sid": CHANNEL_SID, "message": added})
        elif kind in ("typing", "ping"):
            await ok({})
        else:
            await error(20404, 404)

    def _page(self, command: dict[str, Any]) -> list[dict[str, Any]]:
        size, anchor = command.get("page_size", 30), command.get("anchor")
        if command.get("direction") == "forwards":
            start = 0 if anchor is None else anchor
            return [m for m in self.history if m["index"] >= start][:size]
        end = len(self.history) if anchor is None else anchor + 1
        return [m for m in self.history if m["index"] < end][-size:]
