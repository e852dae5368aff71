"""Idle WebSocket sessions: server RSS per authenticated connection (goal ≤ 16 KB at 10,000).

Starts ``hubbub serve --workers 1`` on a fresh SQLite file on 127.0.0.1, warms it up with a few
sessions, reads the server's VmRSS, then opens N connections from separate client processes and
authenticates each (identities user0..userN-1, created on first sight), and reads VmRSS again
once all are authenticated and the server has settled: (after − before) / N. Along the way it
prints how many sessions are up and the RSS per session so far, and afterwards the server's CPU
use while the sessions sit idle. If not all are up by ``--deadline`` seconds, the figures are
for those that are. A fresh server per trial; the median is shown.

Clients offer permessage-deflate, as browsers and the ``websockets`` library do, unless
``--no-compression`` is given; ``hubbub serve`` declines it unless started with
``--ws-compression`` (``--server-compression`` here), which costs zlib state per connection.
``--server-gc`` is a what-if: it sets the server's garbage collector (``off`` or thresholds
``T0,T1,T2``) before ``hubbub serve`` runs, the server's code unchanged.

    .venv/bin/python benchmarks/bench_realtime_idle.py [--connections 10000] [--procs 4]
        [--trials 1] [--deadline 60] [--no-compression] [--server-compression]
        [--server-gc off|T0,T1,T2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from realtime_load import Pipe, Server, Workers, machine, median, open_session, raise_nofile

GOAL_KB = 16.0
GOAL_SESSIONS = 10000
WARMUP = 20


async def hold(pipe: Pipe, url: str, tokens: list[str], compression: bool, gate: int) -> None:
    """Open and authenticate a session per token, reporting progress; hold them until told."""
    sessions = []
    errors: list[str] = []
    failed = 0
    semaphore = asyncio.Semaphore(gate)

    async def one(token: str) -> None:
        nonlocal failed
        async with semaphore:
            try:
                ws, _ = await open_session(url, token, compression=compression)
            except Exception as exc:
                failed += 1
                if len(errors) < 3:
                    errors.append(f"{type(exc).__name__}: {exc}")
                return
            sessions.append(ws)

    opening = asyncio.gather(*(one(token) for token in tokens))
    told = asyncio.ensure_future(pipe.recv())
    while True:
        await asyncio.wait([told, opening], timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
        if told.done() and told.result() == "halt":  # past the deadline: stop opening more
            opening.cancel()
            with contextlib.suppress(BaseException):
                await opening
            told = asyncio.ensure_future(pipe.recv())
        elif told.done():
            break
        pipe.send(("progress", len(sessions), failed, opening.done(), errors))
        if opening.done():
            await asyncio.wait([told])  # nothing left to report until told
    opening.cancel()
    with contextlib.suppress(BaseException):
        await opening
    if told.result() == "close gracefully":
        await asyncio.gather(*(ws.close() for ws in sessions), return_exceptions=True)
    # Otherwise leave at once: the kernel closes the sockets when the process ends.
    pipe.send(("closed",))


def warm_up(server: Server, tokens: list[str], compression: bool) -> None:
    """A few sessions, opened and closed, so lazily built state is there before measuring."""

    async def run() -> None:
        sessions = [await open_session(server.url, t, compression=compression) for t in tokens]
        for ws, _ in sessions:
            await ws.close()

    asyncio.run(run())


def trial(args: argparse.Namespace) -> dict[str, Any]:
    with Server(gc=args.server_gc, compression=args.server_compression) as server:
        minter = server.minter()
        compression = not args.no_compression

        def token(i: int) -> str:
            return minter.chat_token(f"user{i}", server.service_sid, ttl=3600)

        warm_up(server, [token(10**6 + i) for i in range(WARMUP)], compression)
        time.sleep(1.5)
        before = server.rss_kb()

        procs = min(args.procs, args.connections)
        shares = [range(p, args.connections, procs) for p in range(procs)]
        jobs = [(server.url, [token(i) for i in share], compression, args.gate) for share in shares]
        result = hold_sessions(server, args, hold, jobs, args.connections, before)
        result["authenticated"] = result["up"]
        return result


def hold_sessions(
    server: Server,
    args: argparse.Namespace,
    holder: Callable[..., Any],
    jobs: list[tuple[Any, ...]],
    total: int,
    before: int,
    label: str = "sessions",
) -> dict[str, Any]:
    """Open ``total`` sessions with ``holder`` in client processes (``jobs``), printing the
    server's RSS each tenth of the way, then hold them idle: the figures of a trial. Each
    job reports ``(_, up, failed, done, errors)``. Options read from ``args``: ``deadline``,
    ``settle``, ``idle_seconds`` and (if there) ``py_spy``."""
    status: dict[int, tuple[Any, ...]] = {}
    started = time.monotonic()
    timeline: list[tuple[float, int, int]] = []
    next_mark = total / 10
    with Workers(holder, jobs) as clients:
        while True:
            for index, item in clients.poll(0.5):
                status[index] = item
            up = sum(s[1] for s in status.values())
            elapsed = time.monotonic() - started
            if up >= next_mark:
                rss = server.rss_kb()
                timeline.append((elapsed, up, rss))
                print(
                    f"    {up:6,} {label} up at {elapsed:5.1f} s, "
                    f"RSS {rss / 1024:6.1f} MiB = {(rss - before) / up:5.1f} KiB/session",
                    flush=True,
                )
                while next_mark <= up:
                    next_mark += total / 10
            all_done = len(status) == len(jobs) and all(s[3] for s in status.values())
            if all_done or elapsed > args.deadline or not server.alive():
                break
        opened = time.monotonic() - started
        if not server.alive():
            raise RuntimeError(f"the server died: {server.log_tail()}")
        py_spy = getattr(args, "py_spy", False)
        stack = server.py_spy_dump() if not all_done and py_spy else ""
        if not all_done:
            clients.send_all("halt")
            deadline = time.monotonic() + 30
            while not all(s[3] for s in status.values()) and time.monotonic() < deadline:
                for index, item in clients.poll(0.5):
                    status[index] = item
        time.sleep(args.settle)
        for index, item in clients.poll(0):
            status[index] = item
        after = server.rss_kb()
        cpu_start = server.cpu_seconds()
        time.sleep(args.idle_seconds)
        idle_cpu = (server.cpu_seconds() - cpu_start) / args.idle_seconds
        after_idle = server.rss_kb()
        alive = server.alive()
        clients.send_all("close")
    return {
        "before": before,
        "after": after,
        "after_idle": after_idle,
        "up": sum(s[1] for s in status.values()),
        "failed": sum(s[2] for s in status.values()),
        "errors": [error for s in status.values() for error in s[4]],
        "opened": opened,
        "complete": all_done,
        "idle_cpu": idle_cpu,
        "alive": alive,
        "timeline": timeline,
        "stack": stack,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=GOAL_SESSIONS)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--gate", type=int, default=100, help="handshakes in flight per process")
    parser.add_argument("--trials", type=int, default=1, help="a fresh server each")
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds to get all up")
    parser.add_argument("--no-compression", action="store_true", help="don't offer deflate")
    parser.add_argument(
        "--server-compression",
        action="store_true",
        help="hubbub serve --ws-compression: accept deflate (off by default)",
    )
    parser.add_argument("--settle", type=float, default=2.0, help="seconds before reading RSS")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="CPU sampling window")
    parser.add_argument("--server-gc", help="what-if: 'off' or 'T0,T1,T2' in the server")
    parser.add_argument("--py-spy", action="store_true", help="dump the server's stack if late")
    args = parser.parse_args()
    raise_nofile()  # the server inherits it

    results = []
    for number in range(args.trials):
        print(f"  trial {number + 1}:", flush=True)
        result = trial(args)
        results.append(result)
        per = (result["after"] - result["before"]) / max(1, result["authenticated"])
        print(
            f"  trial {number + 1}: {result['authenticated']:,}/{args.connections:,} "
            f"authenticated in {result['opened']:.1f} s; RSS {result['before'] / 1024:.1f} → "
            f"{result['after'] / 1024:.1f} MiB = {per:.1f} KiB/session; "
            f"idle CPU {result['idle_cpu']:.0%} of a core",
            flush=True,
        )
        if result["stack"]:
            print(result["stack"])

    per_session = median([(r["after"] - r["before"]) / max(1, r["authenticated"]) for r in results])
    last = results[-1]
    gc_note = f", server gc {args.server_gc} (what-if)" if args.server_gc else ""
    print(
        f"Idle sessions: {args.connections:,} connections, 1 server process (--workers 1), "
        f"SQLite, permessage-deflate {_deflate(args)}{gc_note}, "
        f"{args.procs} client processes; {machine()}"
    )
    reached = min(r["authenticated"] for r in results)
    verdict = "met" if per_session <= GOAL_KB and reached >= GOAL_SESSIONS else "NOT met"
    print(
        f"  {per_session:.1f} KiB of server RSS per authenticated session at {reached:,} "
        f"sessions (median of {len(results)}; goal ≤ {GOAL_KB:.0f} KB at ≥ {GOAL_SESSIONS:,}"
        f" sessions: {verdict})"
    )
    rate = last["authenticated"] / last["opened"] if last["opened"] else 0.0
    late = "" if last["complete"] else f" — the rest not up within {args.deadline:.0f} s"
    print(
        f"  {last['authenticated']:,} of {args.connections:,} authenticated in "
        f"{last['opened']:.1f} s ({rate:,.0f}/s), {last['failed']} failed"
        f"{': ' + last['errors'][0] if last['errors'] else ''}{late}"
    )
    print(
        f"  RSS before {last['before'] / 1024:.1f} MiB, after {last['after'] / 1024:.1f} MiB, "
        f"after {args.idle_seconds:.0f} s idle {last['after_idle'] / 1024:.1f} MiB; "
        f"server CPU while idle {last['idle_cpu']:.0%} of a core; "
        f"server {'alive' if last['alive'] else 'DEAD'}"
    )


def _deflate(args: argparse.Namespace) -> str:
    if args.no_compression:
        return "not offered"
    return "offered, accepted" if args.server_compression else "offered, declined (server default)"


if __name__ == "__main__":
    main()
