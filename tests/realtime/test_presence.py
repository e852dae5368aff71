"""Presence with several server processes: online while any connection of the user is open on
any node, offline within seconds of the last one closing, even when a node dies silently.

Real ``hubbub serve`` processes: two nodes on PostgreSQL and Redis, and two workers on SQLite.
What the nodes recorded is read from the database itself, so that "still online" is asserted
after the closing connection's node has done its part, not before.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from hubbub.store.schema import presence, users
from hubbub.tokens import Minter
from tests.postgres import PostgresDatabases
from tests.realtime.client import RawClient
from tests.realtime.test_crash import free_port
from tests.realtime.test_nodes import serve, stop, wait_healthy

#: Generous: a node's lease (6 s) plus a renewal round (2 s), on a slow machine.
GONE_WITHIN = 30.0


def _nodes_of_postgres(url: str, identity: str) -> set[str]:
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            stmt = (
                select(presence.c.node)
                .join(users, users.c.sid == presence.c.user_sid)
                .where(users.c.identity == identity)
            )
            return {row.node for row in conn.execute(stmt)}
    finally:
        engine.dispose()


def _nodes_of_sqlite(path: Path, identity: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT presence.node FROM presence JOIN users ON users.sid = presence.user_sid"
            " WHERE users.identity = ?",
            (identity,),
        ).fetchall()
    return {node for (node,) in rows}


async def _until(condition: Any, timeout: float = GONE_WITHIN) -> None:
    async with asyncio.timeout(timeout):
        while not await asyncio.to_thread(condition):
            await asyncio.sleep(0.05)


class Cluster:
    def __init__(self, creds: dict[str, str]) -> None:
        self.creds = creds
        self.minter = Minter(creds["account_sid"], creds["api_key_sid"], creds["api_key_secret"])

    async def connect(self, port: int, identity: str) -> RawClient:
        client = await RawClient.open(f"ws://127.0.0.1:{port}/v1/ws")
        token = self.minter.chat_token(identity, self.creds["chat_service_sid"])
        reply = await client.authenticate(token)
        assert reply["ok"], reply
        return client

    async def spread(self, port: int, identity: str, db: Path) -> list[RawClient]:
        """A connection of ``identity`` on each worker of an SQLite server (the kernel hands
        each new connection to one of them; one that lands where there is one already is
        closed again, so that a worker slow to start cannot make the other reach its cap)."""
        clients: list[RawClient] = []
        for _ in range(100):
            client = await self.connect(port, identity)
            await _until(lambda: bool(_nodes_of_sqlite(db, identity)))
            if len(_nodes_of_sqlite(db, identity)) > len(clients):
                clients.append(client)
                if len(clients) == 2:
                    return clients
            else:
                await client.socket.close()
                await asyncio.sleep(0.05)
        for client in clients:
            await client.socket.close()
        raise AssertionError("the connections all went to one worker")

    def online(self, port: int, identity: str) -> bool:
        service = self.creds["chat_service_sid"]
        response = httpx.get(
            f"http://127.0.0.1:{port}/v2/Services/{service}/Users/{identity}",
            auth=(self.creds["account_sid"], self.creds["auth_token"]),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return bool(response.json()["is_online"])


def test_presence_is_exact_across_two_nodes(
    tmp_path: Path, postgres: PostgresDatabases, redis_url: str
) -> None:
    database = postgres.new()
    ports = free_port(), free_port()
    nodes = []
    try:
        for port in ports:
            node = serve(tmp_path, port, "--db", database, "--redis", redis_url)
            nodes.append(node)
            wait_healthy(node, port)
        cluster = Cluster(json.loads((tmp_path / "hubbub-credentials.json").read_text()))
        port_a, port_b = ports

        async def scenario() -> None:
            bob = await cluster.connect(port_a, "bob")  # watches, from node A
            alice_a = await cluster.connect(port_a, "alice")
            alice_b = await cluster.connect(port_b, "alice")
            assert (await alice_a.command("create_channel", unique_name="crew"))["ok"]
            assert (await bob.command("join", channel="crew"))["ok"]
            await _until(lambda: len(_nodes_of_postgres(database, "alice")) == 2)
            assert cluster.online(port_a, "alice")

            # Her connection to node A closes; node B still has her.
            await alice_a.socket.close()
            await _until(lambda: len(_nodes_of_postgres(database, "alice")) == 1)
            assert cluster.online(port_a, "alice")
            assert cluster.online(port_b, "alice")
            await bob.command("ping")  # anything pushed before this reply is in bob.pushes
            offline = [
                push
                for push in bob.pushes
                if push["type"] == "user_updated" and not push["user"]["is_online"]
            ]
            assert offline == []

            # Node B dies without a word: node A notices within a lease and tells bob.
            nodes[1].send_signal(signal.SIGKILL)
            nodes[1].communicate(timeout=10)
            started = time.monotonic()
            gone = await bob.push(
                "user_updated",
                timeout=GONE_WITHIN,
                where=lambda f: f["user"]["identity"] == "alice" and not f["user"]["is_online"],
            )
            assert gone["user"]["identity"] == "alice"
            assert time.monotonic() - started < GONE_WITHIN
            assert not cluster.online(port_a, "alice")
            await alice_b.socket.close()
            await bob.socket.close()

        asyncio.run(scenario())
    finally:
        for node in nodes:
            if node.poll() is None:
                stderr = stop(node)
                assert b"Traceback" not in stderr, stderr.decode()
        postgres.drop(database)


@contextmanager
def sqlite_workers(tmp_path: Path) -> Iterator[tuple[int, Cluster, Path]]:
    """``hubbub serve --workers 2`` on SQLite: its port, its account, its database file."""
    port = free_port()
    server = serve(tmp_path, port, "--workers", "2")
    try:
        wait_healthy(server, port)
        creds = json.loads((tmp_path / "hubbub-credentials.json").read_text())
        yield port, Cluster(creds), tmp_path / "hubbub.db"
    finally:
        stderr = stop(server)
        assert b"Traceback" not in stderr, stderr.decode()


def test_presence_is_exact_across_workers_on_sqlite(tmp_path: Path) -> None:
    async def scenario(port: int, cluster: Cluster, db: Path) -> None:
        clients = await cluster.spread(port, "alice", db)
        # Close every connection but the last, worker by worker: she stays online.
        last = clients.pop()
        for client in clients:
            await client.socket.close()
        await _until(lambda: len(_nodes_of_sqlite(db, "alice")) == 1)
        assert cluster.online(port, "alice")
        await last.socket.close()
        await _until(lambda: not cluster.online(port, "alice"))

    with sqlite_workers(tmp_path) as (port, cluster, db):
        asyncio.run(scenario(port, cluster, db))
