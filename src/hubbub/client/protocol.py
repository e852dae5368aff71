"""Frames of the real-time protocol (``docs/protocol.md``) and command bookkeeping. No I/O.

``encode_command`` turns a command into a text frame, ``decode`` a received frame into a
``Reply`` or a ``Push``, and ``Requests`` hands out increasing ids and matches replies to the
commands waiting for them, each with a deadline on whatever clock the caller uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hubbub.client.errors import FrameTooLarge

#: The largest frame the server accepts, in bytes of UTF-8.
MAX_FRAME = 64 * 1024

W = TypeVar("W")


class MalformedFrame(ValueError):
    """The server sent something that is not a protocol frame."""


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to the command with this ``id``: ``result`` if ``ok``, else ``error``."""

    id: int | str
    ok: bool
    result: dict[str, Any]
    error: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Push:
    """An event from the server: ``type`` names it, ``data`` is the rest of the frame."""

    type: str
    data: dict[str, Any]


def encode_command(command_id: int, kind: str, params: dict[str, Any]) -> str:
    """One command as a text frame; ``FrameTooLarge`` rather than a frame the server refuses."""
    # id and type first: a frame cut short in a log still says what it was, token unseen.
    frame: dict[str, Any] = {"id": command_id, "type": kind}
    frame.update((name, value) for name, value in params.items() if name not in frame)
    text = json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode("utf-8")) > MAX_FRAME:
        raise FrameTooLarge(f"a {kind} command does not fit in {MAX_FRAME} bytes")
    return text


def decode(text: str) -> Reply | Push:
    """Parse one frame from the server, or raise ``MalformedFrame``."""
    try:
        frame = json.loads(text)
    except ValueError:
        raise MalformedFrame("not JSON") from None
    if not isinstance(frame, dict):
        raise MalformedFrame("not a JSON object")
    kind = frame.pop("type", None)
    if not isinstance(kind, str):
        raise MalformedFrame("no type")
    if kind == "reply":
        command_id = frame.get("id")
        if not isinstance(command_id, int | str) or isinstance(command_id, bool):
            raise MalformedFrame("a reply without an id")
        result = frame.get("result")
        error = frame.get("error")
        return Reply(
            command_id,
            frame.get("ok") is True,
            result if isinstance(result, dict) else {},
            error if isinstance(error, dict) else {},
        )
    return Push(kind, frame)


@dataclass(frozen=True, slots=True)
class Pending(Generic[W]):
    id: int
    deadline: float
    waiter: W


class Requests(Generic[W]):
    """Commands in flight: ids in increasing order, each with a waiter and a deadline.

    A reply settles at most one waiter; a reply to an unknown or forgotten id (its caller
    timed out, or was cancelled) is dropped, so a late answer is never taken for another's.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._last_id = 0
        self._pending: dict[int, Pending[W]] = {}

    def begin(self, waiter: W, now: float) -> Pending[W]:
        """Register a command about to be sent; its reply is due by ``now + timeout``."""
        self._last_id += 1
        pending = Pending(self._last_id, now + self.timeout, waiter)
        self._pending[pending.id] = pending
        return pending

    def settle(self, reply: Reply) -> W | None:
        """The waiter this reply answers, removed from the table; ``None`` if nobody waits."""
        if not isinstance(reply.id, int):
            return None
        pending = self._pending.pop(reply.id, None)
        return None if pending is None else pending.waiter

    def forget(self, command_id: int) -> None:
        """Stop waiting for one command (its caller gave up)."""
        self._pending.pop(command_id, None)

    def drain(self) -> list[W]:
        """Remove and return every waiter: the connection they were sent on is gone."""
        waiters = [p.waiter for p in self._pending.values()]
        self._pending.clear()
        return waiters

    def __len__(self) -> int:
        return len(self._pending)
