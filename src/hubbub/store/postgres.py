"""PostgreSQL through psycopg 3, imported only when a ``postgresql://`` URL is opened.

Nothing here serializes writers: the message index comes from ``UPDATE ... RETURNING`` on the
channel row, whose row lock queues concurrent senders until commit (READ COMMITTED re-reads the row
after the wait, so each sees the previous sender's increment).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Insert, Table, create_engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from hubbub.store.db import Backend

_UNIQUE_VIOLATION = "23505"


def _begin(conn: Connection, write: bool) -> None:
    """Nothing to do: SQLAlchemy begins (READ COMMITTED) and row locks order the writers."""


def _insert_ignore(table: Table, columns: Sequence[str]) -> Insert:
    return pg_insert(table).on_conflict_do_nothing(index_elements=list(columns))


def _is_unique_violation(exc: IntegrityError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == _UNIQUE_VIOLATION


def postgres_backend(url: URL) -> Backend:
    """A backend on the database named by ``url`` (``postgresql://user:pass@host:port/db``)."""
    try:
        import psycopg  # noqa: F401  (imported to fail early with a useful message)
    except ImportError as exc:
        raise ImportError(
            "PostgreSQL support needs the psycopg driver: pip install 'hubbub[postgres]'"
        ) from exc
    engine = create_engine(
        url.set(drivername="postgresql+psycopg"),
        pool_size=8,
        max_overflow=8,
        hide_parameters=True,  # errors must not carry secrets, hashes or message bodies to logs
    )
    return Backend("postgresql", engine, _begin, _insert_ignore, _is_unique_violation)
