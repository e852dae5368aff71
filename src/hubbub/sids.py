"""Twilio-shaped SIDs: a two-letter prefix and 32 lowercase hex digits."""

from __future__ import annotations

import re
import secrets
from typing import TypeGuard

#: Prefixes of the resources hubbub knows, by what they name.
ACCOUNT = "AC"
API_KEY = "SK"
CHAT_SERVICE = "IS"

_SHAPE = re.compile(r"[A-Z]{2}[0-9a-f]{32}")


_KNOWN_LIMIT = 4096
_known: set[str] = set()


def is_sid(value: object, prefix: str) -> TypeGuard[str]:
    """True when ``value`` is a string of the form ``prefix`` + 32 lowercase hex digits."""
    if type(value) is not str:
        return False
    # Every token names the same few SIDs again and again; a set lookup spares the regex.
    if value in _known:
        return value[:2] == prefix
    if len(value) != 34 or value[:2] != prefix or _SHAPE.fullmatch(value) is None:
        return False
    if len(_known) >= _KNOWN_LIMIT:
        _known.clear()
    _known.add(value)
    return True


def new_sid(prefix: str) -> str:
    """A fresh random SID with the given two-letter prefix."""
    if len(prefix) != 2 or not prefix.isupper():
        raise ValueError(f"a SID prefix is two capital letters, not {prefix!r}")
    return prefix + secrets.token_hex(16)
