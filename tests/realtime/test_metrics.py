"""``/metrics`` answers for the whole server: every worker's scrape adds up all of them."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path

from tests.realtime.test_presence import Cluster, sqlite_workers


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return str(answer.read().decode())


def _value(text: str, name: str) -> float:
    found = re.search(rf"(?m)^{re.escape(name)} (\S+)$", text)
    assert found, f"{name} is not in the metrics"
    return float(found.group(1))


def test_any_worker_answers_for_all_of_them(tmp_path: Path) -> None:
    async def scenario(port: int, cluster: Cluster, db: Path) -> None:
        clients = await cluster.spread(port, "alice", db)
        room = await clients[0].command("create_channel", unique_name="room")
        assert room["ok"], room
        for client in clients:
            assert (await client.command("join", channel="room"))["ok"]
            sent = await client.command("send_message", channel="room", body="hi")
            assert sent["ok"], sent
        # Whichever worker answers, it counts every connection and every message.
        for _ in range(10):
            text = await asyncio.to_thread(_scrape, port)
            assert _value(text, "hubbub_realtime_connections") == len(clients)
            assert _value(text, "hubbub_realtime_messages_total") == len(clients)
            assert _value(text, "hubbub_store_commit_seconds_count") >= 1
            assert _value(text, "hubbub_realtime_fanout_seconds_count") >= len(clients)
        for client in clients:
            await client.socket.close()

    with sqlite_workers(tmp_path) as (port, cluster, db):
        asyncio.run(scenario(port, cluster, db))
