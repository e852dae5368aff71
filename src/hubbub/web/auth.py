"""HTTP Basic authentication as Twilio's REST API does it.

The username is an Account SID (password: the auth token) or an API Key SID (password: its
secret). Checking either means a store lookup and a hash or a decryption, so a success is
remembered for a few seconds under a keyed digest of the password; revoking a key forgets it
at once in this process, and within ``ttl`` everywhere else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from hubbub import sids
from hubbub.chat.errors import unauthorized

_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: an account, through its auth token or one of its API keys."""

    account_sid: str
    key_sid: str | None


#: ``account_sid -> stored auth token hash``, or ``None`` for an unknown or closed account.
AccountLookup = Callable[[str], str | None]
#: ``key_sid -> (account_sid, secret)``, or ``None`` for an unknown or revoked key.
KeyLookup = Callable[[str], tuple[str, str] | None]
#: ``(auth_token, stored_hash) -> matches``.
TokenCheck = Callable[[str, str], bool]


class BasicAuth:
    """Turns an ``Authorization`` header into a ``Principal`` or a 401 ``ApiError``."""

    def __init__(
        self,
        accounts: AccountLookup,
        keys: KeyLookup,
        check_token: TokenCheck,
        *,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = accounts
        self._keys = keys
        self._check_token = check_token
        self._ttl = ttl
        self._clock = clock
        self._pepper = secrets.token_bytes(32)
        self._cache: dict[tuple[str, bytes], tuple[Principal, float]] = {}

    def authenticate(self, header: str | None) -> Principal:
        username, password = parse_basic(header)
        digest = hmac.digest(self._pepper, password.encode("utf-8"), hashlib.sha256)
        cache_key = (username, digest)
        now = self._clock()
        cached = self._cache.get(cache_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        principal = self._check(username, password)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[cache_key] = (principal, now + self._ttl)
        return principal

    def forget(self, username: str) -> None:
        """Drop what is remembered for ``username`` (a revoked key, a rotated auth token)."""
        for cache_key in [k for k in self._cache if k[0] == username]:
            del self._cache[cache_key]

    def _check(self, username: str, password: str) -> Principal:
        if sids.is_sid(username, sids.ACCOUNT):
            stored = self._accounts(username)
            if stored is not None and self._check_token(password, stored):
                return Principal(username, None)
        elif sids.is_sid(username, sids.API_KEY):
            found = self._keys(username)
            if found is not None and hmac.compare_digest(found[1].encode(), password.encode()):
                return Principal(found[0], username)
        raise unauthorized()


def parse_basic(header: str | None) -> tuple[str, str]:
    """``(username, password)`` from a Basic ``Authorization`` header, or a 401."""
    if not header:
        raise unauthorized()
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise unauthorized()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text, or not UTF-8 inside
        raise unauthorized() from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise unauthorized()
    return username, password
