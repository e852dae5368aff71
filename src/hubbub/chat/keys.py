"""API key secrets, looked up from the store for HTTP Basic auth and for ``tokens.verify``.

Secrets are stored encrypted; decrypting one costs tens of microseconds, so a looked-up
secret is kept for ``ttl`` seconds (one by default). That bounds how long a revoked key keeps
working in a process that did not revoke it; the one that did calls ``forget``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hubbub.crypto import SecretBox
from hubbub.store import NotFound, Store

_CACHE_LIMIT = 10_000


class KeyRing:
    """``key_sid -> (account_sid, secret)`` for active keys of active accounts, briefly cached."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        *,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._box = box
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[tuple[str, str] | None, float]] = {}

    def lookup(self, key_sid: str) -> tuple[str, str] | None:
        """The key's account and secret, or ``None`` for an unknown or revoked key."""
        now = self._clock()
        cached = self._cache.get(key_sid)
        if cached is not None and cached[1] > now:
            return cached[0]
        found: tuple[str, str] | None = None
        try:
            key = self._store.get_api_key(key_sid)
            if not key.revoked and self._store.get_account(key.account_sid).status == "active":
                found = (key.account_sid, self._box.decrypt(key.encrypted_secret))
        except NotFound:
            pass
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key_sid] = (found, now + self._ttl)
        return found

    def forget(self, key_sid: str) -> None:
        self._cache.pop(key_sid, None)

    def secrets_for(self, account_sid: str | None = None) -> Callable[[str], str | None]:
        """A ``secrets`` callable for ``hubbub.tokens.verify``.

        With ``account_sid``, keys of any other account are unknown: a token signed with
        another account's key fails with 20103 whatever its ``sub`` says.
        """

        def secret(key_sid: str) -> str | None:
            found = self.lookup(key_sid)
            if found is None or (account_sid is not None and found[0] != account_sid):
                return None
            return found[1]

        return secret
