"""Migrations build exactly the tables of ``schema.py``, once, even when started concurrently."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from hubbub.store import Store, migrate, open_store
from hubbub.store.schema import metadata
from tests.store.conftest import PostgresDatabases


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database with no tables at all."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres")
    url = databases.new(migrated=False)
    yield url
    databases.drop(url)


def _inspect(url: str) -> tuple[list[object], str]:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()
    return diff, version


def test_migrated_schema_equals_the_tables(empty_url: str) -> None:
    migrate(empty_url)

    diff, version = _inspect(empty_url)

    assert diff == []
    assert version == "0007"


def test_migrating_again_changes_nothing(empty_url: str) -> None:
    migrate(empty_url)
    migrate(empty_url)

    store = open_store(empty_url)
    assert store.list_accounts().items == ()
    store.close()
    assert _inspect(empty_url) == ([], "0007")


def test_concurrent_first_opens_migrate_once(empty_url: str) -> None:
    start = threading.Barrier(4)
    stores: list[Store] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            start.wait()
            stores.append(open_store(empty_url))
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for store in stores:
        store.create_account(friendly_name="x", auth_token_hash="h")
    assert len(stores[0].list_accounts().items) == 4
    for store in stores:
        store.close()
    assert _inspect(empty_url) == ([], "0007")
