"""twilsock at ``/v3/wsconnect`` (Twilio's JS SDKs): idle memory, fan-out, init time.

Each part starts ``hubbub serve --workers 1`` on a fresh SQLite file on 127.0.0.1 (this
checkout's ``src``, as the other ``bench_realtime_*.py``) and drives raw twilsock clients: binary
WebSocket frames ``TWILSOCK V3.0 <header bytes>\\r\\n<header JSON>\\r\\n<payload>``, an ``init``
with a Chat token, then tunnelled ``message`` requests (the Chat API and Sync's reads) and
``POST /v4/Subscriptions``, answered with ``reply`` frames and ``twilio.sync.event``
notifications. Where ``/v1/ws`` has the same figure, the part measures it too, in the same run,
by the method of its own benchmark (``--no-peer`` skips it).

``--part idle``: N sessions (user0..userN-1) from separate client processes, each as the SDK
starts: ``init``, ``GET Client/v2/Configuration``, ``GET /v3/Maps/{my_channels}?Include=items``
and a subscription to that map with its ``last_event_id``, held once ``subscription_established``
came. Server RSS growth / sessions, as ``bench_realtime_idle.py`` (whose ``trial`` gives the
``/v1/ws`` figure). Goal ≤ 16 KiB per session at 10,000.

``--part fanout``: a channel of M members, each connected over twilsock and subscribed to the
channel's messages list (its SID from ``GET Client/v2/Me/Conversations``, its ``last_event_id``
from ``GET /v3/Lists/{sid}``); user0 sends messages (``POST Conversations/{sid}/Messages``) on a
schedule; latency = a member's receipt of the ``list_item_added`` − the sender's time just
before sending, every member (the sender too) exactly once. Goal p99 ≤ 50 ms at 1,000; the
``/v1/ws`` figure is ``bench_realtime_fanout.py`` run with the same shape.

``--part init``: a user in C channels (one message each); the real SDK,
``@twilio/conversations`` 3.x under Node (``benchmarks/twilsock_init.js``), constructs a client
with ``twilsock.uri`` pointed here, R times one after another: time to ``initialized`` and to
``getSubscribedConversations()`` holding all C. Goal p99 ≤ 300 ms to ``initialized`` at 100. The
SDK is looked for in ``--sdk`` / ``$HUBBUB_TWILIO_SDKS`` (a ``node_modules`` directory holding
``@twilio/conversations``, or the alias ``conv3``); default ``.cache/twilio-sdks/node_modules``
of the checkout, where the test harness installs it (nothing is installed here). A raw Python
client doing what the SDK waits on (init, Configuration, the map with its items, its
subscription, ``Me/Conversations``) is timed too, as a floor.

    .venv/bin/python benchmarks/bench_twilsock.py --part idle [--sessions 10000] [--procs 4]
    .venv/bin/python benchmarks/bench_twilsock.py --part fanout [--members 1000] [--messages 20]
    .venv/bin/python benchmarks/bench_twilsock.py --part init [--channels 100] [--runs 20]
        [--sdk DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_realtime_idle
from bench_realtime_idle import hold_sessions
from realtime_load import (
    HOST,
    LightSocket,
    Pipe,
    Server,
    Workers,
    cpu_seconds_self,
    machine,
    percentile,
    raise_nofile,
)

GOAL_IDLE_KB = 16.0
GOAL_SESSIONS = 10000
GOAL_FANOUT_P99_MS = 50.0
GOAL_INIT_P99_MS = 300.0
HERE = Path(__file__).resolve().parent
DEFAULT_SDKS = HERE.parent / ".cache" / "twilio-sdks" / "node_modules"
MAGIC = b"TWILSOCK V3.0 "
ADDED = b'"event_type":"list_item_added"'
CHAT = "/Client/v2"
#: A reply frame: its header and its payload.
Reply = tuple[dict[str, Any], Any]


# -- a raw twilsock client -----------------------------------------------------------------------
def encode(header: dict[str, Any], payload: Any = None) -> bytes:
    body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    header = {**header, "payload_size": len(body)}
    if body:
        header["payload_type"] = "application/json"
    head = json.dumps(header, separators=(",", ":")).encode()
    return b"%s%d\r\n%s\r\n%s" % (MAGIC, len(head), head, body)


def decode(data: bytes) -> tuple[dict[str, Any], Any]:
    """A frame's header and its payload (JSON parsed; ``None`` if empty)."""
    if not data.startswith(MAGIC):
        raise ValueError(f"not a twilsock frame: {data[:40]!r}")
    end = data.index(b"\r\n", len(MAGIC))
    size = int(data[len(MAGIC) : end])
    header = json.loads(data[end + 2 : end + 2 + size])
    payload = data[end + 4 + size :]
    return header, json.loads(payload) if payload else None


class Twilsock:
    """One twilsock session over ``LightSocket``: requests answered by ``reply`` frames,
    notifications kept in ``events`` (their payloads). ``raw``, when set, takes every frame
    unparsed instead (stamping is then all the client does per frame)."""

    def __init__(self) -> None:
        self.socket: LightSocket | None = None
        self.pending: dict[str, asyncio.Future[Reply]] = {}
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.raw: Callable[[bytes], None] | None = None
        self.ids = 0

    @classmethod
    async def open(cls, url: str, token: str) -> Twilsock:
        client = cls()
        client.socket = await LightSocket.open(url, client._frame)
        init = {
            "token": token,
            "continuation_token": None,
            "metadata": {"ver": "bench", "env": "python"},
            "registrations": [],
            "capabilities": ["client_update", "offline_storage", "telemetry.v1"],
        }
        try:
            header, _ = await asyncio.wait_for(client.call("init", init), 60)
        except BaseException:
            client.close()
            raise
        if header.get("status", {}).get("code") != 200:
            client.close()
            raise RuntimeError(f"init refused: {header.get('status')}")
        return client

    def _frame(self, data: bytes) -> None:
        if self.raw is not None:
            self.raw(data)
            return
        header, payload = decode(data)
        method = header.get("method")
        if method == "reply":
            future = self.pending.pop(str(header.get("id")), None)
            if future is not None and not future.done():
                future.set_result((header, payload))
        elif method == "notification":
            self.events.append(payload)
            self.changed.set()

    def call(self, method: str, fields: dict[str, Any]) -> asyncio.Future[Reply]:
        self.ids += 1
        frame_id = f"TM{self.ids:032x}"
        future = asyncio.get_running_loop().create_future()
        self.pending[frame_id] = future
        header = {"method": method, "id": frame_id, **fields}
        assert self.socket is not None
        self.socket.send_binary(encode(header))
        return future

    def send_request(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> asyncio.Future[Reply]:
        """A tunnelled HTTP request, as the SDKs send it; the future gets (header, body)."""
        self.ids += 1
        frame_id = f"TM{self.ids:032x}"
        future = asyncio.get_running_loop().create_future()
        self.pending[frame_id] = future
        header = {
            "method": "message",
            "id": frame_id,
            "active_grant": "ip_messaging",
            "http_request": {
                "host": "aim.us1.twilio.com",
                "path": path,
                "method": method,
                "params": params or {},
                "headers": {"Content-Type": "application/json"},
            },
        }
        assert self.socket is not None
        self.socket.send_binary(encode(header, body))
        return future

    async def request(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        header, payload = await asyncio.wait_for(self.send_request(method, path, body, params), 60)
        code = header.get("http_status", {}).get("code")
        if code is None or not 200 <= code < 300:
            raise RuntimeError(f"{method} {path}: {header.get('status')} {code} {payload}")
        return payload

    async def subscribe(self, objects: list[tuple[str, str, int | None]], correlation: int) -> None:
        """``POST /v4/Subscriptions``; returns once each object's ``subscription_established``
        (for this correlation id) came."""
        requests = [
            {"object_sid": sid, "object_type": kind, "last_event_id": last}
            for sid, kind, last in objects
        ]
        body = {"action": "establish", "correlation_id": correlation, "requests": requests}
        await self.request("POST", "/v4/Subscriptions", body)
        wanted = {sid for sid, _, _ in objects}
        deadline = time.monotonic() + 60
        while True:
            for event in self.events:
                if event.get("correlation_id") != correlation:
                    continue
                if event.get("event_type") == "subscription_failed":
                    raise RuntimeError(f"subscription failed: {event}")
                if event.get("event_type") == "subscription_established":
                    wanted.discard(event["event"]["object_sid"])
            if not wanted:
                return
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no subscription_established for {sorted(wanted)}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()


async def start_like_sdk(url: str, token: str) -> tuple[Twilsock, dict[str, Any]]:
    """``init``, the configuration, the user's map of channels with its items, and a
    subscription to it: what an SDK does before anything else."""
    client = await Twilsock.open(url, token)
    try:
        config = await client.request("GET", f"{CHAT}/Configuration")
        sid = config["sync_objects"]["my_conversations"]
        described = await client.request("GET", f"/v3/Maps/{sid}", params={"Include": "items"})
        await client.subscribe([(sid, "map", described["last_event_id"])], 1)
    except BaseException:
        client.close()
        raise
    return client, described


# -- idle ----------------------------------------------------------------------------------------
async def hold(pipe: Pipe, url: str, tokens: list[str], gate: int) -> None:
    """Start a session per token like the SDK, reporting progress; hold them until told
    (``bench_realtime_idle.hold``, over twilsock)."""
    sessions: list[Twilsock] = []
    errors: list[str] = []
    failed = 0
    semaphore = asyncio.Semaphore(gate)

    async def one(token: str) -> None:
        nonlocal failed
        async with semaphore:
            try:
                client, _ = await start_like_sdk(url, token)
            except Exception as exc:
                failed += 1
                if len(errors) < 3:
                    errors.append(f"{type(exc).__name__}: {exc}")
                return
            client.events.clear()  # what an idle SDK keeps is its business, not the server's
            sessions.append(client)

    opening = asyncio.gather(*(one(token) for token in tokens))
    told = asyncio.ensure_future(pipe.recv())
    while True:
        await asyncio.wait([told, opening], timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
        if told.done() and told.result() == "halt":
            opening.cancel()
            with contextlib.suppress(BaseException):
                await opening
            told = asyncio.ensure_future(pipe.recv())
        elif told.done():
            break
        pipe.send(("progress", len(sessions), failed, opening.done(), errors))
        if opening.done():
            await asyncio.wait([told])
    opening.cancel()
    with contextlib.suppress(BaseException):
        await opening
    pipe.send(("closed",))


def idle_trial(args: argparse.Namespace) -> dict[str, Any]:
    with Server() as server:
        url = f"ws://{HOST}:{server.port}/v3/wsconnect"
        minter = server.minter()

        def token(i: int) -> str:
            return minter.chat_token(f"user{i}", server.service_sid, ttl=3600)

        async def warm_up() -> None:
            for i in range(20):
                client, _ = await start_like_sdk(url, token(10**6 + i))
                client.close()

        asyncio.run(warm_up())
        time.sleep(1.5)
        before = server.rss_kb()
        procs = min(args.procs, args.sessions)
        shares = [range(p, args.sessions, procs) for p in range(procs)]
        jobs = [(url, [token(i) for i in share], args.gate) for share in shares]
        return hold_sessions(server, args, hold, jobs, args.sessions, before, "twilsock sessions")


def part_idle(args: argparse.Namespace) -> None:
    print(f"  twilsock, {args.sessions:,} sessions:", flush=True)
    mine = idle_trial(args)
    per = (mine["after"] - mine["before"]) / max(1, mine["up"])
    peer: dict[str, Any] | None = None
    if not args.no_peer:
        print(f"  /v1/ws (bench_realtime_idle.trial), {args.sessions:,} sessions:", flush=True)
        peer = bench_realtime_idle.trial(
            argparse.Namespace(
                server_gc=None,
                server_compression=False,
                no_compression=False,
                connections=args.sessions,
                procs=args.procs,
                gate=args.gate,
                deadline=args.deadline,
                settle=args.settle,
                idle_seconds=args.idle_seconds,
                py_spy=False,
            )
        )
    print(
        f"Idle twilsock sessions: {args.sessions:,} (init, Configuration, my-channels map "
        f"read and subscribed), 1 server process (--workers 1), SQLite, {args.procs} client "
        f"processes; {machine()}"
    )
    verdict = "met" if per <= GOAL_IDLE_KB and mine["up"] >= GOAL_SESSIONS else "NOT met"
    print(
        f"  twilsock: {per:.1f} KiB of server RSS per session at {mine['up']:,} sessions "
        f"(goal ≤ {GOAL_IDLE_KB:.0f} KiB at ≥ {GOAL_SESSIONS:,}: {verdict})"
    )
    rate = mine["up"] / mine["opened"] if mine["opened"] else 0.0
    late = "" if mine["complete"] else f" — the rest not up within {args.deadline:.0f} s"
    print(
        f"  {mine['up']:,} of {args.sessions:,} up in {mine['opened']:.1f} s ({rate:,.0f}/s), "
        f"{mine['failed']} failed{': ' + mine['errors'][0] if mine['errors'] else ''}{late}; "
        f"RSS {mine['before'] / 1024:.1f} → {mine['after'] / 1024:.1f} MiB, after "
        f"{args.idle_seconds:.0f} s idle {mine['after_idle'] / 1024:.1f} MiB; idle CPU "
        f"{mine['idle_cpu']:.0%} of a core; server {'alive' if mine['alive'] else 'DEAD'}"
    )
    if peer is not None:
        peer_per = (peer["after"] - peer["before"]) / max(1, peer["authenticated"])
        print(
            f"  /v1/ws:   {peer_per:.1f} KiB per session at {peer['authenticated']:,} sessions "
            f"(authenticated in {peer['opened']:.1f} s; idle CPU {peer['idle_cpu']:.0%}); "
            f"twilsock / /v1/ws = {per / peer_per:.2f}"
        )


# -- fan-out -------------------------------------------------------------------------------------
async def join_channel(url: str, token: str, channel: str) -> Twilsock:
    """A member as the SDK has it: started, then following the channel's messages list."""
    client, _ = await start_like_sdk(url, token)
    try:
        mine = await client.request("GET", f"{CHAT}/Me/Conversations", params={"PageSize": "50"})
        [entry] = [c for c in mine["conversations"] if c["conversation_sid"] == channel]
        sid = entry["sync_objects"]["messages"]
        described = await client.request("GET", f"/v3/Lists/{sid}")
        await client.subscribe([(sid, "list", described["last_event_id"])], 2)
    except BaseException:
        client.close()
        raise
    return client


async def receive(pipe: Pipe, url: str, tokens: list[str], channel: str, gate: int) -> None:
    """Hold one member per token, stamping every frame; report the messages when told."""
    semaphore = asyncio.Semaphore(gate)
    errors: list[str] = []
    logs: list[list[tuple[float, bytes]]] = []
    added: list[int] = []

    def stamper(log: list[tuple[float, bytes]], i: int) -> Callable[[bytes], None]:
        def on_frame(data: bytes) -> None:
            log.append((time.time(), data))
            if ADDED in data:
                added[i] += 1

        return on_frame

    async def one(token: str) -> Twilsock | None:
        async with semaphore:
            try:
                return await join_channel(url, token, channel)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return None

    opened = await asyncio.gather(*(one(t) for t in tokens))
    live = [client for client in opened if client is not None]
    for i, client in enumerate(live):
        logs.append([])
        added.append(0)
        client.raw = stamper(logs[i], i)
    pipe.send(("ready", len(live), errors[:3]))
    _, expected, wait_seconds = await pipe.recv()
    cpu_start = cpu_seconds_self()
    deadline = time.monotonic() + wait_seconds
    while min(added, default=expected) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    cpu = cpu_seconds_self() - cpu_start
    deliveries = []
    for log in logs:
        mine = []
        for stamp, raw in log:
            if ADDED in raw:
                _, payload = decode(raw)
                mine.append((payload["event"]["item_data"]["text"], stamp))
        deliveries.append(mine)
    frames = sum(len(log) for log in logs)
    closed = sum(c.socket is not None and c.socket.closed.done() for c in live)
    pipe.send(("result", deliveries, frames, cpu, closed))


async def send(
    pipe: Pipe, url: str, token: str, channel: str, messages: int, interval: float
) -> None:
    """Send ``messages`` on a fixed schedule; report send and reply times and own echoes."""
    client = await join_channel(url, token, channel)
    pipe.send(("ready",))
    await pipe.recv()
    sent: dict[str, float] = {}
    replies: dict[str, tuple[float, int]] = {}
    echoes: list[tuple[str, float]] = []
    seen = 0

    def on_reply(body: str) -> Callable[[asyncio.Future[Reply]], None]:
        def done(future: asyncio.Future[Reply]) -> None:
            header, _ = future.result()
            replies[body] = (time.time(), header.get("http_status", {}).get("code", 0))

        return done

    def collect() -> None:
        nonlocal seen
        now = time.time()
        for event in client.events[seen:]:
            if event.get("event_type") == "list_item_added":
                echoes.append((event["event"]["item_data"]["text"], now))
        seen = len(client.events)

    path = f"{CHAT}/Conversations/{channel}/Messages"
    start = time.time() + 0.05
    for k in range(messages):
        while time.time() < start + k * interval:
            client.changed.clear()
            collect()
            with contextlib.suppress(TimeoutError):
                left = start + k * interval - time.time()
                await asyncio.wait_for(client.changed.wait(), max(0.0, left))
        collect()
        body = f"0:{k}"
        sent[body] = time.time()
        client.send_request("POST", path, {"body": body, "attributes": "{}"}).add_done_callback(
            on_reply(body)
        )
    deadline = time.monotonic() + 30
    while (len(replies) < messages or len(echoes) < messages) and time.monotonic() < deadline:
        client.changed.clear()
        collect()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client.changed.wait(), 0.05)
    collect()
    client.close()
    pipe.send(("result", sent, replies, echoes))


def fanout_twilsock(args: argparse.Namespace) -> dict[str, Any]:
    with Server() as server:
        url = f"ws://{HOST}:{server.port}/v3/wsconnect"
        setup = time.monotonic()
        server.set_limits(max(250, args.members))
        channel = server.create_channel("fanout")
        identities = [f"user{i}" for i in range(args.members)]
        server.add_members(channel, identities)
        minter = server.minter()

        def token(identity: str) -> str:
            return minter.chat_token(identity, server.service_sid, ttl=3600)

        shares = [identities[1:][p :: args.procs] for p in range(args.procs)]
        jobs = [(url, [token(i) for i in share], channel, args.gate) for share in shares if share]
        sender_job = (url, token(identities[0]), channel, args.messages, args.interval)
        with Workers(receive, jobs) as receivers, Workers(send, [sender_job]) as sender:
            ready = receivers.gather(180)
            connected = 1 + sum(item[1] for item in ready)
            errors = [error for item in ready for error in item[2]]
            sender.gather(60)
            setup = time.monotonic() - setup
            rss = server.rss_kb()
            idle_start = server.cpu_seconds()
            time.sleep(2.0)
            idle_cpu = (server.cpu_seconds() - idle_start) / 2.0
            receivers.send_all(("stop", args.messages, args.messages * args.interval + 60))
            cpu_start = server.cpu_seconds()
            wall_start = time.monotonic()
            sender.send_all("go")
            [(_, sent, replies, own)] = sender.gather(args.messages * args.interval + 90)
            results = receivers.gather(120)
            server_cpu = server.cpu_seconds() - cpu_start
            wall = time.monotonic() - wall_start
            alive = server.alive()

    latencies: list[float] = []
    missing = duplicated = 0
    members = [own] + [mine for result in results for mine in result[1]]
    for mine in members:
        counts = Counter(body for body, _ in mine)
        missing += sum(1 for body in sent if counts[body] == 0)
        duplicated += sum(n - 1 for n in counts.values() if n > 1)
        latencies += [(stamp - sent[body]) * 1000 for body, stamp in mine if body in sent]
    missing += (args.members - len(members)) * len(sent)
    acks = [(replies[b][0] - t) * 1000 for b, t in sent.items() if b in replies]
    failed = [replies[b][1] for b in sent if b in replies and replies[b][1] != 200]
    complete = missing == 0 and duplicated == 0 and not failed and len(replies) == len(sent)
    return {
        "latencies": latencies,
        "acks": acks,
        "complete": complete,
        "connected": connected,
        "missing": missing,
        "duplicated": duplicated,
        "failed": failed,
        "errors": errors,
        "closed": sum(r[4] for r in results),
        "frames": sum(r[2] for r in results),
        "client_cpu": sum(r[3] for r in results),
        "server_cpu": server_cpu - idle_cpu * wall,
        "idle_cpu": idle_cpu,
        "rss": rss,
        "setup": setup,
        "alive": alive,
        "sent": len(sent),
    }


def fanout_peer(args: argparse.Namespace) -> dict[str, Any]:
    """``bench_realtime_fanout.py`` with the same shape (its own server, one trial)."""
    command = [
        sys.executable,
        str(HERE / "bench_realtime_fanout.py"),
        "--members",
        str(args.members),
        "--messages",
        str(args.messages),
        "--interval",
        str(args.interval),
        "--trials",
        "1",
        "--procs",
        str(args.procs),
        "--gate",
        str(args.gate),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"bench_realtime_fanout.py failed: {done.stderr[-2000:]}")
    latency = re.search(r"latency p50 ([\d.]+) ms, p99 ([\d.]+) ms", done.stdout)
    once = re.search(r"exactly once: (\w+)", done.stdout)
    cpu = re.search(r"server CPU ([\d.]+) ms per message", done.stdout)
    if latency is None or once is None:
        raise RuntimeError(f"unexpected output of bench_realtime_fanout.py:\n{done.stdout}")
    return {
        "p50": float(latency[1]),
        "p99": float(latency[2]),
        "complete": once[1] == "True",
        "cpu": float(cpu[1]) if cpu else float("nan"),
        "command": " ".join(command[1:]),
    }


def part_fanout(args: argparse.Namespace) -> None:
    mine = fanout_twilsock(args)
    peer = None if args.no_peer else fanout_peer(args)
    print(
        f"Fan-out over twilsock: channel of {args.members:,} members, each subscribed to its "
        f"messages list, one of them sending {args.messages} messages every "
        f"{args.interval * 1000:.0f} ms, 1 server process, SQLite, {args.procs} receiving "
        f"processes; {machine()}"
    )
    lat = mine["latencies"]
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    verdict = (
        "met" if p99 <= GOAL_FANOUT_P99_MS and mine["complete"] and mine["alive"] else "NOT met"
    )
    print(
        f"  twilsock: list_item_added latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max "
        f"{max(lat, default=float('nan')):.1f} ms ({len(lat):,} deliveries) — goal p99 ≤ "
        f"{GOAL_FANOUT_P99_MS:.0f} ms, all delivered once: {verdict}"
    )
    print(
        f"  every member got every message exactly once: {mine['complete']} "
        f"({mine['connected']:,}/{args.members:,} connected, {mine['missing']} missing, "
        f"{mine['duplicated']} duplicated, {len(mine['failed'])} sends failed, "
        f"{mine['closed']} closed early{'; ' + mine['errors'][0] if mine['errors'] else ''})"
    )
    per_message = mine["server_cpu"] / max(1, mine["sent"]) * 1000
    print(
        f"  send → reply (persisted) p50 {percentile(mine['acks'], 50):.1f} ms, p99 "
        f"{percentile(mine['acks'], 99):.1f} ms; server CPU {per_message:.1f} ms per message "
        f"(= {per_message * 1000 / max(1, args.members):.0f} µs per delivery, idle "
        f"{mine['idle_cpu']:.0%} subtracted); clients "
        f"{mine['client_cpu'] / max(1, mine['frames']) * 1e6:.0f} µs CPU per frame; server RSS "
        f"{mine['rss'] / 1024:.0f} MiB; setup {mine['setup']:.1f} s; server "
        f"{'alive' if mine['alive'] else 'DEAD'}"
    )
    if peer is not None:
        print(
            f"  /v1/ws ({peer['command']}): message_added p50 {peer['p50']:.1f} ms, p99 "
            f"{peer['p99']:.1f} ms, exactly once: {peer['complete']}, server CPU "
            f"{peer['cpu']:.1f} ms per message; twilsock / /v1/ws p99 = "
            f"{p99 / peer['p99']:.2f}, CPU = {per_message / peer['cpu']:.2f}"
        )


# -- init ----------------------------------------------------------------------------------------
def find_sdk(directory: Path) -> Path | None:
    for name in ("@twilio/conversations", "conv3"):
        if (directory / name / "package.json").exists():
            return directory / name
    return None


async def init_raw(url: str, token: str, channels: int) -> tuple[float, float]:
    """What the SDK waits on before ``initialized``, by a raw client: init, the configuration,
    the map of channels with its items and its subscription; then ``Me/Conversations``, all
    pages. Returns (ms to the subscription, ms to all channels)."""
    start = time.perf_counter()
    client, described = await start_like_sdk(url, token)
    initialized = time.perf_counter()
    found = 0
    params = {"PageSize": "100"}
    while True:
        page = await client.request("GET", f"{CHAT}/Me/Conversations", params=params)
        found += len(page["conversations"])
        if not page["meta"]["next_token"]:
            break
        params = {"PageSize": "100", "PageToken": page["meta"]["next_token"]}
    done = time.perf_counter()
    client.close()
    if len(described.get("items", [])) != channels or found != channels:
        raise RuntimeError(f"{len(described.get('items', []))} map items, {found} channels")
    return (initialized - start) * 1000, (done - start) * 1000


def part_init(args: argparse.Namespace) -> None:
    sdk_dir = Path(args.sdk or os.environ.get("HUBBUB_TWILIO_SDKS") or DEFAULT_SDKS)
    sdk = find_sdk(sdk_dir)
    node = shutil.which("node")
    with Server() as server:
        url = f"ws://{HOST}:{server.port}/v3/wsconnect"
        setup = time.monotonic()
        path = f"/v2/Services/{server.service_sid}/Channels"
        for c in range(args.channels):
            sid = server.create_channel(f"room{c}")
            server.add_members(sid, ["reader"])
            server.rest.call("POST", f"{path}/{sid}/Messages", {"Body": f"hello {c}"})
        setup = time.monotonic() - setup
        minter = server.minter()

        def token() -> str:
            return minter.chat_token("reader", server.service_sid, ttl=3600)

        async def raw_runs() -> list[tuple[float, float]]:
            return [await init_raw(url, token(), args.channels) for _ in range(args.runs)]

        raw = asyncio.run(raw_runs())
        sdk_runs: list[dict[str, Any]] = []
        sdk_note = sdk_load = ""
        if sdk is None or node is None:
            sdk_note = f"(no {'node' if node is None else f'SDK under {sdk_dir}'}: skipped)"
        else:
            job = {
                "sdk": str(sdk),
                "uri": url,
                "tokens": [token() for _ in range(args.runs)],
                "channels": args.channels,
            }
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
                json.dump(job, spec)
            cpu_start = server.cpu_seconds()
            wall_start = time.monotonic()
            try:
                done = subprocess.run(
                    [node, str(HERE / "twilsock_init.js"), spec.name],
                    capture_output=True,
                    text=True,
                    timeout=170,
                    env={**os.environ, "NODE_PATH": str(sdk.parent)},
                )
            finally:
                os.unlink(spec.name)
            server_cpu = (server.cpu_seconds() - cpu_start) / args.runs * 1000
            wall = (time.monotonic() - wall_start) / args.runs * 1000
            sdk_load = f"server CPU {server_cpu:.0f} ms per SDK start (of {wall:.0f} ms wall)"
            for line in done.stdout.splitlines():
                if line.startswith("{"):
                    sdk_runs.append(json.loads(line))
            if done.returncode != 0 or len(sdk_runs) < args.runs:
                tail = (done.stderr or done.stdout)[-1500:]
                sdk_note = f"(node exited {done.returncode}: {tail})"
            version = json.loads((sdk / "package.json").read_text())["version"]
            sdk_note = f"@twilio/conversations {version} from {sdk} {sdk_note}".strip()
        alive = server.alive()

    print(
        f"Init over twilsock: a user in {args.channels} channels (one message each), "
        f"{args.runs} clients one after another, 1 server process, SQLite; setup "
        f"{setup:.1f} s; {machine()}; server {'alive' if alive else 'DEAD'}"
    )
    ok = [run for run in sdk_runs if "initialized" in run]
    if ok:
        first = [run["initialized"] for run in ok]
        listed = [run["conversations"] for run in ok if run.get("conversations") is not None]
        counts = sorted({int(run.get("count") or 0) for run in ok})
        p99 = percentile(first, 99)
        verdict = "met" if p99 <= GOAL_INIT_P99_MS and len(ok) == args.runs else "NOT met"
        print(
            f"  SDK, new Client → initialized: p50 {percentile(first, 50):.0f} ms, p99 "
            f"{p99:.0f} ms (first {first[0]:.0f} ms) — goal p99 ≤ {GOAL_INIT_P99_MS:.0f} ms: "
            f"{verdict}"
        )
        print(
            f"  SDK, new Client → getSubscribedConversations() has all {args.channels}: p50 "
            f"{percentile(listed, 50):.0f} ms, p99 {percentile(listed, 99):.0f} ms "
            f"(conversations seen: {counts}); {sdk_load}; {sdk_note}"
        )
    else:
        print(f"  SDK: no measurement {sdk_note}")
        for run in sdk_runs[:3]:
            print(f"    {run}")
    first_raw = [a for a, _ in raw]
    all_raw = [b for _, b in raw]
    print(
        f"  raw client (init, Configuration, map with items, subscribed): p50 "
        f"{percentile(first_raw, 50):.1f} ms, p99 {percentile(first_raw, 99):.1f} ms; "
        f"+ Me/Conversations (all {args.channels}): p50 {percentile(all_raw, 50):.1f} ms, "
        f"p99 {percentile(all_raw, 99):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["idle", "fanout", "init"], required=True)
    parser.add_argument("--no-peer", action="store_true", help="skip the /v1/ws figure")
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--gate", type=int, default=100, help="sessions starting per process")
    parser.add_argument("--sessions", type=int, default=GOAL_SESSIONS, help="idle: sessions")
    parser.add_argument("--deadline", type=float, default=120.0, help="idle: seconds to start")
    parser.add_argument("--settle", type=float, default=2.0, help="idle: seconds before RSS")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="idle: CPU window")
    parser.add_argument("--members", type=int, default=1000, help="fanout: channel members")
    parser.add_argument("--messages", type=int, default=20, help="fanout: messages sent")
    parser.add_argument("--interval", type=float, default=0.1, help="fanout: seconds apart")
    parser.add_argument("--channels", type=int, default=100, help="init: the user's channels")
    parser.add_argument("--runs", type=int, default=20, help="init: clients timed")
    parser.add_argument("--sdk", help=f"init: node_modules with the SDK (default {DEFAULT_SDKS})")
    args = parser.parse_args()
    raise_nofile()
    {"idle": part_idle, "fanout": part_fanout, "init": part_init}[args.part](args)


if __name__ == "__main__":
    main()
