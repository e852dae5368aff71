"""Pick the backend from a database URL."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from hubbub.store.db import Backend


def connect(url: str) -> Backend:
    """A backend for ``sqlite:///path`` or ``postgresql://...`` (no connection is made yet)."""
    parsed = make_url(url)
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        from hubbub.store.sqlite import sqlite_backend

        return sqlite_backend(parsed)
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        # Imported here so that SQLite users never need the PostgreSQL driver.
        from hubbub.store.postgres import postgres_backend

        return postgres_backend(parsed)
    raise ValueError(
        f"unsupported database URL {parsed!r}: use sqlite:///path or postgresql://user:pass@host/db"
    )
