"""Fixtures shared by every test package."""

from __future__ import annotations

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
