"""What to do when the connection ends, and how long to wait before trying again. No I/O.

The close codes are those of ``docs/protocol.md``; ``after_close`` turns one into an
``Action``, and ``Backoff`` spaces out the attempts: exponential, capped, and jittered so that
clients dropped together by a restarting server do not all come back in the same instant.
"""

from __future__ import annotations

import random
from enum import Enum, IntEnum


class CloseCode(IntEnum):
    """Close codes the server uses (1006 is what a dropped connection looks like)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    ABNORMAL = 1006
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


class Action(Enum):
    """The client's next step after a close."""

    STOP = "stop"
    RECONNECT = "reconnect"
    REFRESH_THEN_RECONNECT = "refresh token, then reconnect"
    DENIED = "denied"
    GIVE_UP = "give up"


#: Codes that say the token is no good: a provider can fetch another, a fixed token cannot.
TOKEN_CODES = frozenset({CloseCode.TOKEN_INVALID, CloseCode.TOKEN_EXPIRED, CloseCode.KEY_REVOKED})

#: Codes after which trying again cannot help: the service is gone, or this client is broken.
#: 1002/1003/1007/1008/1009/1010 are WebSocket-level versions of the same complaint.
FATAL_CODES = frozenset({4004, 4008, 4009, 1002, 1003, 1007, 1008, 1009, 1010})


def after_close(code: int | None, *, can_refresh: bool) -> Action:
    """The next step after the server closed with ``code`` (``None``: no close frame at all).

    Anything not known to be fatal is retried: a dropped connection, a restart (1001), a server
    error (1011), a rate limit (4029), a newer server's codes. Backoff keeps that polite.
    """
    if code == CloseCode.NORMAL:
        return Action.STOP
    if code in TOKEN_CODES:
        return Action.REFRESH_THEN_RECONNECT if can_refresh else Action.DENIED
    if code in FATAL_CODES:
        return Action.GIVE_UP
    return Action.RECONNECT


class Backoff:
    """Delays before successive reconnection attempts.

    Attempt ``n`` (from 0) waits between half and all of ``min(cap, initial * factor**n)``
    seconds, so delays grow quickly yet never exceed ``cap`` and never fall to zero.
    """

    def __init__(
        self,
        initial: float = 0.5,
        cap: float = 30.0,
        factor: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial <= cap or factor < 1:
            raise ValueError("need 0 < initial <= cap and factor >= 1")
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self.attempts = 0
        self._ceiling = initial
        # Jitter only; nothing secret depends on it.
        self._rng = rng or random.Random()  # noqa: S311

    def next_delay(self) -> float:
        """The wait before the next attempt; each call counts as one attempt."""
        ceiling = self._ceiling
        self._ceiling = min(self.cap, ceiling * self.factor)
        self.attempts += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        """A connection held: start again from short delays."""
        self.attempts = 0
        self._ceiling = self.initial
