"""Post-event webhooks from real ``hubbub serve`` processes: none lost to ``kill -9``, and
each sent once by two nodes sharing a database."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from hubbub.tokens import Minter
from tests.postgres import PostgresDatabases
from tests.realtime.client import RawClient
from tests.realtime.test_crash import free_port
from tests.realtime.test_nodes import serve, stop, wait_healthy
from tests.webhooks.receiver import Answer, Receiver, receiving

ALLOW = ("--webhook-allow", "127.0.0.0/8")


def _configure(port: int, creds: dict[str, str], receiver: Receiver) -> None:
    service = creds["chat_service_sid"]
    response = httpx.post(
        f"http://127.0.0.1:{port}/v2/Services/{service}",
        data={"PostWebhookUrl": f"{receiver.base_url}/post", "WebhookFilters": "onMessageSent"},
        auth=(creds["account_sid"], creds["auth_token"]),
    )
    assert response.status_code == 200, response.text


async def _client(port: int, creds: dict[str, str], identity: str) -> RawClient:
    minter = Minter(creds["account_sid"], creds["api_key_sid"], creds["api_key_secret"])
    client = await RawClient.open(f"ws://127.0.0.1:{port}/v1/ws")
    reply = await client.authenticate(minter.chat_token(identity, creds["chat_service_sid"]))
    assert reply["ok"], reply
    return client


def _message_sids(receiver: Receiver) -> list[str]:
    with receiver.changed:
        return [r.form["MessageSid"] for r in receiver.received]


def test_kill_9_during_a_burst_loses_no_webhook_of_an_acknowledged_message(
    tmp_path: Path,
) -> None:
    port = free_port()
    with receiving() as receiver:
        # A slow receiver, so that webhooks are still queued when the server dies.
        receiver.default = Answer(200, delay=0.02)
        server = serve(tmp_path, port, *ALLOW, start_new_session=True)
        acked: list[str] = []
        try:
            wait_healthy(server, port)
            creds = json.loads((tmp_path / "hubbub-credentials.json").read_text())
            _configure(port, creds, receiver)

            async def sender(number: int, channel: str) -> None:
                client = await _client(port, creds, f"sender{number}")
                await client.command("join", channel=channel)
                try:
                    for i in range(10_000):
                        reply = await client.command("send_message", channel=channel, body=str(i))
                        if reply["ok"]:
                            acked.append(reply["result"]["message"]["sid"])
                except Exception:  # noqa: S110 - the server is killed under our feet
                    pass
                finally:
                    await client.socket.close()

            async def burst() -> None:
                owner = await _client(port, creds, "owner")
                await owner.command("create_channel", unique_name="burst")
                tasks = [asyncio.create_task(sender(n, "burst")) for n in range(4)]
                deadline = asyncio.get_running_loop().time() + 30
                while len(acked) < 150 and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.05)
                os.killpg(server.pid, signal.SIGKILL)  # the server, its workers, its courier
                await asyncio.wait_for(asyncio.gather(*tasks), 30)
                await owner.socket.close()

            asyncio.run(burst())
        finally:
            server.kill()
            server.communicate(timeout=30)
        assert len(acked) >= 150, "the senders barely sent anything before the kill"
        assert len(_message_sids(receiver)) < len(acked), "the burst was not cut short"
        receiver.default = Answer(200)
        again = serve(tmp_path, port, *ALLOW)
        try:
            wait_healthy(again, port)
            deadline = time.monotonic() + 60
            while not set(acked) <= set(_message_sids(receiver)):
                assert time.monotonic() < deadline, "webhooks of acknowledged messages were lost"
                with receiver.changed:
                    receiver.changed.wait(0.5)
        finally:
            assert b"Traceback" not in stop(again)


def test_two_nodes_send_each_webhook_once(
    tmp_path: Path, postgres: PostgresDatabases, redis_url: str
) -> None:
    database = postgres.new()
    ports = free_port(), free_port()
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        with receiving() as receiver:
            for port in ports:
                node = serve(tmp_path, port, "--db", database, "--redis", redis_url, *ALLOW)
                nodes.append(node)
                wait_healthy(node, port)
            creds = json.loads((tmp_path / "hubbub-credentials.json").read_text())
            _configure(ports[0], creds, receiver)
            sent: list[str] = []

            async def scenario() -> None:
                alice = await _client(ports[0], creds, "alice")
                bob = await _client(ports[1], creds, "bob")
                reply = await alice.command("create_channel", unique_name="room")
                assert reply["ok"], reply
                assert (await bob.command("join", channel="room"))["ok"]
                for n in range(60):
                    client = alice if n % 2 else bob
                    reply = await client.command("send_message", channel="room", body=str(n))
                    assert reply["ok"], reply
                    sent.append(reply["result"]["message"]["sid"])
                for client in (alice, bob):
                    await client.socket.close()

            asyncio.run(scenario())
            receiver.wait_for(len(sent), timeout=30)
            # A marker after them all: once it is in, any duplicate would have come too.
            asyncio.run(_marker(ports[1], creds, sent))
            receiver.wait_for(len(sent), timeout=30)
            sids = _message_sids(receiver)
            assert sorted(sids) == sorted(sent)
            indexes = [int(r.form["Index"]) for r in receiver.received]
            assert indexes == sorted(indexes)  # one channel: in order, from either node
    finally:
        for node in nodes:
            assert b"Traceback" not in stop(node)
        postgres.drop(database)


async def _marker(port: int, creds: dict[str, str], sent: list[str]) -> None:
    client = await _client(port, creds, "bob")
    reply = await client.command("send_message", channel="room", body="marker")
    sent.append(reply["result"]["message"]["sid"])
    await client.socket.close()
