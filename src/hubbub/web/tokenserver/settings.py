"""The token server's settings: who may authenticate, token lifetimes, what to mint with, and
the rate limits. ``hubbub serve`` fills them from its options (see ``hubbub.settings``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from hubbub.auth.passwords import Passwords
from hubbub.auth.policy import check_limits
from hubbub.sids import is_sid

AUTHENTICATORS = ("users", "apitokens", "upstream")


@dataclass
class TokenSettings:
    """How the token server decides and mints; ``hubbub serve`` fills it from its options."""

    #: Built-in authenticators, in the order they are asked: users, apitokens, upstream.
    auth: Sequence[str] = ("users", "apitokens")
    upstream_url: str | None = None
    #: Seconds the upstream has for its whole answer, and how long answers are kept (0: not).
    upstream_timeout: float = 2.0
    upstream_cache: float = 5.0
    #: Default and maximum token lifetimes in seconds (requests above the maximum are clamped).
    ttl: int = 3600
    max_ttl: int = 3600
    #: The Chat Service (IS…) and API key (SK…) to mint with; default: the only service, and
    #: the oldest active key of its account.
    service_sid: str | None = None
    key_sid: str | None = None
    #: Cookie HMAC keys, newest first. Every worker must use the same ones: ``hubbub serve``
    #: derives them from the master key. ``None``: a random key, good for one process only.
    session_keys: Sequence[bytes] | None = None
    session_lifetime: int = 7 * 24 * 3600
    #: ``(burst, period seconds)`` per identity and per client address on ``/token``; None: off.
    #: A browser tab asks about once an hour, so 60 a minute per identity only stops a runaway
    #: client; an address may hide many people behind a NAT, hence ten times that.
    token_rate_identity: tuple[int, float] | None = (60, 60.0)
    token_rate_address: tuple[int, float] | None = (600, 60.0)
    #: Failed sign-ins allowed per username from one client address, per client address, and
    #: per username from all addresses together (addresses it signed in from skip the last).
    login_rate_username: tuple[int, float] | None = (5, 300.0)
    login_rate_address: tuple[int, float] | None = (30, 300.0)
    login_rate_username_total: tuple[int, float] | None = (100, 300.0)
    passwords: Passwords | None = field(default=None, repr=False)
    #: Password checks run at once per process (argon2id's default takes 64 MiB each); None:
    #: the number of CPUs, at most 4. A sign-in waits ``password_wait`` seconds for its turn,
    #: then gets 503.
    password_checks: int | None = None
    password_wait: float = 2.0

    def check(self) -> None:
        """Refuse settings that cannot work, with a one-line reason."""
        check_limits(self.ttl, self.max_ttl)
        unknown = [name for name in self.auth if name not in AUTHENTICATORS]
        if unknown:
            raise ValueError(
                f"unknown authenticator {unknown[0]!r}: choose from {', '.join(AUTHENTICATORS)}"
            )
        if "upstream" in self.auth and not self.upstream_url:
            raise ValueError("the upstream authenticator needs an upstream URL")
        if self.service_sid is not None and not is_sid(self.service_sid, "IS"):
            raise ValueError(f"not a Chat Service SID: {self.service_sid!r}")
        if self.key_sid is not None and not is_sid(self.key_sid, "SK"):
            raise ValueError(f"not an API key SID: {self.key_sid!r}")
        if not (math.isfinite(self.upstream_timeout) and 0 < self.upstream_timeout <= 600):
            raise ValueError(
                "the upstream timeout must be above 0 and at most 600 s, "
                f"not {self.upstream_timeout}"
            )
        if not (math.isfinite(self.upstream_cache) and self.upstream_cache >= 0):
            raise ValueError(f"the upstream cache must be 0 s or more, not {self.upstream_cache}")
        if self.password_checks is not None and self.password_checks < 1:
            raise ValueError("at least one password check must be allowed at a time")
        if not (math.isfinite(self.password_wait) and self.password_wait >= 0):
            raise ValueError(f"the password wait must be 0 s or more, not {self.password_wait}")
