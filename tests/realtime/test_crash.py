"""``kill -9`` of a real server while clients send: no acknowledged message is lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from base64 import b64encode
from pathlib import Path
from typing import Any

import httpx

from hubbub.tokens import Minter
from tests.realtime.client import RawClient

HUBBUB = Path(sys.executable).with_name("hubbub")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "TWILIO_"))}
    server = subprocess.Popen(
        [str(HUBBUB), "serve", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                answer.read()
            return server
        except OSError:
            assert server.poll() is None, "the server died while starting"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)


def stored_indexes(port: int, creds: dict[str, str], channel: str) -> list[int]:
    token = b64encode(f"{creds['account_sid']}:{creds['auth_token']}".encode()).decode()
    url: str | None = (
        f"http://127.0.0.1:{port}/v2/Services/{creds['chat_service_sid']}/Channels/{channel}"
        "/Messages?PageSize=1000"
    )
    indexes: list[int] = []
    while url:
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            page = json.loads(response.read())
        indexes += [message["index"] for message in page["messages"]]
        url = page["meta"]["next_page_url"]
    return indexes


def test_acknowledged_messages_survive_kill_9(tmp_path: Path) -> None:
    port = free_port()
    server = start(tmp_path, port)
    creds = json.loads((tmp_path / "hubbub-credentials.json").read_text())
    minter = Minter(creds["account_sid"], creds["api_key_sid"], creds["api_key_secret"])
    url = f"ws://127.0.0.1:{port}/v1/ws"
    acknowledged: list[int] = []

    async def sender(number: int, ready: asyncio.Event) -> None:
        client = await RawClient.open(url)
        await client.authenticate(minter.chat_token(f"sender{number}", creds["chat_service_sid"]))
        await client.command("join", channel="crash")
        ready.set()
        try:
            for i in range(10_000):
                reply = await client.command("send_message", channel="crash", body=f"{number}:{i}")
                if reply["ok"]:
                    acknowledged.append(reply["result"]["message"]["index"])
        except Exception:  # noqa: S110 - the server is killed under our feet
            pass
        finally:
            await client.socket.close()

    async def scenario() -> None:
        owner = await RawClient.open(url)
        await owner.authenticate(minter.chat_token("owner", creds["chat_service_sid"]))
        await owner.command("create_channel", unique_name="crash")
        ready = [asyncio.Event() for _ in range(4)]
        tasks = [asyncio.create_task(sender(n, ready[n])) for n in range(4)]
        await asyncio.gather(*(event.wait() for event in ready))
        # Kill mid-stream, once a fair number went through (however busy the machine is).
        deadline = asyncio.get_running_loop().time() + 30
        while len(acknowledged) < 100 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        server.send_signal(signal.SIGKILL)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        await owner.socket.close()

    try:
        asyncio.run(scenario())
    finally:
        server.kill()
        server.wait(timeout=10)
    assert len(acknowledged) >= 100, "the senders barely sent anything before the kill"

    restarted = start(tmp_path, port)
    try:
        indexes = stored_indexes(port, creds, "crash")
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)
    assert set(acknowledged) <= set(indexes)  # every acknowledged message is there
    assert indexes == sorted(set(indexes))  # unique and increasing
    assert indexes == list(range(len(indexes)))  # nothing was deleted, so no gaps either


def test_a_restart_forgets_who_a_killed_server_had_online(tmp_path: Path) -> None:
    """With reachability on, a user connected when the server died is offline after the
    restart until they connect again, not online for good."""
    port = free_port()
    server = start(tmp_path, port)
    creds = json.loads((tmp_path / "hubbub-credentials.json").read_text())
    service = f"http://127.0.0.1:{port}/v2/Services/{creds['chat_service_sid']}"
    auth = (creds["account_sid"], creds["auth_token"])

    def rest(path: str, data: dict[str, str] | None = None) -> Any:
        if data is None:
            response = httpx.get(service + path, auth=auth, timeout=10)
        else:
            response = httpx.post(service + path, data=data, auth=auth, timeout=10)
        response.raise_for_status()
        return response.json()

    rest("", {"ReachabilityEnabled": "true"})
    minter = Minter(creds["account_sid"], creds["api_key_sid"], creds["api_key_secret"])

    async def connect_bob() -> RawClient:
        bob = await RawClient.open(f"ws://127.0.0.1:{port}/v1/ws")
        await bob.authenticate(minter.chat_token("bob", creds["chat_service_sid"]))
        return bob

    async def online_then_killed() -> None:
        bob = await connect_bob()
        assert rest("/Users/bob")["is_online"] is True
        server.send_signal(signal.SIGKILL)
        server.wait()
        await bob.socket.close()

    restarted = None
    try:
        asyncio.run(online_then_killed())
        restarted = start(tmp_path, port)
        assert rest("/Users/bob")["is_online"] is False
    finally:
        for process in (server, restarted):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
