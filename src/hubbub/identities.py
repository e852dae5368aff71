"""What an identity may be, one rule wherever it arrives: REST, the real-time gateway (in
commands and in the token a session authenticates with), ``/token`` and the CLI.

Twilio's rule (non-empty, at most 256 characters, not shaped like a User or Member SID), plus
text that every database, JSON encoder and page can hold: no control characters (NUL among
them) and no lone surrogates (only JSON's ``\\ud800`` escapes make them). Pure, and below
everything else, so the token minter can use it too.

Identities the service writes as an author itself are reserved: nobody may hold a token for
one, so no user can act as the service (the application's server may still name them over
REST).
"""

from __future__ import annotations

import re
from enum import Enum

MAX_IDENTITY = 256

#: The author hubbub writes for the application's server: messages posted and channels created
#: over REST without ``From`` or ``CreatedBy`` (``hubbub.chat.messages``, ``chat.channels``).
RESERVED = frozenset({"system"})

_SID_SHAPED = re.compile(r"(?:US|MB)[0-9a-f]{32}")
# C0 and C1 control characters, DEL, and surrogates (in a str, a surrogate is always lone).
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class Flaw(Enum):
    """Why an identity is refused; the value is the message, with ``{name}`` to fill in."""

    EMPTY = "{name} may not be empty"
    TOO_LONG = f"{{name}} is longer than {MAX_IDENTITY} characters"
    SID_SHAPED = "{name} may not look like a User or Member SID"
    NOT_TEXT = "{name} may not contain control characters or lone surrogates"
    RESERVED = "{name} is reserved for the service itself"

    def message(self, name: str) -> str:
        return self.value.format(name=name)


def is_text(value: str) -> bool:
    """Whether ``value`` has no control characters and no lone surrogates."""
    return _NOT_TEXT.search(value) is None


def flaw(identity: str) -> Flaw | None:
    """What is wrong with ``identity`` as any identity, or ``None``."""
    if not identity:
        return Flaw.EMPTY
    if len(identity) > MAX_IDENTITY:
        return Flaw.TOO_LONG
    if not is_text(identity):
        return Flaw.NOT_TEXT
    if _SID_SHAPED.fullmatch(identity):
        return Flaw.SID_SHAPED
    return None


def user_flaw(identity: str) -> Flaw | None:
    """What is wrong with ``identity`` for a user to hold a token for (a reserved one is)."""
    found = flaw(identity)
    if found is None and identity in RESERVED:
        return Flaw.RESERVED
    return found
