"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.postgres import PostgresDatabases, postgres_server
from tests.redis_servers import redis_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_server())
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return redis_server()


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``HUBBUB_*``, ``TWILIO_*`` or ``FORWARDED_ALLOW_IPS`` from the machine: commands run
    on their defaults and on what the test gives them."""
    for name in list(os.environ):
        if name.startswith(("HUBBUB_", "TWILIO_", "FORWARDED_ALLOW_IPS")):
            monkeypatch.delenv(name)
