"""SQLite: a file database in WAL mode, with writers queued (``writelock``) and ``BEGIN IMMEDIATE``.

sqlite3's own transaction handling is switched off (it would begin lazily, and a deferred
transaction that reads before it writes can fail with "database is locked" without waiting). We emit
``BEGIN`` for reads and ``BEGIN IMMEDIATE`` for writes, so a writer takes the lock up front and
waits for it for up to ``busy_timeout``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Insert, Table, create_engine, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from hubbub.store.db import Backend
from hubbub.store.writelock import WriteLock

log = logging.getLogger("hubbub.store")

#: How long a writer waits for the write lock before failing, in milliseconds.
BUSY_TIMEOUT_MS = 30_000


def _use_wal(cursor: Any) -> None:
    """Switch the database to WAL, once for good (the mode is stored in the file).

    Switching needs the database to itself and fails at once with "database is locked", without
    waiting for ``busy_timeout``, when other connections (several processes starting on a new
    file) are at it too; so retry until one of them has switched.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY" or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


#: ``?synchronous=`` in the URL. In WAL mode, NORMAL (the default) loses nothing when the server
#: process dies, however it dies, and never corrupts the file; what the operating system had
#: not yet written when *it* crashed or lost power is lost, the last commits. FULL waits for
#: the disk at every commit (an fsync, ~0.1 ms here and far more on some disks) to keep those.
SYNCHRONOUS = ("normal", "full")


def _on_connect(synchronous: str) -> Any:
    def configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _use_wal(cursor)
            cursor.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    return configure


def _create_private(database: str) -> None:
    """Create the database file, empty and readable by its owner only, before SQLite does.

    It holds every message and the password hashes. SQLite would create it 0644 under the
    usual umask; it gives its ``-wal`` and ``-shm`` files the database file's mode, so they are
    0600 too. An existing file's mode is the operator's choice (a group that takes backups,
    say) and is left alone, with a warning when others may read it.
    """
    try:
        fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        _warn_if_readable(database)
        return
    except OSError:
        return  # a missing directory, no permission...: SQLite says so when it opens the file
    try:
        os.fchmod(fd, 0o600)  # exactly 0600, whatever bits the umask took from it
    finally:
        os.close(fd)


_warned: set[str] = set()


def _warn_if_readable(database: str) -> None:
    try:
        mode = stat.S_IMODE(os.stat(database).st_mode)
    except OSError:
        return
    if mode & 0o077 and database not in _warned:
        _warned.add(database)
        log.warning(
            "the database %s has mode %03o: other users may read its messages and password "
            "hashes; chmod 600 it (and its -wal and -shm files) unless that is meant",
            database,
            mode,
        )


def _begin(conn: Connection, write: bool) -> None:
    # Straight to the driver, not through an engine "begin" event: any engine event listener makes
    # SQLAlchemy dispatch events around every statement, which costs more than the statement.
    driver = conn.connection.driver_connection
    if driver is None:  # pragma: no cover - a live checkout always has its DBAPI connection
        raise RuntimeError("the pooled connection has no SQLite connection")
    driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")


def _insert_ignore(table: Table, columns: Sequence[str]) -> Insert:
    return sqlite_insert(table).on_conflict_do_nothing(index_elements=list(columns))


def _is_unique_violation(exc: IntegrityError) -> bool:
    name = getattr(exc.orig, "sqlite_errorname", "")
    return name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")


def sqlite_backend(url: URL) -> Backend:
    """A backend on the SQLite file named by ``url`` (``sqlite:///path``), created if missing."""
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        raise ValueError(
            f"hubbub's SQLite store needs a file, like sqlite:///hubbub.db, not {url!s}: "
            "each pooled connection to an in-memory database would see a different database"
        )
    synchronous = str(url.query.get("synchronous", "normal")).lower()
    if synchronous not in SYNCHRONOUS:
        raise ValueError(
            f"synchronous must be normal or full in an SQLite URL, not {synchronous!r}"
        )
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite").difference_update_query(["synchronous"]),
        pool_size=8,
        max_overflow=8,
        hide_parameters=True,  # errors must not carry secrets, hashes or message bodies to logs
    )
    event.listen(engine, "connect", _on_connect(synchronous))
    if not url.query.get("uri") and url.query.get("mode") != "ro":
        _create_private(database)
    lock = WriteLock(os.path.abspath(database))
    return Backend("sqlite", engine, _begin, _insert_ignore, _is_unique_violation, lock.held)
