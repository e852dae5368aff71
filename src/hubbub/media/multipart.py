"""``multipart/form-data`` bodies (RFC 7578), as a browser's FormData sends them, parsed as
they arrive by python-multipart's streaming ``MultipartParser`` (the parser Starlette uses).

This module only turns the library's callbacks into events (a part's headers, its bytes, its
end) and holds hubbub's promises: a part's headers take at most ``MAX_HEADERS`` bytes, the
boundary is one RFC 2046 allows, each part is ``form-data``, the body ends with its closing
delimiter, and every fault is a :class:`MultipartError`. Nothing more than a part's headers
and the chunk being fed is held. No I/O.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

#: The most a part's headers may take (names, values and 4 bytes a line for ``: `` and CRLF).
MAX_HEADERS = 16 * 1024
# A malformed body is the client's mistake, answered with a 400; the library's own warning of
# it would only fill the operator's log.
logging.getLogger("python_multipart").setLevel(logging.ERROR)
_BOUNDARY = re.compile(rb"[0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-]")


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
    # Starlette decodes headers as latin-1, so this gives back the bytes that were sent.
    kind, params = parse_options_header(content_type.encode("latin-1", "replace"))
    if kind != b"multipart/form-data":
        return None
    value = params.get(b"boundary")
    if value is None or _BOUNDARY.fullmatch(value) is None:
        raise MultipartError("multipart/form-data needs a boundary of 1 to 70 characters")
    return value.decode("ascii")


class Parser:
    """Feed it the body with :meth:`feed`; call :meth:`close` at its end."""

    def __init__(self, boundary: str) -> None:
        self._events: list[Event] = []
        self._headers: dict[str, bytes] = {}
        self._name = bytearray()
        self._value = bytearray()
        self._size = 0  # of the current part's headers
        self._done = False
        self._parser = MultipartParser(
            boundary.encode("ascii"),
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
            # The library's own per-line and per-count limits, loose enough that MAX_HEADERS,
            # counted here over all of a part's header lines, is the one that holds.
            max_header_count=MAX_HEADERS // 4,
            max_header_size=MAX_HEADERS,
        )

    @property
    def done(self) -> bool:
        """Whether the closing delimiter was seen."""
        return self._done

    def feed(self, data: bytes) -> list[Event]:
        """The events the next piece of the body completes, in order."""
        try:
            self._parser.write(data)
        except FormParserError as exc:
            # The library's message says what was wrong and where; ours says it is the body's.
            raise MultipartError(f"the multipart body is not well-formed: {exc}") from None
        finally:
            events, self._events = self._events, []
        return events

    def close(self) -> None:
        """At the body's end: refuse one that stopped before its closing delimiter."""
        if not self._done:
            raise MultipartError("the multipart body ends before its closing boundary")

    # -- the library's callbacks -------------------------------------------------------------
    def _part_begin(self) -> None:
        self._headers = {}
        self._size = 0

    def _count(self, size: int) -> None:
        self._size += size
        if self._size > MAX_HEADERS:
            raise MultipartError(f"a part's headers take more than {MAX_HEADERS} bytes")

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._count(end - start)
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._count(end - start)
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._count(4)  # ": " and CRLF: so many short lines count as what they take
        name = self._name.decode("ascii").lower()  # the library lets only token bytes in
        self._headers[name] = bytes(self._value).strip(b" \t")
        self._name.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        # Given bytes, parse_options_header reads them as latin-1 and gives back the same bytes.
        kind, params = parse_options_header(self._headers.get("content-disposition", b""))
        if kind != b"form-data":
            raise MultipartError("each part needs Content-Disposition: form-data")
        # Browsers send names (and any header) in UTF-8.
        headers = {key: value.decode("utf-8", "replace") for key, value in self._headers.items()}
        name, filename = params.get(b"name"), params.get(b"filename")
        self._events.append(
            Part(
                None if name is None else name.decode("utf-8", "replace"),
                None if filename is None else filename.decode("utf-8", "replace"),
                headers.get("content-type"),
                headers,
            )
        )

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(Data(data if start == 0 and end == len(data) else data[start:end]))

    def _part_end(self) -> None:
        self._events.append(End())

    def _end(self) -> None:
        self._done = True
