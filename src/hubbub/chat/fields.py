"""What a chat resource's values may be, for the REST API and the real-time gateway alike: a
value is refused with the same code and message whichever way it arrives.

Each check takes the value as given (already known to be a string) and the name to use in the
error, which is the REST parameter's name or the protocol field's.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from hubbub import identities
from hubbub.chat.errors import (
    BODY_TOO_LONG,
    IDENTITY_LOOKS_LIKE_SID,
    IDENTITY_TOO_LONG,
    INVALID_ATTRIBUTES,
    INVALID_PARAMETER,
    INVALID_WEBHOOK_METHOD,
    UNIQUE_NAME_LOOKS_LIKE_SID,
    invalid,
)

#: Twilio's limit on a message body, and the one used for any other text field here.
MAX_TEXT = 32 * 1024
#: Attributes are JSON held in a string; 16 KiB is Twilio's limit for them.
MAX_ATTRIBUTES = 16 * 1024
#: Message indexes are 32-bit in the database.
MAX_INDEX = 2**31 - 1
MAX_NAME = 256
MAX_IDENTITY = identities.MAX_IDENTITY
#: The longest webhook URL taken, the service's and a channel's alike.
MAX_URL = 2048
WEBHOOK_METHODS = ("GET", "POST")

_CHANNEL_SID = re.compile(r"CH[0-9a-f]{32}")
# urlsplit quietly drops some of these (tabs, newlines, leading controls); a URL has none.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def body(value: str, name: str) -> str:
    if len(value.encode("utf-8")) > MAX_TEXT:
        raise invalid(f"{name} is longer than {MAX_TEXT} bytes", BODY_TOO_LONG)
    return value


def attributes(value: str, name: str) -> str:
    """A JSON document held in a string, as Twilio's ``attributes`` are."""
    if len(value) > MAX_ATTRIBUTES:
        raise invalid(f"{name} is {len(value)} characters; at most {MAX_ATTRIBUTES} are allowed")
    try:
        json.loads(value, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise invalid(f"{name} must be valid JSON", INVALID_ATTRIBUTES) from None
    return value


def attributes_value(value: object, name: str = "attributes") -> str:
    """``attributes`` as a JSON client sends them: a string holding JSON, as in the REST API,
    or the JSON value itself; ``{}`` when missing."""
    if value is None:
        return "{}"
    if not isinstance(value, str):
        # Decoded from a frame, so plain JSON; NaN and Infinity are not.
        try:
            value = json.dumps(value, separators=(",", ":"), allow_nan=False)
        except ValueError:
            raise invalid(f"{name} must be valid JSON", INVALID_ATTRIBUTES) from None
    return attributes(value, name)


def unique_name(value: str, name: str) -> str:
    if len(value) > MAX_NAME:
        raise invalid(f"{name} is longer than {MAX_NAME} characters")
    if _CHANNEL_SID.fullmatch(value):
        raise invalid(f"{name} may not look like a Channel SID", UNIQUE_NAME_LOOKS_LIKE_SID)
    return value


_IDENTITY_CODES = {
    identities.Flaw.TOO_LONG: IDENTITY_TOO_LONG,
    identities.Flaw.SID_SHAPED: IDENTITY_LOOKS_LIKE_SID,
}


def identity(value: str, name: str) -> str:
    """A case-sensitive, non-empty identity of at most 256 characters, not shaped like a SID,
    without control characters or lone surrogates (``hubbub.identities``)."""
    found = identities.flaw(value)
    if found is not None:
        raise invalid(found.message(name), _IDENTITY_CODES.get(found, INVALID_PARAMETER))
    return value


def webhook_url(value: str, name: str, code: int, *, too_long: int | None = None) -> str:
    """An absolute ``http`` or ``https`` URL with a host: where a webhook can be sent. A bad
    one is refused with ``code``, a long one with ``too_long`` when given."""
    if len(value) > MAX_URL:
        raise invalid(f"{name} is longer than {MAX_URL} characters", too_long or code)
    try:
        parts = urlsplit(value)
        absolute = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # a port that is not a number from 0 to 65535 raises
    except ValueError:
        absolute = False
    if not absolute or _SPACE_OR_CONTROL.search(value):
        raise invalid(f"{name} must be an absolute http or https URL, not {shown(value)}", code)
    return value


def webhook_method(value: str, name: str) -> str:
    """``GET`` or ``POST``, written so, as Twilio takes them."""
    if value not in WEBHOOK_METHODS:
        raise invalid(f"{name} must be GET or POST, not {shown(value)}", INVALID_WEBHOOK_METHOD)
    return value


def shown(value: str, limit: int = 80) -> str:
    """``value`` quoted for an error message, cut short if long."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _not_json(name: str) -> None:
    # json.loads takes NaN and Infinity, which no other JSON parser does.
    raise ValueError(f"{name} is not JSON")
