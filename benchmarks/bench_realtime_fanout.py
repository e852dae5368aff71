"""Fan-out: one message to a channel of 1,000 connected members, p99 delivery ≤ 50 ms.

Starts ``hubbub serve --workers 1`` on a fresh SQLite file on 127.0.0.1, raises the service's
members-per-channel limit (250 by default, 1,000 at most, as on Twilio), creates a channel and
adds 1,000 members (user0..user999) over the REST API, and connects and authenticates every
member from separate client processes. user0, in its own process, is the sender: it sends M
messages with ``send_message``, one every ``--interval`` seconds, in each of several trials,
and receives its own copy like every other member. Every member stamps each ``message_added``
with ``time.time()`` as it reads it (frames are parsed afterwards, so the stamp costs little);
latency = receive time − the sender's time just before it sent. Reports p50/p99 over all
deliveries (median of the trials' figures), checks that every member got every message exactly
once, and shows the server's CPU time per message and the clients' per frame (with 2 CPUs the
clients compete with the server, which inflates the latencies).

    .venv/bin/python benchmarks/bench_realtime_fanout.py [--members 1000] [--messages 50]
        [--interval 0.1] [--trials 3] [--procs 4] [--no-compression] [--server-compression]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection

from realtime_load import (
    LightSocket,
    Pipe,
    Server,
    Workers,
    cpu_seconds_self,
    machine,
    median,
    open_light,
    open_many,
    open_session,
    percentile,
    raise_nofile,
)

GOAL_P99_MS = 50.0
ADDED = '{"type":"message_added"'
ADDED_BYTES = ADDED.encode()


async def receive(
    pipe: Pipe, url: str, tokens: list[str], compression: bool, gate: int, light: bool
) -> None:
    """Hold one session per token, stamping every frame; report the messages when told."""
    logs: list[list[tuple[float, str | bytes]]] = [[] for _ in tokens]
    added = [0] * len(tokens)
    readers: list[asyncio.Task[None]] = []
    if light:
        semaphore = asyncio.Semaphore(gate)
        errors: list[str] = []

        def reader(i: int) -> Callable[[bytes], None]:
            log = logs[i]

            def on_text(data: bytes) -> None:
                log.append((time.time(), data))
                if data.startswith(ADDED_BYTES):
                    added[i] += 1

            return on_text

        async def one(i: int, token: str) -> LightSocket | None:
            async with semaphore:
                try:
                    return await open_light(url, token, reader(i))
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    return None

        opened = await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens)))
        live: list[Any] = [ws for ws in opened if ws is not None]
    else:
        sessions, errors = await open_many(url, tokens, compression=compression, concurrency=gate)
        live = [ws for ws in sessions if ws is not None]

        async def read(i: int, ws: ClientConnection) -> None:
            log = logs[i]
            with contextlib.suppress(Exception):
                async for raw in ws:
                    log.append((time.time(), raw))  # type: ignore[arg-type]
                    if raw.startswith(ADDED):  # type: ignore[union-attr]
                        added[i] += 1

        readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(live)]
        logs = logs[: len(live)]
        added = added[: len(live)]
    pipe.send(("ready", len(live), errors[:3]))
    _, expected, wait_seconds = await pipe.recv()
    cpu_start = cpu_seconds_self()
    deadline = time.monotonic() + wait_seconds
    while min(added, default=expected) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    cpu = cpu_seconds_self() - cpu_start
    for task in readers:
        task.cancel()
    deliveries = []
    for log in logs:
        mine = []
        for stamp, raw in log:
            text = raw.decode() if isinstance(raw, bytes) else raw
            if text.startswith(ADDED):
                mine.append((json.loads(text)["message"]["body"], stamp))
        deliveries.append(mine)
    frames = sum(len(log) for log in logs)
    closed = sum(
        ws.closed.done() if isinstance(ws, LightSocket) else ws.state.name != "OPEN" for ws in live
    )
    pipe.send(("result", deliveries, frames, cpu, closed))


async def send(
    pipe: Pipe,
    url: str,
    token: str,
    channel: str,
    trials: int,
    messages: int,
    interval: float,
    compression: bool,
) -> None:
    """Send ``messages`` per trial on a fixed schedule; report send, reply and echo times."""
    ws, _ = await open_session(url, token, compression=compression)
    replies: dict[int, tuple[float, bool, Any]] = {}
    echoes: list[tuple[float, str]] = []

    async def read() -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                if raw.startswith('{"id"'):  # type: ignore[union-attr]
                    reply = json.loads(raw)
                    replies[reply["id"]] = (time.time(), reply["ok"], reply.get("error"))
                elif raw.startswith(ADDED):  # type: ignore[union-attr]
                    echoes.append((time.time(), raw))  # type: ignore[arg-type]

    reader = asyncio.create_task(read())
    pipe.send(("ready",))
    await pipe.recv()
    sent: dict[str, tuple[float, int]] = {}
    command = 0
    for trial in range(trials):
        start = time.time() + 0.05
        for k in range(messages):
            await asyncio.sleep(max(0.0, start + k * interval - time.time()))
            command += 1
            body = f"{trial}:{k}"
            frame = {"id": command, "type": "send_message", "channel": channel, "body": body}
            text = json.dumps(frame)
            sent[body] = (time.time(), command)
            await ws.send(text)
        await asyncio.sleep(1.0)  # let the trial's deliveries drain before the next
    deadline = time.monotonic() + 30
    while (len(replies) < command or len(echoes) < command) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    reader.cancel()
    own = [(json.loads(raw)["message"]["body"], stamp) for stamp, raw in echoes]
    pipe.send(("result", sent, replies, own))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000, help="receiving members")
    parser.add_argument("--messages", type=int, default=50, help="messages per trial")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between messages")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--procs", type=int, default=4, help="receiving client processes")
    parser.add_argument("--gate", type=int, default=100, help="handshakes in flight per process")
    parser.add_argument(
        "--client",
        choices=["light", "websockets"],
        default="light",
        help="receiving clients: a minimal one (default) or the websockets library",
    )
    parser.add_argument("--no-compression", action="store_true", help="don't offer deflate")
    parser.add_argument(
        "--server-compression",
        action="store_true",
        help="hubbub serve --ws-compression: accept deflate (off by default)",
    )
    parser.add_argument("--server-gc", help="what-if: 'off' or 'T0,T1,T2' in the server")
    args = parser.parse_args()
    raise_nofile()
    compression = not args.no_compression
    light = args.client == "light"  # the light client offers no compression; the sender does

    with Server(gc=args.server_gc, compression=args.server_compression) as server:
        setup = time.monotonic()
        server.set_limits(max(250, args.members))
        channel = server.create_channel("fanout")
        identities = [f"user{i}" for i in range(args.members)]
        server.add_members(channel, identities)
        minter = server.minter()

        def token(identity: str) -> str:
            return minter.chat_token(identity, server.service_sid, ttl=3600)

        shares = [identities[1:][p :: args.procs] for p in range(args.procs)]
        jobs = [
            (server.url, [token(i) for i in share], compression, args.gate, light)
            for share in shares
            if share
        ]
        with (
            Workers(receive, jobs) as receivers,
            Workers(
                send,
                [
                    (
                        server.url,
                        token(identities[0]),
                        channel,
                        args.trials,
                        args.messages,
                        args.interval,
                        compression,
                    )
                ],
            ) as sender,
        ):
            ready = receivers.gather(120)
            connected = 1 + sum(item[1] for item in ready)
            errors = [error for item in ready for error in item[2]]
            sender.gather(60)
            setup = time.monotonic() - setup
            rss = server.rss_kb()
            cpu_idle_start = server.cpu_seconds()
            time.sleep(2.0)
            idle_cpu = (server.cpu_seconds() - cpu_idle_start) / 2.0
            expected = args.trials * args.messages
            receivers.send_all(("stop", expected, args.trials * args.messages * args.interval + 60))
            cpu_start = server.cpu_seconds()
            wall_start = time.monotonic()
            sender.send_all("go")
            sending = expected * args.interval + args.trials * 2 + 60
            [(_, sent, replies, own)] = sender.gather(sending)
            results = receivers.gather(120)
            server_cpu = server.cpu_seconds() - cpu_start
            wall = time.monotonic() - wall_start
            alive = server.alive()

    # Exactly once, and the latencies, per trial.
    per_trial: list[list[float]] = [[] for _ in range(args.trials)]
    missing = duplicated = 0
    members = [own] + [mine for result in results for mine in result[1]]
    for mine in members:
        counts = Counter(body for body, _ in mine)
        missing += sum(1 for body in sent if counts[body] == 0)
        duplicated += sum(n - 1 for n in counts.values() if n > 1)
        for body, stamp in mine:
            if body in sent:
                trial = int(body.split(":")[0])
                per_trial[trial].append((stamp - sent[body][0]) * 1000)
    missing += (args.members - len(members)) * len(sent)  # members that never connected
    acks = [(replies[c][0] - t) * 1000 for t, c in sent.values() if c in replies]
    failed = [replies[c][2] for _, c in sent.values() if c in replies and not replies[c][1]]
    all_latencies = [ms for trial in per_trial for ms in trial]
    frames = sum(r[2] for r in results)
    client_cpu = sum(r[3] for r in results)
    closed = sum(r[4] for r in results)
    idle_cpu_used = idle_cpu * wall

    print(
        f"Fan-out: channel of {args.members:,} connected members, one of them sending, "
        f"{args.trials} trials × {args.messages} messages every {args.interval * 1000:.0f} ms, "
        f"1 server process, SQLite, permessage-deflate "
        f"{_deflate(args)}, {args.client} receiving clients"
        f"{f', server gc {args.server_gc} (what-if)' if args.server_gc else ''}, "
        f"{len(jobs)} receiving processes; {machine()}"
    )
    for number, trial in enumerate(per_trial):
        print(
            f"  trial {number + 1}: p50 {percentile(trial, 50):6.1f} ms   "
            f"p99 {percentile(trial, 99):6.1f} ms   max {max(trial, default=float('nan')):6.1f}"
            f" ms   ({len(trial):,} deliveries)"
        )
    p50 = median([percentile(trial, 50) for trial in per_trial if trial])
    p99 = median([percentile(trial, 99) for trial in per_trial if trial])
    complete = missing == 0 and duplicated == 0 and not failed and len(replies) == len(sent)
    verdict = "met" if p99 <= GOAL_P99_MS and complete and alive else "NOT met"
    print(
        f"  delivery latency p50 {p50:.1f} ms, p99 {p99:.1f} ms (median of trials; all "
        f"{len(all_latencies):,}: p99 {percentile(all_latencies, 99):.1f} ms) — goal p99 ≤ "
        f"{GOAL_P99_MS:.0f} ms, all delivered: {verdict}"
    )
    print(
        f"  every member got every message exactly once: {complete} ({connected:,}/"
        f"{args.members:,} connected, {missing} missing, {duplicated} duplicated, "
        f"{len(failed)} sends failed{': ' + str(failed[0]) if failed else ''}, "
        f"{closed} closed early{', errors: ' + errors[0] if errors else ''})"
    )
    print(
        f"  send → reply (persisted) p50 {percentile(acks, 50):.1f} ms, "
        f"p99 {percentile(acks, 99):.1f} ms"
    )
    per_message = (server_cpu - idle_cpu_used) / max(1, len(sent)) * 1000
    print(
        f"  server CPU {per_message:.1f} ms per message fanned out to {args.members:,} "
        f"(= {per_message * 1000 / max(1, args.members):.0f} µs per delivery; idle "
        f"{idle_cpu:.0%} of a core with {connected:,} sessions, subtracted); clients "
        f"{client_cpu / max(1, frames) * 1e6:.0f} µs CPU per frame received; server RSS "
        f"{rss / 1024:.0f} MiB; setup {setup:.1f} s; server {'alive' if alive else 'DEAD'}"
    )


def _deflate(args: argparse.Namespace) -> str:
    if args.no_compression:
        return "not offered"
    return "offered, accepted" if args.server_compression else "offered, declined (server default)"


if __name__ == "__main__":
    main()
