"""A real PostgreSQL for the tests: from HUBBUB_TEST_POSTGRES_URL, else from scripts/postgres.

A database the tests cannot reach fails them instead of skipping them.
"""

from __future__ import annotations

import os
import secrets
import time

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool, QueuePool

from hubbub.store import migrate
from hubbub.store.schema import metadata
from tests.support import server_url

TABLES = [table.name for table in metadata.sorted_tables]


def postgres_server() -> str:
    return server_url("HUBBUB_TEST_POSTGRES_URL", "postgres", "PostgreSQL")


class PostgresDatabases:
    """Makes throw-away databases on one server, each a copy of a migrated template."""

    def __init__(self, server_url: str) -> None:
        self.server = make_url(server_url)
        self.admin = self._engine(self.server)
        self.template = f"hubbub_test_template_{os.getpid()}"
        self._emptiers: dict[str, Engine] = {}
        self._sql(f"DROP DATABASE IF EXISTS {self.template}")
        self._sql(f"CREATE DATABASE {self.template}")
        migrate(self.url(self.template))

    @staticmethod
    def _engine(url: URL, *, pooled: bool = False) -> Engine:
        return create_engine(
            url.set(drivername="postgresql+psycopg"),
            isolation_level="AUTOCOMMIT",
            poolclass=QueuePool if pooled else NullPool,
        )

    def _sql(self, statement: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(statement))

    def url(self, database: str) -> str:
        return self.server.set(database=database).render_as_string(hide_password=False)

    def new(self, *, migrated: bool = True) -> str:
        """A URL to a new database: migrated to head, or without any table."""
        name = f"hubbub_test_{secrets.token_hex(6)}"
        self._sql(f"CREATE DATABASE {name}" + (f" TEMPLATE {self.template}" if migrated else ""))
        return self.url(name)

    def empty(self, url: str) -> None:
        """Delete every row, keeping the schema (far cheaper than a new database or TRUNCATE)."""
        if url not in self._emptiers:
            self._emptiers[url] = self._engine(make_url(url), pooled=True)
        with self._emptiers[url].connect() as conn:
            for table in reversed(TABLES):
                conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our own table names

    def drop(self, url: str) -> None:
        if url in self._emptiers:
            self._emptiers.pop(url).dispose()
        self._drop(make_url(url).database or "")

    def close(self) -> None:
        self._drop(self.template)
        self.admin.dispose()

    def _drop(self, database: str) -> None:
        """Drop ``database`` and whoever is still connected to it. An autovacuum worker on it
        cannot be terminated by the test role (not a superuser): it is waited out."""
        for attempt in range(50):
            try:
                self._sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                return
            except ProgrammingError as exc:
                if "pg_signal_backend" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.1)
