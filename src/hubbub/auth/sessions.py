"""The built-in users' session cookie as an authenticator.

A token request with a session cookie costs one HMAC (forged cookies stop here) and one
lookup by the secret's hash. On SQLite the lookup is a raw read on a private connection with
a prepared statement, a few microseconds; every process reads the same file, so a logout
anywhere is seen everywhere at the next request. Other stores are asked on a worker thread.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from hubbub.auth.base import Authorization, Refused
from hubbub.auth.cookies import (
    COOKIE_NAME,
    SessionCookies,
    cookie_name,
    cookie_values,
    same_origin,
)
from hubbub.store import NotFound, Store

#: ``secret_hash -> (identity, expires unix seconds)``, or ``None`` for no such session.
SessionLookup = Callable[[str], Awaitable[tuple[str, int] | None]]

_QUERY = (
    "SELECT u.identity, s.expires FROM login_sessions s "
    "JOIN login_users u ON u.sid = s.user_sid WHERE s.secret_hash = ?"
)


def sqlite_file(store: Store) -> str | None:
    """The database file of a SQLite store, or ``None`` for any other store."""
    if store.backend != "sqlite":
        return None
    # The SQL store keeps its engine on a private attribute; reading the URL there avoids
    # widening the public Store contract for one fast path.
    backend = getattr(store, "_backend", None)
    engine = getattr(backend, "engine", None)
    database = getattr(getattr(engine, "url", None), "database", None)
    return database if isinstance(database, str) and database else None


class SqliteSessions:
    """Session lookups straight on the SQLite file, from the event loop thread."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # Not mode=ro: a read-only connection cannot recreate the WAL index (-shm) when it
            # happens to be the only one left; query_only keeps it from writing all the same.
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only = 1")
            conn.execute("PRAGMA busy_timeout = 5000")
            self._conn = conn
        return self._conn

    def get(self, secret_hash: str) -> tuple[str, int] | None:
        """The session's identity and expiry, read now (no cache: a logout shows at once)."""
        # Autocommit: each query is its own read transaction and sees the latest commit (WAL).
        row: Any = self._connection().execute(_QUERY, (secret_hash,)).fetchone()
        return None if row is None else (row[0], row[1])

    async def __call__(self, secret_hash: str) -> tuple[str, int] | None:
        return self.get(secret_hash)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def store_sessions(store: Store) -> SessionLookup:
    """Session lookups through the store, on a worker thread (PostgreSQL and others)."""

    def lookup(secret_hash: str) -> tuple[str, int] | None:
        try:
            session = store.get_login_session(secret_hash)
        except NotFound:
            return None
        return session.identity, int(session.expires_at.timestamp())

    async def run(secret_hash: str) -> tuple[str, int] | None:
        return await run_in_threadpool(lookup, secret_hash)

    return run


def session_lookup(store: Store) -> SessionLookup:
    path = sqlite_file(store)
    return SqliteSessions(path) if path is not None else store_sessions(store)


def header(scope: Any, name: bytes) -> str | None:
    """One request header (lowercase ``name``) from the raw ASGI scope.

    The headers are turned into a dict once per request and kept in the scope: every
    authenticator and the endpoint ask for a few, and this is cheaper than ``Headers``.
    """
    headers = scope.get("hubbub.headers")
    if headers is None:
        headers = scope["hubbub.headers"] = dict(scope["headers"])
    value = headers.get(name)
    return None if value is None else str(value.decode("latin-1"))


def session_cookie_values(scope: Any, name: str = COOKIE_NAME) -> list[str]:
    """The request's session cookie values: those of the ``__Host-`` name over https, of the
    bare name over http."""
    raw = header(scope, b"cookie")
    if raw is None:
        return []
    return cookie_values(raw, cookie_name(scope.get("scheme") == "https", name))


def signed_hashes(cookies: SessionCookies, values: list[str]) -> set[str]:
    """The stored hashes that the values signed here stand for (the others are ignored)."""
    return {found for value in values if (found := cookies.open(value)) is not None}


class SessionAuthenticator:
    """Recognises a valid session cookie; refuses a cookie-carrying POST from another origin
    (CSRF).

    Over https only the ``__Host-`` cookie counts, which no other site can set. Several
    cookies of the name (over http, a sibling subdomain may add its own) are each checked:
    ones not signed here are ignored, and two different signed ones are refused, since which
    one the browser's user meant cannot be told.
    """

    def __init__(
        self,
        cookies: SessionCookies,
        lookup: SessionLookup,
        *,
        clock: Callable[[], float] = time.time,
        name: str = COOKIE_NAME,
    ) -> None:
        self._cookies = cookies
        self._lookup = lookup
        # The SQLite lookup is called directly: one coroutine less on the hot path.
        self._direct = lookup.get if isinstance(lookup, SqliteSessions) else None
        self._clock = clock
        self._name = name

    @property
    def synchronous(self) -> bool:
        """Whether ``check`` can decide without awaiting (the SQLite lookup)."""
        return self._direct is not None

    def _secret_hash(self, scope: Any) -> str | None:
        values = session_cookie_values(scope, self._name)
        if len(values) == 1:  # nearly always: one cookie, one HMAC
            return self._cookies.open(values[0])
        found = signed_hashes(self._cookies, values)
        return found.pop() if len(found) == 1 else None

    def _decide(self, scope: Any, found: tuple[str, int] | None) -> Authorization | None:
        if found is None or found[1] <= self._clock():
            return None
        if scope["method"] != "GET" and not same_origin(
            header(scope, b"origin"), scope.get("scheme", "http"), header(scope, b"host")
        ):
            raise Refused("cross-site request refused: the Origin is not this server")
        return Authorization(found[0])

    def check(self, scope: Any) -> Authorization | None:
        """``authenticate`` for a synchronous lookup, on the raw scope: the token endpoint's
        hot path, without a ``Request`` or a coroutine."""
        if self._direct is None:
            raise RuntimeError("this session lookup must be awaited: use authenticate()")
        secret_hash = self._secret_hash(scope)
        return None if secret_hash is None else self._decide(scope, self._direct(secret_hash))

    async def authenticate(self, request: Request) -> Authorization | None:
        scope = request.scope
        secret_hash = self._secret_hash(scope)
        if secret_hash is None:
            return None
        if self._direct is not None:
            return self._decide(scope, self._direct(secret_hash))
        return self._decide(scope, await self._lookup(secret_hash))
