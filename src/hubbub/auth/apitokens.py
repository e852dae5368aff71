"""Operator-made bearer tokens (``Authorization: Bearer hbt_…``) as an authenticator.

Only the token's SHA-256 is stored. A lookup result is kept for ``ttl`` seconds (one by
default), which bounds how long a revoked token keeps working in other processes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from hubbub.auth.base import Authorization
from hubbub.auth.cookies import secret_hash
from hubbub.auth.sessions import header
from hubbub.store import NotFound, Store

PREFIX = "hbt_"
_CACHE_LIMIT = 10_000


def new_api_token() -> str:
    """A fresh bearer token: the prefix (so leaked ones are recognisable) and 256 random bits."""
    return PREFIX + secrets.token_urlsafe(32)


class ApiTokenAuthenticator:
    """Recognises ``Authorization: Bearer`` tokens made with ``hubbub apitokens create``."""

    def __init__(
        self,
        store: Store,
        *,
        inline: bool,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._inline = inline
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[str | None, float]] = {}

    def _identity(self, token_hash: str) -> str | None:
        try:
            token = self._store.find_api_token(token_hash)
        except NotFound:
            return None
        return None if token.revoked else token.identity

    async def authenticate(self, request: Request) -> Authorization | None:
        value = header(request.scope, b"authorization")
        if value is None:
            return None
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith(PREFIX) or len(token) > 200:
            return None
        token_hash = secret_hash(token)
        now = self._clock()
        cached = self._cache.get(token_hash)
        if cached is not None and cached[1] > now:
            identity = cached[0]
        else:
            if self._inline:
                identity = self._identity(token_hash)
            else:
                identity = await run_in_threadpool(self._identity, token_hash)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[token_hash] = (identity, now + self._ttl)
        return None if identity is None else Authorization(identity)
