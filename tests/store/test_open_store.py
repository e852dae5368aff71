"""Choosing and setting up a backend from a URL."""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from hubbub.store import Store, open_store
from hubbub.store.connect import connect


@pytest.mark.parametrize(
    "url", ["mysql://u:p@localhost/db", "sqlite+aiosqlite:///x.db", "postgresql+asyncpg://h/db"]
)
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        open_store(url)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_sqlite_needs_a_file(url: str) -> None:
    with pytest.raises(ValueError, match="needs a file"):
        open_store(url)


def test_missing_postgres_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import fail, as it does when psycopg is not installed.
    monkeypatch.setitem(sys.modules, "psycopg", None)

    with pytest.raises(ImportError, match=r"pip install 'hubbub\[postgres\]'"):
        open_store("postgresql://user:pass@127.0.0.1:1/db")


def test_sqlite_settings(tmp_path: Path) -> None:
    path = tmp_path / "hubbub.db"
    open_store(f"sqlite:///{path}").close()

    backend = connect(f"sqlite:///{path}")
    try:
        with backend.engine.connect() as conn:
            pragmas = {
                name: conn.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        backend.engine.dispose()

    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        "busy_timeout": 30_000,
    }
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_new_sqlite_database_and_its_wal_and_shm_are_private(tmp_path: Path) -> None:
    path = tmp_path / "hubbub.db"
    previous = os.umask(0o022)  # the usual umask, which would make them 0644
    try:
        store = open_store(f"sqlite:///{path}")
        try:
            store.create_account(friendly_name="a", auth_token_hash="h")  # writes the WAL
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {
                f.name: 0o600 for f in files
            }
        finally:
            store.close()
    finally:
        os.umask(previous)


def test_an_existing_database_keeps_its_mode_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "shared.db"
    open_store(f"sqlite:///{path}").close()
    path.chmod(0o640)

    open_store(f"sqlite:///{path}").close()

    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert "has mode 640" in caplog.text


def test_sqlite_can_wait_for_the_disk_at_every_commit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hubbub.db'}?synchronous=full"
    store = open_store(url)
    store.create_account(friendly_name="x", auth_token_hash="h")  # the URL works end to end
    store.close()
    backend = connect(url)
    try:
        with backend.engine.connect() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    finally:
        backend.engine.dispose()
    with pytest.raises(ValueError, match="synchronous must be normal or full"):
        connect(f"sqlite:///{tmp_path / 'hubbub.db'}?synchronous=off")


def test_backend_name(store: Store, backend: str) -> None:
    assert store.backend == backend


def test_opening_without_migrating(store: Store, database_url: str) -> None:
    again = open_store(database_url, run_migrations=False)
    try:
        assert again.create_account(friendly_name="x", auth_token_hash="h").sid
    finally:
        again.close()
