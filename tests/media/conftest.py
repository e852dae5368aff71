"""Blob stores of both kinds over real databases: files beside an SQLite store, and chunks in
a real PostgreSQL (the store's own database)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from hubbub import sids
from hubbub.media.blobs import Blobs, DatabaseBlobs, DiskBlobs, Draft
from hubbub.media.setup import recorder
from hubbub.store import Service, Store, open_store
from hubbub.store import schema as s
from hubbub.store.records import MEDIA
from tests.postgres import PostgresDatabases

KINDS = ("disk", "database")


@dataclass
class Bench:
    """A store, its blob store, and a way to count what the blob store holds."""

    kind: str
    store: Store
    blobs: Blobs
    service: Service
    root: Path | None
    db_url: str

    def held(self) -> int:
        """Files (temporary ones too) or chunk rows the blob store holds."""
        if self.root is not None:
            return sum(1 for p in self.root.rglob("*") if p.is_file())
        url = make_url(self.db_url).set(drivername="postgresql+psycopg")
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return int(
                    conn.execute(select(func.count()).select_from(s.media_chunks)).scalar_one()
                )
        finally:
            engine.dispose()

    def draft(self, **changes: object) -> Draft:
        values: dict[str, object] = {
            "sid": sids.new_sid(MEDIA),
            "account_sid": self.service.account_sid,
            "service_sid": self.service.sid,
            "author": "alice",
            "category": "media",
            "filename": "cat.png",
            "content_type": "image/png",
        }
        values.update(changes)
        return Draft(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def media_postgres(postgres: PostgresDatabases) -> Iterator[str]:
    url = postgres.new()
    yield url
    postgres.drop(url)


def _bench(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bench]:
    root: Path | None = None
    if kind == "disk":
        url = f"sqlite:///{tmp_path / 'hubbub.db'}"
        store = open_store(url)
        root = tmp_path / "media"
        blobs: Blobs = DiskBlobs(root, recorder(store))
    else:
        url = request.getfixturevalue("media_postgres")
        request.getfixturevalue("postgres").empty(url)
        store = open_store(url)
        blobs = DatabaseBlobs(url, spool=tmp_path / "spool")
    account = store.create_account(friendly_name="main", auth_token_hash="hash")
    service = store.create_service(account.sid, friendly_name="chat")
    yield Bench(kind, store, blobs, service, root, url)
    blobs.close()
    store.close()


@pytest.fixture(params=KINDS)
def bench(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bench]:
    yield from _bench(str(request.param), request, tmp_path)


@pytest.fixture
def database_bench(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bench]:
    """The database store alone, for its own promises."""
    yield from _bench("database", request, tmp_path)
