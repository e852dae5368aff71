"""Several server processes behind one Redis: two ``hubbub serve`` nodes sharing a PostgreSQL
database, each client on a node it chose, and every event reaching the other node's clients."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hubbub.tokens import Minter
from tests.postgres import PostgresDatabases
from tests.realtime.client import RawClient
from tests.realtime.test_crash import HUBBUB, free_port


def serve(
    workdir: Path, port: int, *extra: str, start_new_session: bool = False
) -> subprocess.Popen[bytes]:
    """``hubbub serve`` in ``workdir``; in a process group of its own with
    ``start_new_session`` (to kill it with its workers and courier)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "TWILIO_"))}
    return subprocess.Popen(
        [str(HUBBUB), "serve", "--port", str(port), *extra],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=start_new_session,
    )


def wait_healthy(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                answer.read()
            return
        except OSError:
            assert server.poll() is None, "the server died while starting"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)


def stop(server: subprocess.Popen[bytes]) -> bytes:
    server.terminate()
    _, stderr = server.communicate(timeout=30)
    return stderr


@pytest.fixture
def two_nodes(
    tmp_path: Path, postgres: PostgresDatabases, redis_url: str
) -> Iterator[tuple[int, int, dict[str, str]]]:
    """Two nodes, started one after the other in one directory (so they share the master key
    file the first one writes) on one database and one Redis."""
    database = postgres.new()
    ports = free_port(), free_port()
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            node = serve(tmp_path, port, "--db", database, "--redis", redis_url)
            nodes.append(node)
            wait_healthy(node, port)
        creds = json.loads((tmp_path / "hubbub-credentials.json").read_text())
        yield ports[0], ports[1], creds
    finally:
        for node in nodes:
            stderr = stop(node)
            assert b"Traceback" not in stderr, stderr.decode()
        postgres.drop(database)


def test_events_cross_nodes(two_nodes: tuple[int, int, dict[str, str]]) -> None:
    port_a, port_b, creds = two_nodes
    minter = Minter(creds["account_sid"], creds["api_key_sid"], creds["api_key_secret"])
    service = creds["chat_service_sid"]

    async def connect(port: int, identity: str) -> RawClient:
        client = await RawClient.open(f"ws://127.0.0.1:{port}/v1/ws")
        reply = await client.authenticate(minter.chat_token(identity, service))
        assert reply["ok"], reply
        return client

    async def scenario() -> None:
        alice = await connect(port_a, "alice")  # on node A
        bob = await connect(port_b, "bob")  # on node B
        reply = await alice.command("create_channel", unique_name="room")
        assert reply["ok"], reply
        added = await bob.push("channel_added")  # a public channel, created on the other node
        assert added["channel"]["unique_name"] == "room"
        assert (await bob.command("join", channel="room"))["ok"]
        await alice.push("member_joined", where=lambda f: f["member"]["identity"] == "bob")

        for n in range(20):
            sender = alice if n % 2 == 0 else bob
            reply = await sender.command("send_message", channel="room", body=f"m{n}")
            assert reply["ok"], reply
        for client in (alice, bob):
            bodies = [(await client.push("message_added"))["message"]["body"] for _ in range(20)]
            assert sorted(bodies, key=lambda b: int(b[1:])) == [f"m{n}" for n in range(20)]

        assert (await alice.command("typing", channel="room"))["ok"]
        typing = await bob.push("typing_started")
        assert typing["identity"] == "alice"

        # A REST write on node B reaches node A's client.
        async with httpx.AsyncClient(
            auth=(creds["account_sid"], creds["auth_token"]), timeout=10
        ) as http:
            response = await http.post(
                f"http://127.0.0.1:{port_b}/v2/Services/{service}/Channels/room/Messages",
                data={"Body": "from REST", "From": "system"},
            )
            assert response.status_code == 201, response.text
        rest = await alice.push("message_added", where=lambda f: f["message"]["from"] == "system")
        assert rest["message"]["body"] == "from REST"

        # Bob on node A too: node A now remembers his membership (for a few seconds)...
        bob_on_a = await connect(port_a, "bob")
        assert (await bob_on_a.command("send_message", channel="room", body="via A"))["ok"]
        await bob.push("message_added", where=lambda f: f["message"]["body"] == "via A")
        # ...and forgets it the moment he leaves on node B, so node A refuses his next message.
        assert (await bob.command("leave", channel="room"))["ok"]
        await alice.push("member_left")
        await bob_on_a.push("channel_left")
        refused = await bob_on_a.command("send_message", channel="room", body="after leaving")
        assert not refused["ok"], refused
        assert refused["error"]["status"] in (403, 404), refused
        for client in (alice, bob, bob_on_a):
            await client.socket.close()

    asyncio.run(scenario())
    # Each node timed the events that came to it through Redis from the other.
    for port in (port_a, port_b):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        found = re.search(r"(?m)^hubbub_broker_lag_seconds_count (\S+)$", text)
        assert found, text
        assert float(found.group(1)) >= 1


def test_several_workers_without_redis_warn(tmp_path: Path) -> None:
    port = free_port()
    server = serve(tmp_path, port, "--workers", "2")
    try:
        wait_healthy(server, port)
    finally:
        stderr = stop(server)
    assert (
        b"hubbub: warning: real-time events do not cross worker processes without --redis\n"
        in stderr
    )


def test_a_bad_redis_url_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(HUBBUB), "serve", "--redis", "localhost:6379"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [
        "hubbub: a Redis URL starts with redis://, rediss:// or unix:// (redis://HOST:PORT/DB)"
    ]
