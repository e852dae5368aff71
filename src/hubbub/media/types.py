"""Content types of uploads: which a service allows, and which are safe to show inline.

Everything here is pure: strings in, answers out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

#: Twilio's limit on one upload, in MB (its ``media.size_limit_mb``); a service may set less.
MAX_SIZE_MB = 150
#: How many patterns ``Media.AllowedTypes`` may list.
MAX_PATTERNS = 50
#: What an upload without a content type is taken to be.
DEFAULT_TYPE = "application/octet-stream"

_NAME = r"[A-Za-z0-9!#$&^_.+-]{1,127}"  # an RFC 6838 type or subtype name
_TYPE = re.compile(rf"{_NAME}/{_NAME}")
_PATTERN = re.compile(rf"(?:\*/\*|{_NAME}/(?:\*|{_NAME}))")
_MAX_HEADER = 255
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")  # an RFC 9110 token
# Shown in place (an <img>, <audio> or <video>): kinds a browser renders without running
# script. SVG is an image that may carry script, so it is served as an attachment like the rest.
_INLINE_PREFIXES = ("image/", "audio/", "video/")
_NEVER_INLINE = ("xml", "html", "svg")


def is_pattern(pattern: str) -> bool:
    """Whether ``pattern`` is ``type/subtype``, ``type/*`` or ``*/*``."""
    return _PATTERN.fullmatch(pattern) is not None


def content_type(header: str | None) -> str | None:
    """The content type an upload declares, normalised: the lower-case ``type/subtype`` and at
    most its ``charset`` (a token); ``DEFAULT_TYPE`` when none is given; ``None`` when it is
    malformed. Other parameters are dropped, and one holding ``,`` or ``"`` is refused: a
    browser reads ``image/png;a=,text/html`` as HTML, so nothing but the checked type is kept."""
    if header is None or not header.strip():
        return DEFAULT_TYPE
    if len(header) > _MAX_HEADER or any(ord(c) < 0x20 or ord(c) > 0x7E for c in header):
        return None
    base, _, params = header.partition(";")
    base = base.strip().lower()
    if _TYPE.fullmatch(base) is None or "," in params or '"' in params:
        return None
    charset = None
    for param in params.split(";"):
        name, sep, value = param.partition("=")
        if not param.strip():
            continue
        if not sep or _TOKEN.fullmatch(name.strip()) is None:
            return None
        if name.strip().lower() == "charset":
            if _TOKEN.fullmatch(value.strip()) is None:
                return None
            charset = value.strip().lower()
    return base if charset is None else f"{base}; charset={charset}"


def served(stored: str) -> str:
    """The ``Content-Type`` to serve stored media with: its type checked again (rows written
    before parameters were dropped may hold any), else ``DEFAULT_TYPE``."""
    return content_type(stored) or DEFAULT_TYPE


def base_type(value: str) -> str:
    """``image/png`` of ``image/png; charset=x``."""
    return value.partition(";")[0].strip().lower()


def allowed(value: str, patterns: Sequence[str]) -> bool:
    """Whether a file of content type ``value`` may be uploaded where ``patterns`` are allowed
    (none: any)."""
    if not patterns:
        return True
    kind = base_type(value)
    major = kind.partition("/")[0]
    return any(p in ("*/*", kind) or p == f"{major}/*" for p in patterns)


def inline(value: str) -> bool:
    """Whether the bytes may be shown in place rather than downloaded: images (not SVG), audio
    and video. Anything else, HTML above all, would run on hubbub's origin if shown."""
    kind = base_type(value)
    return kind.startswith(_INLINE_PREFIXES) and not any(word in kind for word in _NEVER_INLINE)


def disposition(value: str, filename: str | None) -> str:
    """A ``Content-Disposition`` header for a file of type ``value`` named ``filename``: an
    ASCII fallback name and the exact one in UTF-8 (RFC 6266)."""
    kind = "inline" if inline(value) else "attachment"
    if not filename:
        return kind
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\%;' else "_" for c in filename)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
