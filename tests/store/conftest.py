"""Fixtures that run every store test against both backends.

Each test starts from a migrated database without any row: a new SQLite file, or the PostgreSQL
database of its test module (a copy of a template migrated once per session), emptied first.
PostgreSQL comes from ``HUBBUB_TEST_POSTGRES_URL`` or, when that is unset, from
``scripts/postgres``; a database we cannot reach fails the tests instead of skipping them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hubbub.store import Account, Service, Store, open_store
from tests.postgres import PostgresDatabases
from tests.support import NOW

BACKENDS = ("sqlite", "postgresql")


class Clock:
    """A test clock: every reading is ``step`` later than the one before (thread-safe)."""

    def __init__(self, start: datetime, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            now = self.now
            self.now += self.step
            return now


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def postgres_module_database(postgres: PostgresDatabases) -> Iterator[str]:
    """One migrated PostgreSQL database per test module (creating one costs 0.1-0.3 s)."""
    url = postgres.new()
    yield url
    postgres.drop(url)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A URL to a migrated database of the backend under test, without any row."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'hubbub.db'}"
    url: str = request.getfixturevalue("postgres_module_database")
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    postgres.empty(url)
    return url


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.fromtimestamp(NOW, UTC))


@pytest.fixture
def store(database_url: str, clock: Clock) -> Iterator[Store]:
    opened = open_store(database_url, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def account(store: Store) -> Account:
    return store.create_account(friendly_name="main", auth_token_hash="hash")


@pytest.fixture
def service(store: Store, account: Account) -> Service:
    return store.create_service(account.sid, friendly_name="chat")
