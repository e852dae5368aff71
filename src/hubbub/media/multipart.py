"""A streaming parser of ``multipart/form-data`` bodies (RFC 7578), as a browser's FormData
sends them: fed the body as it arrives, it hands back each part's headers and then its bytes,
never holding more than a part's headers and a delimiter's length of data. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: The most a part's headers may take.
MAX_HEADERS = 16 * 1024
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,./:=? -]{1,70}")
_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


class MultipartError(ValueError):
    """The body is not well-formed multipart."""


@dataclass(frozen=True, slots=True)
class Part:
    """A part's headers: its form field name, file name and content type (if given)."""

    name: str | None
    filename: str | None
    content_type: str | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Data:
    """Bytes of the part last started."""

    data: bytes


@dataclass(frozen=True, slots=True)
class End:
    """The part last started is complete."""


Event = Part | Data | End


def boundary(content_type: str) -> str | None:
    """The boundary of a ``multipart/form-data`` Content-Type, or ``None`` if it is not one."""
    kind, _, rest = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    params = _params(";" + rest)
    value = params.get("boundary")
    if value is None or _BOUNDARY.fullmatch(value) is None or value.endswith(" "):
        raise MultipartError("multipart/form-data needs a boundary of 1 to 70 characters")
    return value


def _params(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _PARAM.finditer(text):
        name, value = match.group(1).lower(), match.group(2).strip()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        found.setdefault(name, value)
    return found


class Parser:
    """Feed it the body with :meth:`feed`; call :meth:`close` at its end."""

    def __init__(self, boundary: str) -> None:
        self._delimiter = b"\r\n--" + boundary.encode("ascii")
        # The first delimiter may open the body without the CRLF before it.
        self._buffer = bytearray(b"\r\n")
        self._state = "preamble"

    @property
    def done(self) -> bool:
        """Whether the closing delimiter was seen."""
        return self._state == "epilogue"

    def feed(self, data: bytes) -> list[Event]:
        if self._state == "epilogue":
            return []
        self._buffer += data
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def close(self) -> None:
        if self._state != "epilogue":
            raise MultipartError("the multipart body ends before its closing boundary")

    def _step(self, events: list[Event]) -> bool:
        """Parse what the buffer allows in the current state; whether to go on."""
        buffer = self._buffer
        if self._state in ("preamble", "body"):
            at = buffer.find(self._delimiter)
            if at < 0:
                keep = len(self._delimiter) - 1
                if self._state == "body" and len(buffer) > keep:
                    events.append(Data(bytes(buffer[: len(buffer) - keep])))
                if len(buffer) > keep:
                    del buffer[: len(buffer) - keep]
                return False
            if self._state == "body":
                if at:
                    events.append(Data(bytes(buffer[:at])))
                events.append(End())
            del buffer[: at + len(self._delimiter)]
            self._state = "delimiter"
            return True
        if self._state == "delimiter":
            if len(buffer) < 2:
                return False
            if buffer[:2] == b"--":
                self._state = "epilogue"
                buffer.clear()
                return False
            # Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > 1024:
                    raise MultipartError("a multipart boundary is followed by garbage")
                return False
            if buffer[:end].strip(b" \t"):
                raise MultipartError("a multipart boundary is followed by garbage")
            del buffer[: end + 2]
            self._state = "headers"
            return True
        if self._state == "headers":
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEADERS:
                    raise MultipartError(f"a part's headers take more than {MAX_HEADERS} bytes")
                return False
            events.append(_part(bytes(buffer[:end])))
            # What follows the blank line is the body, up to the CRLF that opens a delimiter.
            del buffer[: end + 4]
            self._state = "body"
            return True
        return False  # epilogue: ignored


def _part(raw: bytes) -> Part:
    headers: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise MultipartError("a part's header line has no colon")
        headers[name.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    kind, _, rest = disposition.partition(";")
    if kind.strip().lower() != "form-data":
        raise MultipartError("each part needs Content-Disposition: form-data")
    params = _params(";" + rest)
    return Part(params.get("name"), params.get("filename"), headers.get("content-type"), headers)
