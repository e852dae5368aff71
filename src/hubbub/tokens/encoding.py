"""Base64url without padding, and JSON, both strict on input.

Strictness matters for a token format: if two spellings of the same bytes were accepted, a
token could be altered without touching what its signature covers. So decoding accepts only
the one canonical spelling of each value and raises ``ValueError`` for everything else.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as json_escape
from typing import Any

__all__ = [
    "DuplicateKey",
    "b64url_decode",
    "b64url_encode",
    "json_dumps_compact",
    "json_escape",
    "json_loads_strict",
]

_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
# Decoding maps the URL-safe alphabet onto the standard one and every character that is
# only valid in the standard one (and padding) onto "!", which binascii's strict mode then
# refuses along with anything else outside the alphabet: one pass checks and converts.
_FROM_URLSAFE = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")

# In the last character of an unpadded encoding, the bits past the end of the data must be
# zero. With 2 characters left over only 4 bits carry data, with 3 characters 2 bits do.
_CANONICAL_LAST: tuple[frozenset[int], ...] = (
    frozenset(),
    frozenset(),
    frozenset(b"AQgw"),
    frozenset(b"AEIMQUYcgkosw048"),
)


def b64url_encode(data: bytes) -> bytes:
    """Base64url-encode ``data`` without padding."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


def b64url_decode(text: str | bytes) -> bytes:
    """Decode canonical unpadded base64url; raise ``ValueError`` for any other spelling."""
    raw = text.encode("ascii") if isinstance(text, str) else text
    rest = len(raw) % 4
    if rest == 1 or (rest and raw[-1] not in _CANONICAL_LAST[rest]):
        raise ValueError("not canonical base64url")
    try:
        return binascii.a2b_base64(raw.translate(_FROM_URLSAFE) + _PADDING[rest], strict_mode=True)
    except binascii.Error:
        raise ValueError("not base64url: only A-Z a-z 0-9 - _ may appear, and no padding") from None


class DuplicateKey(ValueError):
    """A JSON object named the same key twice."""


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRICT_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_no_constants)


_scan_once: Callable[[str, int], tuple[Any, int]] = _STRICT_DECODER.scan_once  # type: ignore[attr-defined]


def json_loads_strict(data: bytes) -> Any:
    """Parse UTF-8 JSON, refusing duplicate keys, NaN/Infinity and runaway nesting."""
    try:
        text = data.decode("utf-8")
        # The C scanner alone, when the value fills the text exactly (every helper library
        # writes it so); decode() adds two regex passes for surrounding white space.
        try:
            value, end = _scan_once(text, 0)
        except StopIteration:
            end = -1
        if end == len(text):
            return value
        return _STRICT_DECODER.decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None


_COMPACT = json.JSONEncoder(separators=(",", ":"))
# The C encoder behind json.dumps, built once: half the cost of JSONEncoder.encode, which
# builds it anew on every call. Pure-Python interpreters go the documented way.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_encoder = (
    _c_make_encoder(None, _COMPACT.default, json_escape, None, ":", ",", False, False, True)
    if _c_make_encoder is not None
    else None
)


def json_dumps_compact(value: Any) -> str:
    """JSON as twilio-python writes it: no spaces, insertion order, ``\\uXXXX`` escapes."""
    if _c_encoder is not None:
        return "".join(_c_encoder(value, 0))
    return _COMPACT.encode(value)
