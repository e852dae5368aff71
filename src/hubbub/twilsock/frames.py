"""twilsock frames, without I/O: ``TWILSOCK V3.0 <header bytes>\\r\\n<header JSON>\\r\\n<payload>``.

Each frame is one binary WebSocket message: a magic line with the header's length in bytes, the
header (a JSON object with ``method``, ``id`` and, when there is a payload, its ``payload_size``
and ``payload_type``), then the payload. ``parse`` refuses anything else with ``FrameError``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

#: The largest frame either side sends or accepts (the SDKs send small requests; a page of
#: history comes back in a reply, which this does not bound).
MAX_FRAME = 256 * 1024
MAGIC = b"TWILSOCK V3.0 "
_ids = itertools.count(1)


class FrameError(Exception):
    """A frame that is not twilsock: the connection closes (406, which the SDKs treat as fatal)."""


@dataclass(frozen=True, slots=True)
class Frame:
    header: dict[str, Any]
    payload: bytes

    @property
    def method(self) -> str:
        method = self.header.get("method")
        return method if isinstance(method, str) else ""

    @property
    def id(self) -> str:
        frame_id = self.header.get("id")
        return frame_id if isinstance(frame_id, str) else ""

    def body(self) -> Any:
        """The payload: JSON, or a form as a dict, by its ``payload_type``; ``None`` if empty.
        Raises ``ValueError`` if it is not what its type says."""
        if not self.payload:
            return None
        kind = str(self.header.get("payload_type") or "application/json")
        text = self.payload.decode()
        if kind.startswith("application/x-www-form-urlencoded"):
            return dict(parse_qsl(text, keep_blank_values=True))
        if kind.startswith("application/json"):
            return json.loads(text)
        return text


def parse(data: bytes) -> Frame:
    if len(data) > MAX_FRAME:
        raise FrameError(f"frames are at most {MAX_FRAME} bytes")
    if not data.startswith(MAGIC):
        raise FrameError("not a TWILSOCK V3.0 frame")
    end = data.find(b"\r\n", len(MAGIC), len(MAGIC) + 12)
    size_text = data[len(MAGIC) : end]
    if end < 0 or not size_text.isdigit():
        raise FrameError("the magic line names no header length")
    start = end + 2
    size = int(size_text)
    raw = data[start : start + size]
    if len(raw) != size or data[start + size : start + size + 2] not in (b"\r\n", b""):
        raise FrameError("the header is not as long as the magic line says")
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):
        raise FrameError("the header is not JSON") from None
    if not isinstance(header, dict):
        raise FrameError("the header is not a JSON object")
    payload = data[start + size + 2 :]
    declared = header.get("payload_size")
    if declared is None:
        declared = 0
    if type(declared) is not int or declared != len(payload):
        raise FrameError("payload_size does not match the payload")
    return Frame(header, bytes(payload))


def encode(header: dict[str, Any], payload: Any = None) -> bytes:
    """One frame; ``payload`` is JSON-encoded unless it is bytes already."""
    if payload is None:
        body = b""
    elif isinstance(payload, bytes):
        body = payload
    else:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    header = {**header, "payload_size": len(body)}
    if body and "payload_type" not in header:
        header["payload_type"] = "application/json"
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    return b"%s%d\r\n%s\r\n%s" % (MAGIC, len(head), head, body)


def new_id() -> str:
    """An id for a frame this server starts (a notification, a client update)."""
    return f"TM{next(_ids):032x}"


def reply(frame_id: str, code: int = 200, status: str = "OK", **fields: Any) -> dict[str, Any]:
    """The header of a ``reply`` to the client's frame ``frame_id``."""
    return {"method": "reply", "id": frame_id, "status": {"code": code, "status": status}, **fields}
