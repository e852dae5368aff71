"""Frames and close codes of the real-time protocol (``docs/protocol.md``), without I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

#: The largest frame either side sends or accepts.
MAX_FRAME = 64 * 1024
#: The most WebSocket frames one client message may be split into (RFC 6455 fragments): each
#: costs the server a little work however small, so a message may not be made of thousands.
MAX_FRAGMENTS = 128


class CloseCode(IntEnum):
    """Why the server closed a connection, and so what the client should do next."""

    NORMAL = 1000
    GOING_AWAY = 1001
    SERVER_ERROR = 1011
    TRY_AGAIN_LATER = 1013
    AUTH_TIMEOUT = 4000
    TOKEN_INVALID = 4001
    TOKEN_EXPIRED = 4002
    KEY_REVOKED = 4003
    GONE = 4004
    PROTOCOL_VIOLATION = 4008
    FRAME_TOO_LARGE = 4009
    RATE_LIMITED = 4029


#: What each close code tells the client: reconnect, refresh the token first, or give up.
ADVICE: dict[CloseCode, str] = {
    CloseCode.NORMAL: "stop",
    CloseCode.GOING_AWAY: "reconnect",
    CloseCode.SERVER_ERROR: "reconnect",
    CloseCode.TRY_AGAIN_LATER: "reconnect",
    CloseCode.AUTH_TIMEOUT: "reconnect",
    CloseCode.TOKEN_INVALID: "refresh token, then reconnect",
    CloseCode.TOKEN_EXPIRED: "refresh token, then reconnect",
    CloseCode.KEY_REVOKED: "refresh token, then reconnect",
    CloseCode.GONE: "give up",
    CloseCode.PROTOCOL_VIOLATION: "give up",
    CloseCode.FRAME_TOO_LARGE: "give up",
    CloseCode.RATE_LIMITED: "reconnect",
}


class ProtocolViolation(Exception):
    """A frame that breaks the protocol; the connection closes with ``code``."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Command:
    """A decoded client command."""

    id: str | int
    type: str
    params: dict[str, Any]


def decode(text: str) -> Command:
    """Parse one client frame, or raise ``ProtocolViolation``."""
    if len(text) > MAX_FRAME:
        raise ProtocolViolation(CloseCode.FRAME_TOO_LARGE, f"frames are at most {MAX_FRAME} bytes")
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        raise ProtocolViolation(
            CloseCode.PROTOCOL_VIOLATION, "a frame is one JSON object"
        ) from None
    if not isinstance(frame, dict):
        raise ProtocolViolation(CloseCode.PROTOCOL_VIOLATION, "a frame is one JSON object")
    if ("\\ud" in text or "\\uD" in text) and _has_lone_surrogate(frame):
        # A \ud800-style escape without its pair decodes to a string that no UTF-8 encoder,
        # database or peer takes; refuse it here rather than fail somewhere downstream.
        raise ProtocolViolation(CloseCode.PROTOCOL_VIOLATION, "strings must be valid Unicode")
    command_id = frame.pop("id", None)
    kind = frame.pop("type", None)
    if not isinstance(command_id, str | int) or isinstance(command_id, bool):
        raise ProtocolViolation(CloseCode.PROTOCOL_VIOLATION, "a command needs an id")
    if not isinstance(kind, str):
        raise ProtocolViolation(CloseCode.PROTOCOL_VIOLATION, "a command needs a type")
    return Command(command_id, kind, frame)


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def text_frame(data: bytes, opcode: int = 0x1) -> bytes:
    """``data`` as one unmasked, uncompressed WebSocket text frame (RFC 6455 section 5.2), or
    of another ``opcode`` (0x2, binary): what a server sends, byte for byte the same to every
    client, so it is built once per event."""
    size = len(data)
    first = 0x80 | opcode
    if size < 126:
        header = bytes((first, size))
    elif size < 65536:
        header = bytes((first, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((first, 127)) + size.to_bytes(8, "big")
    return header + data


class Outgoing:
    """A frame on its way to one or many connections, encoded at most once."""

    __slots__ = ("_data", "_text", "_wire", "derived", "frame")
    #: Whether the frame goes as a binary WebSocket message (twilsock's) rather than text.
    binary = False

    def __init__(self, frame: dict[str, Any]) -> None:
        self.frame = frame
        self._text: str | None = None
        self._data: bytes | None = None
        self._wire: bytes | None = None
        #: What another protocol's connections send for this frame (``twilsock.link``): made
        #: by the first of them, for all.
        self.derived: Any = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = encode(self.frame)
        return self._text

    @property
    def data(self) -> bytes:
        """The frame's UTF-8 JSON."""
        if self._data is None:
            self._data = self.text.encode()
        return self._data

    @property
    def wire(self) -> bytes:
        """The whole WebSocket frame, for connections without compression."""
        if self._wire is None:
            self._wire = text_frame(self.data)
        return self._wire


class BinaryOutgoing(Outgoing):
    """A frame already encoded (bytes), sent as a binary WebSocket message."""

    __slots__ = ()
    binary = True

    def __init__(self, data: bytes) -> None:
        super().__init__({})
        self._data = data

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = text_frame(self.data, 0x2)
        return self._wire


def reply(command_id: str | int, result: dict[str, Any]) -> dict[str, Any]:
    return {"id": command_id, "type": "reply", "ok": True, "result": result}


def error_reply(command_id: str | int, error: dict[str, Any]) -> dict[str, Any]:
    return {"id": command_id, "type": "reply", "ok": False, "error": error}
