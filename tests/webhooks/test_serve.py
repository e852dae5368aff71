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
        wait_healthy(server, port)
        creds = json.loads((tmp_path / "hubbub-credentials.json").read_text())
        _configure(port, creds, receiver)
        acked: list[str] = []

        async def burst() -> None:
            client = await _client(port, creds, "alice")
            channel = (await client.command("create_channel", friendly_name="c"))["channel"]
            for n in range(400):
                await client.socket.send(
                    json.dumps({"id": n + 10, "type": "send_message", "channel": channel["sid"], "body": str(n)})
                )
            while len(acked) < 200:
                frame = await client.next_frame()
                if frame.get("ok") and "message" in frame:
                    acked.append(frame["message"]["sid"])
            os.killpg(server.pid, signal.SIGKILL)  # the server, its workers and its courier

        asyncio.run(burst())
        server.wait()
        delivered_before = len(_message_sids(receiver))
        assert delivered_before < len(acked), "the burst was not cut short"
        receiver.default = Answer(200)
        again = serve(tmp_path, port, *ALLOW)
        try:
            wait_healthy(again, port)
            deadline = time.monotonic() + 30
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
                    sent.append(reply["message"]["sid"])

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
    sent.append(reply["message"]["sid"])
