from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hubbub.chat.provision import Credentials, new_account
from hubbub.crypto import SecretBox
from hubbub.store import Store, open_store
from hubbub.web.app import create_app
from tests.postgres import PostgresDatabases
from tests.web.server import running


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The REST tests run on both backends: SQLite inline on the loop, PostgreSQL in threads."""
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path / 'hubbub.db'}")
        yield opened
        opened.close()
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    url = postgres.new()
    opened = open_store(url, run_migrations=False)
    yield opened
    opened.close()
    postgres.drop(url)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key())


@pytest.fixture
def base_url(store: Store, box: SecretBox) -> Iterator[str]:
    with running(create_app(store, box)) as url:
        yield url


@pytest.fixture
def creds(store: Store, box: SecretBox) -> Credentials:
    return new_account(store, box, name="acme")
