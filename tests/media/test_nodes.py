"""Media in PostgreSQL (``--media-store database``): two real ``hubbub serve`` nodes on one
database each serve what the other stored; an upload is spooled to disk while it arrives, so
slow clients hold no connection, and one cut off by its client or by the server's death
leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from hubbub.media.blobs import APPLICATION_NAME, SPOOL
from hubbub.store import schema as s
from tests.media.support import Media, half_upload, media_files
from tests.postgres import PostgresDatabases
from tests.support import twilio_error
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


def _busy(database: str) -> int:
    """Connections of the media store (its ``application_name``) in a transaction or running a
    statement: what an upload held for as long as its client took, before uploads were
    spooled."""
    url = make_url(database).set(drivername="postgresql+psycopg")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            stmt = text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = :name AND state <> 'idle'"
            )
            return int(conn.execute(stmt, {"name": APPLICATION_NAME}).scalar_one())
    finally:
        engine.dispose()


def _spooled(node: Node) -> list[str]:
    """The spool files the node's processes hold open (unnamed: only their descriptors show
    them, as ``…/spool/#123 (deleted)``)."""
    assert node.process is not None
    spool = str(node.workdir / "media" / SPOOL) + "/"
    held: list[str] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.getpgid(int(proc.name)) != node.process.pid:
                continue
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith(spool):
                        held.append(target)
        except (OSError, ProcessLookupError):
            continue
    return held


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


def test_an_upload_cut_off_by_its_client_leaves_nothing(nodes: list[Node], database: str) -> None:
    client = Media(nodes[0])
    before = _count(database)
    try:
        with half_upload(
            nodes[0].port, f"/v1/Services/{client.service_sid}/Media",
            client.tokens.token("alice"), declared=10 * MiB, sent=4 * MiB,
        ):  # fmt: skip
            poll(lambda: _spooled(nodes[0]), what="the upload's spool file")
            # While the client sends, the upload holds no connection, let alone a transaction.
            assert _busy(database) == 0
        poll(lambda: not _spooled(nodes[0]), timeout=10, what="the cut upload's spool file")
        assert _count(database) == before
        assert _busy(database) == 0
        assert client.upload("alice", b"still works")["size"] == 11
    finally:
        client.close()


def test_an_upload_cut_off_by_the_servers_death_leaves_nothing(
    database: str, tmp_path: Path, nodes: list[Node]
) -> None:
    # A node of its own, killed (SIGKILL: no goodbye) in the middle of an upload.
    workdir = tmp_path / "doomed"
    shutil.copytree(nodes[0].workdir, workdir, ignore=shutil.ignore_patterns("media", "*.err"))
    doomed = Node(workdir, "--db", database, "--media-store", "database").start()
    client = Media(doomed)
    before = _count(database)
    try:
        with half_upload(
            doomed.port, f"/v1/Services/{client.service_sid}/Media",
            client.tokens.token("alice"), declared=10 * MiB, sent=4 * MiB,
        ):  # fmt: skip
            poll(lambda: _spooled(doomed), what="the upload's spool file")
            assert _busy(database) == 0
            doomed.stop(signal.SIGKILL)
        # The spool file had no name: nothing of it is left on disk.
        assert list((workdir / "media" / SPOOL).iterdir()) == []
        assert _count(database) == before
        poll(lambda: _busy(database) == 0, what="the killed node's connections")
    finally:
        client.close()
        doomed.close()


def test_a_server_killed_while_committing_leaves_nothing(
    database: str, tmp_path: Path, nodes: list[Node]
) -> None:
    workdir = tmp_path / "doomed"
    shutil.copytree(nodes[0].workdir, workdir, ignore=shutil.ignore_patterns("media", "*.err"))
    doomed = Node(workdir, "--db", database, "--media-store", "database").start()
    client = Media(doomed)
    before = _count(database)
    size = 140 * MiB  # long enough a commit to be caught in the middle
    try:
        with socket.create_connection(("127.0.0.1", doomed.port)) as sock:
            head = (
                f"POST /v1/Services/{client.service_sid}/Media HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\nX-Twilio-Token: {client.tokens.token('alice')}\r\n"
                f"Content-Type: video/mp4\r\nContent-Length: {size}\r\n\r\n"
            )
            sock.sendall(head.encode())
            piece = b"v" * MiB
            for _ in range(size // MiB):
                sock.sendall(piece)
            # Every byte is in: the commit's transaction is writing the chunks.
            poll(lambda: _busy(database), interval=0.01, what="the commit's transaction")
            doomed.stop(signal.SIGKILL)
        poll(lambda: _busy(database) == 0, what="the killed node's transaction")
        assert _count(database) == before  # rolled back, chunks and row alike
        assert list((workdir / "media" / SPOOL).iterdir()) == []
    finally:
        client.close()
        doomed.close()


def test_slow_uploads_do_not_hold_up_downloads(nodes: list[Node], database: str) -> None:
    client = Media(nodes[0])
    data = _pattern(MiB + 9)
    sid = client.upload("alice", data, "video/mp4")["sid"]
    try:
        with contextlib.ExitStack() as uploads:
            # More uploads under way than the media store has connections (8).
            for _ in range(12):
                uploads.enter_context(
                    half_upload(
                        nodes[0].port,
                        f"/v1/Services/{client.service_sid}/Media",
                        client.tokens.token("alice"),
                        declared=10 * MiB,
                        sent=2 * MiB,
                    )
                )
            poll(lambda: len(_spooled(nodes[0])) == 12, what="twelve uploads under way")
            started = time.monotonic()
            content = client.get("alice", f"/{sid}/Content")
            assert (content.status_code, content.content) == (200, data)
            assert time.monotonic() - started < 5  # not the pool's wait for a connection
            assert client.upload("alice", b"and another")["size"] == 11
    finally:
        client.close()


def test_missing_bytes_are_a_404_before_any_answer(nodes: list[Node], database: str) -> None:
    client = Media(nodes[0])
    try:
        sid = client.upload("alice", _pattern(2 * MiB + 1), "video/mp4")["sid"]
        engine = create_engine(
            make_url(database).set(drivername="postgresql+psycopg"), poolclass=NullPool
        )
        try:
            with engine.begin() as conn:
                conn.execute(s.media_chunks.delete().where(s.media_chunks.c.media_sid == sid))
        finally:
            engine.dispose()
        twilio_error(client.get("alice", f"/{sid}/Content").json(), 404, 20404)
        ranged = client.get("alice", f"/{sid}/Content", Range=f"bytes={MiB + 5}-")
        twilio_error(ranged.json(), 404, 20404)
    finally:
        client.close()
