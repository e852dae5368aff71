"""Sustained load: messages/s persisted and delivered on one node with SQLite (goal ≥ 5,000/s).

Starts ``hubbub serve --workers 1`` on a fresh SQLite file on 127.0.0.1, creates C channels
over the REST API, each with S sending and R receiving members (identities user0..userN-1),
connects every member from separate client processes (senders in ``--sender-procs``, receivers
in ``--receiver-procs``), then for T seconds every sender sends ``send_message`` as fast as the
replies allow — one command in flight per connection — but never faster than ``--rate`` per
connection, under the server's limit of 50 commands/s per connection (4029 beyond it, so the
goal needs ≥ 100 sending connections). Afterwards it checks, per channel, that the stored
indexes (REST ``GET .../Messages?PageSize=1000``, following ``next_page_url``) are 0..N-1 with
none twice and as many as were acknowledged, and that every receiver got them all, in index
order. Reports messages persisted per second (acknowledged ``ok``), deliveries per second and
their latency, and the server's CPU use. Senders get their channel's messages too (they are
members), so the server sends S + R frames per message.

    .venv/bin/python benchmarks/bench_realtime_sustained.py [--seconds 20] [--channels 40]
        [--senders-per-channel 4] [--receivers-per-channel 2] [--rate 45] [--no-compression]
        [--server-compression]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection

from realtime_load import (
    HOST,
    LightSocket,
    Pipe,
    Server,
    Workers,
    machine,
    median,
    open_light,
    open_many,
    percentile,
    raise_nofile,
)

GOAL_RATE = 5000.0
ADDED = '{"type":"message_added"'
ADDED_BYTES = ADDED.encode()


async def send_load(
    pipe: Pipe, url: str, plan: list[tuple[str, str]], rate: float, compression: bool, gate: int
) -> None:
    """One session per (token, channel); each sends, one in flight, between start and end."""
    tokens = [token for token, _ in plan]
    sessions, errors = await open_many(url, tokens, compression=compression, concurrency=gate)
    pipe.send(("ready", sum(ws is not None for ws in sessions), errors[:3]))
    _, start_at, end_at = await pipe.recv()

    async def run(ws: ClientConnection, channel: str) -> tuple[list[Any], list[Any], int]:
        records: list[tuple[float, float, int]] = []  # send time, reply time, index
        failures: list[Any] = []
        waiting: asyncio.Future[tuple[float, str]] | None = None
        echoes = 0

        async def read() -> None:
            nonlocal echoes
            with contextlib.suppress(Exception):
                async for raw in ws:
                    if raw.startswith(ADDED):  # type: ignore[union-attr]
                        echoes += 1
                    elif waiting is not None and not waiting.done():
                        waiting.set_result((time.time(), raw))  # type: ignore[arg-type]
            if waiting is not None and not waiting.done():
                waiting.set_exception(ConnectionError(f"closed: {ws.close_code} {ws.close_reason}"))

        reader = asyncio.create_task(read())
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, start_at - time.time()))
        number, next_at = 0, start_at
        try:
            while True:
                await asyncio.sleep(max(0.0, next_at - time.time()))
                sent_at = time.time()
                if sent_at >= end_at:
                    break
                number += 1
                waiting = loop.create_future()
                frame = {
                    "id": number,
                    "type": "send_message",
                    "channel": channel,
                    "body": f"{sent_at:.6f}",
                }
                await ws.send(json.dumps(frame))
                replied_at, raw = await asyncio.wait_for(waiting, 60)
                reply = json.loads(raw)
                if reply.get("id") != number:
                    failures.append(f"unexpected frame {raw[:100]}")
                elif reply["ok"]:
                    records.append((sent_at, replied_at, reply["result"]["message"]["index"]))
                else:
                    failures.append(reply["error"].get("code"))
                next_at = sent_at + 1 / rate
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
        reader.cancel()
        return records, failures, echoes

    live = [(ws, channel) for ws, (_, channel) in zip(sessions, plan, strict=True) if ws]
    results = await asyncio.gather(*(run(ws, channel) for ws, channel in live))
    pipe.send(("result", [channel for _, channel in live], results))


async def send_light(
    pipe: Pipe, url: str, plan: list[tuple[str, str]], rate: float, compression: bool, gate: int
) -> None:
    """``send_load`` with ``LightSocket`` clients (``--client light``)."""
    semaphore = asyncio.Semaphore(gate)
    errors: list[str] = []
    waiting: list[asyncio.Future[tuple[float, bytes]] | None] = [None] * len(plan)
    echoes = [0] * len(plan)

    def reader(i: int) -> Callable[[bytes], None]:
        def on_text(data: bytes) -> None:
            if data.startswith(ADDED_BYTES):
                echoes[i] += 1
                return
            future = waiting[i]
            if future is not None and not future.done():
                future.set_result((time.time(), data))

        return on_text

    async def one(i: int, token: str) -> LightSocket | None:
        async with semaphore:
            try:
                return await open_light(url, token, reader(i))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return None

    sockets = await asyncio.gather(*(one(i, token) for i, (token, _) in enumerate(plan)))
    pipe.send(("ready", sum(ws is not None for ws in sockets), errors[:3]))
    _, start_at, end_at = await pipe.recv()
    loop = asyncio.get_running_loop()

    async def run(i: int, ws: LightSocket, channel: str) -> tuple[list[Any], list[Any], int]:
        records: list[tuple[float, float, int]] = []
        failures: list[Any] = []
        await asyncio.sleep(max(0.0, start_at - time.time()))
        number, next_at = 0, start_at
        try:
            while True:
                await asyncio.sleep(max(0.0, next_at - time.time()))
                sent_at = time.time()
                if sent_at >= end_at:
                    break
                number += 1
                future = waiting[i] = loop.create_future()
                frame = {
                    "id": number,
                    "type": "send_message",
                    "channel": channel,
                    "body": f"{sent_at:.6f}",
                }
                ws.send_text(json.dumps(frame))
                replied_at, raw = await asyncio.wait_for(future, 60)
                reply = json.loads(raw)
                if reply.get("id") != number:
                    failures.append(f"unexpected frame {raw[:100]!r}")
                elif reply["ok"]:
                    records.append((sent_at, replied_at, reply["result"]["message"]["index"]))
                else:
                    failures.append(reply["error"].get("code"))
                next_at = sent_at + 1 / rate
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
        return records, failures, echoes[i]

    live = [(i, ws, plan[i][1]) for i, ws in enumerate(sockets) if ws is not None]
    results = await asyncio.gather(*(run(i, ws, channel) for i, ws, channel in live))
    pipe.send(("result", [channel for _, _, channel in live], results))


async def receive_light(
    pipe: Pipe, url: str, plan: list[tuple[str, str]], compression: bool, gate: int
) -> None:
    """``receive_load`` with ``LightSocket`` clients (``--client light``)."""
    semaphore = asyncio.Semaphore(gate)
    errors: list[str] = []
    logs: list[list[tuple[float, bytes]]] = [[] for _ in plan]

    def reader(log: list[tuple[float, bytes]]) -> Callable[[bytes], None]:
        def on_text(data: bytes) -> None:
            if data.startswith(ADDED_BYTES):
                log.append((time.time(), data))

        return on_text

    async def one(i: int, token: str) -> LightSocket | None:
        async with semaphore:
            try:
                return await open_light(url, token, reader(logs[i]))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return None

    sockets = await asyncio.gather(*(one(i, token) for i, (token, _) in enumerate(plan)))
    live = [i for i, ws in enumerate(sockets) if ws is not None]
    pipe.send(("ready", len(live), errors[:3]))
    _, expected, wait_seconds = await pipe.recv()
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and any(
        len(logs[i]) < expected.get(plan[i][1], 0) for i in live
    ):
        await asyncio.sleep(0.05)
    out = []
    for i in live:
        sid = plan[i][1]
        indexes, latencies, foreign = [], [], 0
        for stamp, raw in logs[i]:
            frame = json.loads(raw)
            if frame["channel_sid"] != sid:
                foreign += 1
                continue
            message = frame["message"]
            indexes.append(message["index"])
            latencies.append((stamp - float(message["body"])) * 1000)
        last = logs[i][-1][0] if logs[i] else 0.0
        out.append((sid, indexes, latencies, last, foreign, None))
    pipe.send(("result", out))


async def receive_load(
    pipe: Pipe, url: str, plan: list[tuple[str, str]], compression: bool, gate: int
) -> None:
    """One session per (token, channel sid), stamping every ``message_added``."""
    tokens = [token for token, _ in plan]
    sessions, errors = await open_many(url, tokens, compression=compression, concurrency=gate)
    live = [(ws, sid) for ws, (_, sid) in zip(sessions, plan, strict=True) if ws is not None]
    logs: list[list[tuple[float, str]]] = [[] for _ in live]

    async def read(log: list[tuple[float, str]], ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                if raw.startswith(ADDED):  # type: ignore[union-attr]
                    log.append((time.time(), raw))  # type: ignore[arg-type]

    readers = [asyncio.create_task(read(log, ws)) for log, (ws, _) in zip(logs, live, strict=True)]
    pipe.send(("ready", len(live), errors[:3]))
    _, expected, wait_seconds = await pipe.recv()
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and any(
        len(log) < expected.get(sid, 0) for log, (_, sid) in zip(logs, live, strict=True)
    ):
        await asyncio.sleep(0.05)
    for task in readers:
        task.cancel()
    out = []
    for log, (ws, sid) in zip(logs, live, strict=True):
        indexes, latencies, foreign = [], [], 0
        for stamp, raw in log:
            frame = json.loads(raw)
            if frame["channel_sid"] != sid:
                foreign += 1
                continue
            message = frame["message"]
            indexes.append(message["index"])
            latencies.append((stamp - float(message["body"])) * 1000)
        last = log[-1][0] if log else 0.0
        out.append((sid, indexes, latencies, last, foreign, ws.close_code))
    pipe.send(("result", out))


def add_load_arguments(parser: argparse._ActionsContainer) -> None:
    """The options of the load (shared with ``bench_webhooks.py``)."""
    parser.add_argument("--seconds", type=float, default=20.0, help="sending time")
    parser.add_argument("--channels", type=int, default=40)
    parser.add_argument("--senders-per-channel", type=int, default=4)
    parser.add_argument("--receivers-per-channel", type=int, default=2)
    parser.add_argument("--rate", type=float, default=45.0, help="max sends/s per connection")
    parser.add_argument("--sender-procs", type=int, default=2)
    parser.add_argument("--receiver-procs", type=int, default=1)
    parser.add_argument("--gate", type=int, default=100, help="handshakes in flight per process")
    parser.add_argument(
        "--client",
        choices=["light", "websockets"],
        default="light",
        help="client implementation: a minimal one (default) or the websockets library",
    )
    parser.add_argument("--no-compression", action="store_true", help="don't offer deflate")


@dataclass
class Load:
    """What one sustained run measured (raw), for ``report`` and other scripts."""

    channels: list[str]
    senders: int
    receivers: int
    client_procs: int
    start_at: float
    end_at: float
    acked: Counter[str]
    records: list[tuple[float, float, int]]
    failures: Counter[Any]
    acked_indexes: dict[str, list[int]]
    heard: list[Any]
    stored: dict[str, list[int]]
    #: The stored messages' sids, in the order of ``stored``.
    stored_sids: dict[str, list[str]]
    cpu_sending: float
    cpu_total: float
    connected: int
    errors: list[str]
    setup: float
    verify_time: float
    alive: bool

    @property
    def total(self) -> int:
        return sum(self.acked.values())

    @property
    def window(self) -> float:
        """From the start to the last acknowledgement, in seconds."""
        last_reply = max((replied for _, replied, _ in self.records), default=self.start_at)
        return max(1e-9, last_reply - self.start_at)

    @property
    def persisted_rate(self) -> float:
        return self.total / self.window

    @property
    def intact(self) -> bool:
        """Stored == acknowledged, indexes 0..N-1 once each, every receiver complete."""
        stored, acked = self.stored, self.acked
        complete = sum(
            indexes == list(range(acked[sid]))
            for _, result in self.heard
            for sid, indexes, *_ in result
        )
        return (
            all(indexes == list(range(len(indexes))) for indexes in stored.values())
            and all(len(stored[sid]) == acked[sid] for sid in self.channels)
            and all(
                sorted(indexes) == list(range(len(indexes)))
                for indexes in self.acked_indexes.values()
            )
            and complete == self.receivers
        )


def run_load(
    server: Server,
    args: argparse.Namespace,
    *,
    compression: bool = False,
    started: Callable[[float, float], None] | None = None,
    sent: Callable[[], None] | None = None,
) -> Load:
    """Set up the channels and clients on ``server``, send for ``args.seconds``, then check.
    ``started(start_at, end_at)`` is called as the senders are told to go, ``sent()`` once
    they have all reported (before the receivers are asked for what they heard)."""
    light = args.client == "light"
    per_channel = args.senders_per_channel + args.receivers_per_channel
    setup = time.monotonic()
    minter = server.minter()
    server.set_limits(max(250, per_channel))
    channels = [server.create_channel(f"load{c}") for c in range(args.channels)]
    senders: list[tuple[str, str]] = []  # (identity, channel sid)
    receivers: list[tuple[str, str]] = []
    user = 0
    for sid in channels:
        identities = [f"user{user + i}" for i in range(per_channel)]
        user += per_channel
        server.add_members(sid, identities)
        senders += [(i, sid) for i in identities[: args.senders_per_channel]]
        receivers += [(i, sid) for i in identities[args.senders_per_channel :]]

    def plan(pairs: list[tuple[str, str]], part: int, parts: int) -> list[tuple[str, str]]:
        return [
            (minter.chat_token(identity, server.service_sid, ttl=3600), sid)
            for identity, sid in pairs[part::parts]
        ]

    sender_jobs = [
        (server.url, plan(senders, p, args.sender_procs), args.rate, compression, args.gate)
        for p in range(args.sender_procs)
    ]
    receiver_jobs = [
        (server.url, plan(receivers, p, args.receiver_procs), compression, args.gate)
        for p in range(args.receiver_procs)
        if receivers[p :: args.receiver_procs]
    ]
    with (
        Workers(receive_light if light else receive_load, receiver_jobs) as listening,
        Workers(send_light if light else send_load, sender_jobs) as sending,
    ):
        ready = listening.gather(120) + sending.gather(120)
        connected = sum(item[1] for item in ready)
        errors = [error for item in ready for error in item[2]]
        setup = time.monotonic() - setup
        start_at = time.time() + 0.5
        end_at = start_at + args.seconds
        cpu_start = server.cpu_seconds()
        if started is not None:
            started(start_at, end_at)
        sending.send_all(("go", start_at, end_at))
        results = sending.gather(args.seconds + 120)
        cpu_sending = server.cpu_seconds() - cpu_start
        if sent is not None:
            sent()
        acked: Counter[str] = Counter()
        records: list[tuple[float, float, int]] = []
        failures: Counter[Any] = Counter()
        acked_indexes: dict[str, list[int]] = {sid: [] for sid in channels}
        for _, sids, outcomes in results:
            for sid, (mine, failed, _) in zip(sids, outcomes, strict=True):
                acked[sid] += len(mine)
                acked_indexes[sid] += [index for _, _, index in mine]
                records += mine
                failures.update(failed)
        listening.send_all(("stop", dict(acked), 60.0))
        heard = listening.gather(120)
        cpu_total = server.cpu_seconds() - cpu_start
        alive = server.alive()
    verify_started = time.monotonic()
    listed = {sid: server.messages(sid) for sid in channels}
    stored = {sid: [index for index, _ in messages] for sid, messages in listed.items()}
    verify_time = time.monotonic() - verify_started
    return Load(
        channels=channels,
        senders=len(senders),
        receivers=len(receivers),
        client_procs=len(receiver_jobs),
        start_at=start_at,
        end_at=end_at,
        acked=acked,
        records=records,
        failures=failures,
        acked_indexes=acked_indexes,
        heard=heard,
        stored=stored,
        stored_sids={sid: [m for _, m in messages] for sid, messages in listed.items()},
        cpu_sending=cpu_sending,
        cpu_total=cpu_total,
        connected=connected,
        errors=errors,
        setup=setup,
        verify_time=verify_time,
        alive=alive,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_load_arguments(parser)
    parser.add_argument(
        "--server-compression",
        action="store_true",
        help="hubbub serve --ws-compression: accept deflate (off by default)",
    )
    parser.add_argument("--server-gc", help="what-if: 'off' or 'T0,T1,T2' in the server")
    parser.add_argument(
        "--journaled",
        action="store_true",
        help="one session with Twilio's protocol first: the service's Sync objects are then "
        "journaled, as for an app on Twilio's SDKs (what that costs its /v1/ws senders)",
    )
    args = parser.parse_args()
    raise_nofile()
    compression = not args.no_compression
    if args.client == "light":
        compression = False  # the light client speaks no extensions
    with Server(gc=args.server_gc, compression=args.server_compression) as server:
        if args.journaled:
            asyncio.run(journal_on(server))
        load = run_load(server, args, compression=compression)
    report(args, load)


async def journal_on(server: Server) -> None:
    """Open and close one twilsock session: its service is journaled from then on."""
    from bench_twilsock import Twilsock  # the raw twilsock client (imports this module)

    token = server.minter().chat_token("journal-on", server.service_sid, ttl=3600)
    client = await Twilsock.open(f"ws://{HOST}:{server.port}/v3/wsconnect", token)
    client.close()


def report(args: argparse.Namespace, load: Load) -> None:
    """Print the figures of ``load`` (run with ``args``)."""
    start_at = load.start_at
    acked, records, failures = load.acked, load.records, load.failures
    per_channel = args.senders_per_channel + args.receivers_per_channel
    total = load.total
    window = load.window
    persisted_rate = load.persisted_rate
    buckets = Counter(int(replied - start_at) for _, replied, _ in records)
    full_seconds = [buckets[s] for s in range(1, int(args.seconds) - 1)]
    acks = [(replied - sent_at) * 1000 for sent_at, replied, _ in records]

    deliveries = 0
    latencies: list[float] = []
    in_order = complete = foreign = 0
    last_delivery = start_at
    for _, result in load.heard:
        for sid, indexes, lat, last, alien, _ in result:
            deliveries += len(indexes)
            latencies += lat
            foreign += alien
            last_delivery = max(last_delivery, last)
            in_order += indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
            complete += indexes == list(range(acked[sid]))
    receivers_total = load.receivers
    delivery_window = max(1e-9, last_delivery - start_at)

    stored = load.stored
    stored_ok = all(indexes == list(range(len(indexes))) for indexes in stored.values())
    stored_match = all(len(stored[sid]) == acked[sid] for sid in load.channels)
    acked_unique = all(
        sorted(indexes) == list(range(len(indexes))) for indexes in load.acked_indexes.values()
    )
    stored_total = sum(len(indexes) for indexes in stored.values())
    intact = stored_ok and stored_match and acked_unique and complete == receivers_total
    alive = load.alive

    print(
        f"Sustained: {args.channels} channels × ({args.senders_per_channel} senders + "
        f"{args.receivers_per_channel} receivers) = {load.senders} sending and "
        f"{receivers_total} receiving connections, ≤ {args.rate:.0f} sends/s each, "
        f"{args.seconds:.0f} s, 1 server process, SQLite, permessage-deflate "
        f"{_deflate(args)}, {args.client} clients"
        f"{f', server gc {args.server_gc} (what-if)' if getattr(args, 'server_gc', None) else ''}"
        f"; {args.sender_procs}+{load.client_procs} client processes; {machine()}"
    )
    verdict = "met" if persisted_rate >= GOAL_RATE and intact and alive else "NOT met"
    print(
        f"  {persisted_rate:,.0f} msgs/s persisted and acknowledged ({total:,} in {window:.1f} s;"
        f" per second: median {median(full_seconds):,.0f}, min {min(full_seconds, default=0):,})"
        f" — goal ≥ {GOAL_RATE:,.0f}/s, none lost or reordered: {verdict}"
    )
    offered = load.senders * args.rate
    print(
        f"  offered at most {offered:,.0f}/s; send → reply p50 {percentile(acks, 50):.1f} ms, "
        f"p99 {percentile(acks, 99):.1f} ms; failures {dict(failures) or 'none'}"
    )
    print(
        f"  delivered to receivers: {deliveries:,} of {total * args.receivers_per_channel:,} "
        f"({deliveries / delivery_window:,.0f}/s, i.e. "
        f"{deliveries / delivery_window / max(1, args.receivers_per_channel):,.0f} msgs/s to all"
        f" receivers); latency p50 {percentile(latencies, 50):.1f} ms, "
        f"p99 {percentile(latencies, 99):.1f} ms; frames pushed by the server ≈ "
        f"{total * per_channel / window:,.0f}/s"
    )
    print(
        f"  stored {stored_total:,}: indexes 0..N-1 with none twice in every channel: "
        f"{stored_ok}; stored == acknowledged: {stored_match}; acknowledged indexes unique: "
        f"{acked_unique}; receivers complete and in index order: {complete}/{receivers_total} "
        f"(in order {in_order}, {foreign} foreign frames)"
    )
    errors = load.errors
    print(
        f"  server CPU {load.cpu_sending / window:.0%} of a core while sending "
        f"({load.cpu_total:.1f} s in all); {load.connected}/{load.senders + receivers_total} "
        f"connected{', errors: ' + errors[0] if errors else ''}; setup {load.setup:.1f} s, check "
        f"{load.verify_time:.1f} s; server {'alive' if alive else 'DEAD'}"
    )


def _deflate(args: argparse.Namespace) -> str:
    if args.no_compression or args.client == "light":
        return "not offered"
    accepted = getattr(args, "server_compression", False)
    return "offered, accepted" if accepted else "offered, declined (server default)"


if __name__ == "__main__":
    main()
