"""Media in PostgreSQL (``--media-store database``): two real ``hubbub serve`` nodes on one
database each serve what the other stored, and an upload cut off by its client or by the
server's death leaves no chunk behind."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from hubbub.store import schema as s
from tests.media.support import Media, half_upload, media_files
from tests.postgres import PostgresDatabases
from tests.twilio_sdk.nodes import Node, poll

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def database(postgres: PostgresDatabases) -> Iterator[str]:
    url = postgres.new()
    yield url
    postgres.drop(url)


@pytest.fixture(scope="module")
def nodes(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Node]]:
    # One directory: the nodes share the master key (temporary links) and credentials.
    workdir = tmp_path_factory.mktemp("nodes")
    started: list[Node] = []
    try:
        for _ in range(2):
            started.append(Node(workdir, "--db", database, "--media-store", "database").start())
        yield started
    finally:
        for node in started:
            node.close()


def _count(database: str, *where: object) -> int:
    url = make_url(database).set(drivername="postgresql+psycopg")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            stmt = select(func.count()).select_from(s.media_chunks).where(*where)  # type: ignore[arg-type]
            return int(conn.execute(stmt).scalar_one())
    finally:
        engine.dispose()


def _uploads_under_way(database: str) -> int:
    """Transactions open on the database between two statements: an upload writing chunks."""
    url = make_url(database).set(drivername="postgresql+psycopg")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            stmt = text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction' AND backend_xid IS NOT NULL"
            )
            return int(conn.execute(stmt).scalar_one())
    finally:
        engine.dispose()


def _pattern(size: int) -> bytes:
    return (bytes(range(241)) * (size // 241 + 1))[:size]


def test_each_node_serves_what_the_other_stored(nodes: list[Node], database: str) -> None:
    first, second = Media(nodes[0]), Media(nodes[1])
    try:
        for upload_to, read_from, size in ((first, second, 2 * MiB + 5), (second, first, 77)):
            data = _pattern(size)
            record = upload_to.upload("alice", data, "video/mp4", filename="clip.mp4")
            sid = record["sid"]
            assert _count(database, s.media_chunks.c.media_sid == sid) == -(-size // MiB)

            fetched = read_from.get("alice", f"/{sid}")
            assert fetched.status_code == 200
            assert fetched.json()["size"] == size
            assert read_from.get("alice", f"/{sid}/Content").content == data
            middle = min(MiB - 1, size // 2)  # across the first two chunks, when there are two
            ranged = read_from.get("alice", f"/{sid}/Content", Range=f"bytes={middle}-{middle + 2}")
            assert ranged.content == data[middle : middle + 3]
            # A link one node signed works on the other: both derive the key from the master key.
            link = upload_to.get("alice", f"/{sid}").json()["links"]["content_direct_temporary"]
            other_port = read_from.node.base_url
            direct = httpx.get(link.replace(upload_to.node.base_url, other_port))
            assert direct.content == data
        assert media_files(nodes[0].workdir / "media") == []  # nothing on disk
    finally:
        first.close()
        second.close()


def test_an_upload_cut_off_by_its_client_leaves_no_chunk(nodes: list[Node], database: str) -> None:
    client = Media(nodes[0])
    before = _count(database)
    try:
        with half_upload(
            nodes[0].port, f"/v1/Services/{client.service_sid}/Media",
            client.tokens.token("alice"), declared=10 * MiB, sent=4 * MiB,
        ):  # fmt: skip
            poll(lambda: _uploads_under_way(database), what="the upload writing its chunks")
        poll(lambda: _count(database) == before, timeout=10, what="chunks of the cut upload")
        assert client.upload("alice", b"still works")["size"] == 11
    finally:
        client.close()


def test_an_upload_cut_off_by_the_servers_death_leaves_no_chunk(
    database: str, tmp_path: Path, nodes: list[Node]
) -> None:
    # A node of its own, killed (SIGKILL: no goodbye) in the middle of an upload.
    doomed = Node(nodes[0].workdir, "--db", database, "--media-store", "database").start()
    client = Media(doomed)
    before = _count(database)
    try:
        with half_upload(
            doomed.port, f"/v1/Services/{client.service_sid}/Media",
            client.tokens.token("alice"), declared=10 * MiB, sent=4 * MiB,
        ):  # fmt: skip
            # Chunks are written as they come, but within the upload's transaction: unseen.
            poll(lambda: _uploads_under_way(database), what="the upload writing its chunks")
            doomed.stop(signal.SIGKILL)
        poll(lambda: _count(database) == before, timeout=10, what="chunks of the killed upload")
    finally:
        client.close()
        doomed.close()
