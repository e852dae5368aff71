"""``hubbub backup`` and ``hubbub restore``: a consistent copy of an SQLite database, taken while
it is served, and putting one back.

The copy is made with SQLite's online backup API in one step: it reads one snapshot of the
database (WAL mode lets writers go on meanwhile), so it holds every transaction committed before
it began and none half. PostgreSQL has its own tools (``pg_dump``, ``pg_restore``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from hubbub.crypto import DecryptionError, InvalidKey, SecretBox, load_master_key

POSTGRES_BACKUP = (
    "PostgreSQL is backed up with its own tools: pg_dump -Fc -f hubbub.dump URL, restored with "
    "pg_restore --clean --if-exists -d URL hubbub.dump (see docs/deploy.md)"
)


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why in one line."""


def sqlite_path(db_url: str) -> Path:
    """The file of an SQLite URL; :class:`BackupError` for PostgreSQL or anything else."""
    url = make_url(db_url)
    backend = url.drivername.partition("+")[0]
    if backend in ("postgresql", "postgres"):
        raise BackupError(POSTGRES_BACKUP)
    if backend != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError(f"not an SQLite database file: {url!r}")
    return Path(os.path.abspath(url.database))


def backup(db_url: str, target: Path) -> int:
    """Copy the database at ``db_url`` to the new file ``target`` (mode 0600); its size."""
    source = sqlite_path(db_url)
    if not source.exists():
        raise BackupError(f"no database at {source}")
    if target.exists():
        raise BackupError(f"{target} already exists: back up to a new file")
    with _private_file(target) as temporary:
        # Read-only: a backup never changes, or creates, the database it copies.
        origin = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            copy = sqlite3.connect(temporary)
            try:
                origin.backup(copy)  # all pages in one step: one snapshot
                copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                _check(copy, temporary)
            finally:
                copy.close()
        finally:
            origin.close()
    return target.stat().st_size


def restore(backup_file: Path, db_url: str, *, force: bool = False) -> Path:
    """Put ``backup_file`` in place of the database at ``db_url``; the database's path.

    An existing database is replaced only with ``force``, and never while a process has it
    open (a running ``hubbub serve``).
    """
    target = sqlite_path(db_url)
    if not backup_file.is_file():
        raise BackupError(f"no backup at {backup_file}")
    if target.exists():
        if not force:
            raise BackupError(
                f"{target} exists: stop every server using it, then add --force to replace it"
            )
        _refuse_if_open(target)
    with _private_file(target) as temporary:
        origin = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        try:
            _check(origin, backup_file)
            copy = sqlite3.connect(temporary)
            try:
                origin.backup(copy)  # hubbub switches it back to WAL when it opens it
            finally:
                copy.close()
        finally:
            origin.close()
        # A write-ahead log left by the old database would be replayed into the new one.
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    return target


def key_opens(database: Path, key_file: Path) -> bool | None:
    """Whether the key in ``key_file`` (or ``$HUBBUB_MASTER_KEY``) opens the restored database's
    sealed secrets; ``None`` when there is nothing sealed or no key to try."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT encrypted_secret FROM api_keys LIMIT 1").fetchone()
        if row is None:  # a backup taken before 0005 has no sealed auth tokens (nor the column)
            row = connection.execute(
                "SELECT sealed_auth_token FROM accounts WHERE sealed_auth_token IS NOT NULL LIMIT 1"
            ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        connection.close()
    if row is None or not (key_file.exists() or os.environ.get("HUBBUB_MASTER_KEY")):
        return None
    try:
        SecretBox(load_master_key(key_file)).decrypt(row[0])
    except (DecryptionError, InvalidKey):
        return False
    return True


def _check(connection: sqlite3.Connection, where: Path) -> None:
    try:
        verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{where} is not an SQLite database: {exc}") from None
    if verdict != "ok":
        raise BackupError(f"{where} is damaged: {verdict}")
    if "alembic_version" not in tables:
        raise BackupError(f"{where} is not a hubbub database")


def _refuse_if_open(database: Path) -> None:
    """Refuse when another connection has ``database`` open: a WAL database's users hold a
    shared lock for as long as they are connected, so an exclusive one fails at once."""
    probe = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        probe.execute("PRAGMA locking_mode = EXCLUSIVE")
        probe.execute("BEGIN EXCLUSIVE")
        probe.execute("ROLLBACK")
    except sqlite3.OperationalError:
        raise BackupError(
            f"{database} is in use, by a running hubbub serve or another command: stop it first"
        ) from None
    finally:
        probe.close()


@contextlib.contextmanager
def _private_file(path: Path) -> Iterator[Path]:
    """A new empty file only the owner can read, beside ``path``, that replaces ``path`` when
    the block ends without error (flushed to disk first) and is removed when it fails."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise BackupError(f"cannot write in {path.parent}: {exc.strerror}") from None
    os.close(fd)
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        for leftover in (temporary, *(Path(f"{temporary}{s}") for s in ("-journal", "-wal"))):
            leftover.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
