"""Events between server processes over Redis: hubbub's broker against one publish per event.

Two processes share a throw-away Redis on 127.0.0.1 (``scripts/redis``, or the server at
``HUBBUB_BENCH_REDIS_URL``). The publisher hands N ``message_added`` events (the frame of a
typical message, ~700 bytes of JSON) to its broker in bursts of ``--burst``, one burst per turn
of its event loop, as a busy gateway does; the receiver's broker delivers them and stamps each
with its arrival time. Two publishers are measured in one run, in alternating rounds:

- hubbub's ``RedisBroker``: one writer task sending what has queued up in one pipelined round
  trip, the receiver dropping repeats by sequence number;
- the peer: the obvious way with redis-py, ``await redis.publish(...)`` once per event (what a
  first version of the broker did), received the same way.

Reports events/s from first publish to last delivery and the latency p50/p99 (publish call to
delivery; both processes read the same monotonic clock), with the ratio of throughputs, and
checks that every event arrived once, in order. Flat out, the latency is mostly the time an
event waits in the publisher's queue; a second set of rounds paced at ``--paced`` events/s
(the sustained goal of one node, 5,000) shows the trip itself.

    .venv/bin/python benchmarks/bench_redis_broker.py [--events 20000] [--burst 50] [--rounds 3]
        [--paced 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from hubbub.chat.events import Event
from hubbub.realtime.redis_broker import RedisBroker
from realtime_load import machine, median, percentile

ROOT = Path(__file__).resolve().parents[1]


def redis_url() -> str:
    url = os.environ.get("HUBBUB_BENCH_REDIS_URL")
    if url:
        return url
    done = subprocess.run(
        [str(ROOT / "scripts" / "redis")], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def frame(n: int) -> dict[str, Any]:
    """A ``message_added`` push as the gateway sends it, numbered and stamped."""
    sid = "CH" + "0" * 32
    return {
        "type": "message_added",
        "channel_sid": sid,
        "message": {
            "sid": f"IM{n:032x}",
            "account_sid": "AC" + "1" * 32,
            "service_sid": "IS" + "2" * 32,
            "channel_sid": sid,
            "to": sid,
            "from": "user17",
            "body": "a message of about the length people type, give or take a word",
            "attributes": "{}",
            "index": n,
            "type": "text",
            "media": None,
            "was_edited": False,
            "last_updated_by": None,
            "date_created": "2026-12-01T07:00:00Z",
            "date_updated": "2026-12-01T07:00:00Z",
            "url": f"http://127.0.0.1:8080/v2/Services/IS{'2' * 32}/Channels/{sid}/Messages/{n}",
        },
        "sent": time.monotonic(),
    }


# -- the receiving process ---------------------------------------------------------------------
def receive(url: str, channel: str, kind: str, count: int, ready: Any, results: Any) -> None:
    asyncio.run(_receive(url, channel, kind, count, ready, results))


async def _receive(url: str, channel: str, kind: str, count: int, ready: Any, out: Any) -> None:
    arrivals: list[tuple[int, float, float]] = []
    done = asyncio.Event()

    def note(index: int, sent: float) -> None:
        arrivals.append((index, sent, time.monotonic()))
        if len(arrivals) == count:
            done.set()

    if kind == "hubbub":
        broker = RedisBroker(url, channel=channel)
        broker.subscribe(lambda event: note(event.frame["message"]["index"], event.frame["sent"]))
        await broker.start()
        ready.set()
        await asyncio.wait_for(done.wait(), 120)
        await broker.close()
    else:
        import redis.asyncio as redis

        client = redis.Redis.from_url(url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel)
        ready.set()
        while len(arrivals) < count:
            message = await pubsub.get_message(timeout=None)
            if message is not None and message["type"] == "message":
                data = json.loads(message["data"])
                note(data["f"]["message"]["index"], data["f"]["sent"])
        await pubsub.aclose()
        await client.aclose()
    out.put(arrivals)


# -- the publishing process --------------------------------------------------------------------
async def pause(began: float, published: int, rate: float) -> None:
    """Between bursts: one turn of the loop (where a gateway's other work would run), and at
    ``rate`` events/s (0: flat out) the wait until the next burst is due."""
    due = began + published / rate if rate else 0.0
    await asyncio.sleep(max(0.0, due - time.monotonic()))


async def publish_hubbub(url: str, channel: str, count: int, burst: int, rate: float) -> None:
    broker = RedisBroker(url, channel=channel)
    await broker.start()
    began = time.monotonic()
    for start in range(0, count, burst):
        for n in range(start, min(start + burst, count)):
            broker.publish(Event(("channel", "CH" + "0" * 32), frame(n)))
        await pause(began, start + burst, rate)
    if not await broker.drained(60):
        raise RuntimeError("Redis did not take the events")
    await broker.close()


async def publish_naive(url: str, channel: str, count: int, burst: int, rate: float) -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    queue: asyncio.Queue[str] = asyncio.Queue()

    async def writer() -> None:
        while True:
            await client.publish(channel, await queue.get())
            queue.task_done()

    task = asyncio.create_task(writer())
    began = time.monotonic()
    for start in range(0, count, burst):
        for n in range(start, min(start + burst, count)):
            queue.put_nowait(json.dumps({"o": "x", "s": n + 1, "a": [], "f": frame(n), "e": None}))
        await pause(began, start + burst, rate)
    await queue.join()
    task.cancel()
    await client.aclose()


def one_round(url: str, kind: str, count: int, burst: int, rate: float) -> dict[str, float]:
    channel = f"hubbub:bench:{kind}:{time.monotonic_ns()}"
    context = multiprocessing.get_context("spawn")
    ready, results = context.Event(), context.Queue()
    receiver = context.Process(target=receive, args=(url, channel, kind, count, ready, results))
    receiver.start()
    if not ready.wait(30):
        raise RuntimeError("the receiver did not subscribe")
    started = time.monotonic()
    publish = publish_hubbub if kind == "hubbub" else publish_naive
    asyncio.run(publish(url, channel, count, burst, rate))
    arrivals: list[tuple[int, float, float]] = results.get(timeout=120)
    receiver.join(30)
    indexes = [index for index, _, _ in arrivals]
    if indexes != list(range(count)):
        raise RuntimeError(f"{kind}: events lost, repeated or out of order")
    latencies = [(got - sent) * 1000 for _, sent, got in arrivals]
    elapsed = arrivals[-1][2] - started
    return {
        "rate": count / elapsed,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--paced",
        type=float,
        default=5000.0,
        help="the rate of the latency runs, events/s (the sustained goal; 0 skips them)",
    )
    args = parser.parse_args()
    url = redis_url()
    print(f"machine: {machine()}; Redis at {url}; {args.events} events in bursts of {args.burst}")
    # Flat out, the latencies are the publisher's queue; paced, they are the trip itself.
    runs = [("flat out", 0.0)]
    if args.paced > 0:
        runs.append((f"paced at {args.paced:,.0f} events/s", args.paced))
    for title, rate in runs:
        print(f"{title}:")
        figures: dict[str, list[dict[str, float]]] = {"hubbub": [], "naive": []}
        for round_number in range(args.rounds):
            for kind in ("naive", "hubbub") if round_number % 2 else ("hubbub", "naive"):
                result = one_round(url, kind, args.events, args.burst, rate)
                figures[kind].append(result)
                print(
                    f"  round {round_number + 1} {kind:>6}: {result['rate']:>9,.0f} events/s, "
                    f"p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms"
                )
        summary = {
            kind: {name: median([r[name] for r in rounds]) for name in ("rate", "p50", "p99")}
            for kind, rounds in figures.items()
        }
        for kind, label in (("naive", "one publish per event"), ("hubbub", "RedisBroker")):
            row = summary[kind]
            print(
                f"  median {label:<22} {row['rate']:>9,.0f} events/s   p50 {row['p50']:6.1f} ms"
                f"   p99 {row['p99']:6.1f} ms"
            )
        ratio = summary["hubbub"]["rate"] / summary["naive"]["rate"]
        print(f"  ratio: {ratio:.1f}x the events/s")


if __name__ == "__main__":
    main()
