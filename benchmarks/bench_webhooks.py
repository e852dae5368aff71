"""Webhooks under load: what a pre-event webhook adds to a send, and whether post-event delivery
keeps up with the sustained message rate (goals: ≤ 2 ms more at p99; ≥ 5,000 msgs/s on SQLite
and ≤ 10 % off the rate without webhooks).

Both parts run ``hubbub serve --workers 1 --webhook-allow 127.0.0.0/8`` on a fresh SQLite file
on 127.0.0.1 (this checkout's code: ``realtime_load.Server``), and a webhook receiver in
processes of its own: a raw asyncio HTTP/1.1 server (uvloop when installed) on 127.0.0.1 that
reads each request and answers ``200`` with ``Content-Length: 0`` at once, keeping the
connection alive, and notes when it got what (event, MessageSid, ChannelSid, Index, Body).
With ``--hook-procs`` > 1, several such processes share the port (``SO_REUSEPORT``).

pre: K senders (``--pre-senders``, one channel each, one command in flight each, at most
``--pre-rate`` sends/s each) send ``send_message`` over ``/v1/ws`` (light clients, one client
process) for ``--pre-seconds`` per phase, alternately without a pre-event webhook and with
``PreWebhookUrl`` + ``WebhookFilters=onMessageSend`` pointing at the receiver (same server and
connections; ABBA order over ``--pre-rounds`` rounds, after a short warm-up of each). Reports
send → ack p50/p99 for each phase and pooled, the p99 difference (per round, median), and that
the receiver got exactly one call per message sent in the "with" phases and none in the others.

post: the sustained load of ``bench_realtime_sustained.py`` (its options; a fresh server per
run) in three modes (``--modes``), ``--rounds`` times, the order reversed every other round:
``without`` webhooks; ``with`` ``PostWebhookUrl`` + ``WebhookFilters=onMessageSent`` pointing
at the receiver; and ``queued``, the same webhook with the courier held off until the load
ended (the benchmark holds its lease, ``outbox``, in the SQLite file): what queueing in the
send's transaction alone costs the senders, and then how fast the courier alone sends the
backlog. Reports messages persisted/s in each and the ratios to ``without``; the webhooks the
receiver got per second while the load ran, and send → webhook latency; the outbox's backlog
when the load ended (read from the SQLite file) and how long until the receiver had every
webhook (the drain); that every stored (= acknowledged) message got exactly one webhook, by
MessageSid (missing, duplicates, strangers), with its channel and index, in index order per
channel; the CPU of the server (and how long its loop waited for a CPU), of the courier, of
the receiver and of the whole machine.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_webhooks.py [--part pre|post|both]
        [--pre-senders 10] [--pre-rate 40] [--pre-seconds 4] [--pre-rounds 5]
        [--rounds 1] [--modes without,with,queued] [--seconds 15] [--channels 40]
        [--senders-per-channel 4] ... [--hook-procs 1] [--drain-timeout 120]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import socket
import sqlite3
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_realtime_sustained import ADDED_BYTES, GOAL_RATE, Load, add_load_arguments, run_load
from realtime_load import (
    HOST,
    LightSocket,
    Pipe,
    Server,
    Workers,
    code_path,
    free_port,
    machine,
    median,
    open_light,
    percentile,
    process_cpu_seconds,
    raise_nofile,
)

PRE_GOAL_MS = 2.0  # at most this much more at p99 with a pre-event webhook
POST_GOAL_RATIO = 0.9  # senders at most 10 % slower with post-event webhooks
SERVE_ARGS = ("--webhook-allow", "127.0.0.0/8")
HOOK_PATH = "/hooks/chat"

# -- the webhook receiver ----------------------------------------------------------------------
REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
FIELDS = re.compile(rb"(?:^|&)(EventType|MessageSid|ChannelSid|Index|Body)=([^&]*)")
#: A request as the receiver notes it: (time.time(), EventType, MessageSid, ChannelSid, Index,
#: Body), the values still form-encoded.
Note = tuple[float, bytes, bytes, bytes, bytes, bytes]


class HookProtocol(asyncio.Protocol):
    """One connection to the receiver: HTTP/1.1 requests, each answered ``200`` at once."""

    def __init__(self, notes: list[Note], counts: list[int]) -> None:
        self.notes = notes
        self.counts = counts
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.counts[0] += 1
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        answers = 0
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            found = LENGTH.search(buffer, 0, end + 2)
            size = end + 4 + (int(found[1]) if found else 0)
            if len(buffer) < size:
                break
            body = buffer[end + 4 : size]
            if not body:  # a GET: the parameters are in the query string
                line = buffer[: buffer.find(b"\r\n")]
                body = line.split(b" ")[1].partition(b"?")[2]
            values = dict(FIELDS.findall(body))
            self.notes.append(
                (
                    time.time(),
                    values.get(b"EventType", b""),
                    values.get(b"MessageSid", b""),
                    values.get(b"ChannelSid", b""),
                    values.get(b"Index", b""),
                    values.get(b"Body", b""),
                )
            )
            buffer = buffer[size:]
            answers += 1
        self.buffer = buffer
        if answers and self.transport is not None:
            self.transport.write(REPLY * answers)


async def receive_hooks(pipe: Pipe, port: int) -> None:
    """A receiver process: listens on ``port`` (shared with ``SO_REUSEPORT``), answers every
    request at once; the parent asks it for ``("reset",)``, ``("count",)`` and ``("report",)``."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((HOST, port))
    sock.listen(1024)
    notes: list[Note] = []
    counts = [0]  # connections accepted
    server = await loop.create_server(lambda: HookProtocol(notes, counts), sock=sock)
    pipe.send(("ready", os.getpid()))
    while True:
        command = await pipe.recv()
        if command[0] == "reset":
            notes.clear()
            counts[0] = 0
            pipe.send(("reset",))
        elif command[0] == "count":
            pipe.send(("count", len(notes)))
        elif command[0] == "report":
            pipe.send(("report", list(notes), counts[0]))
        else:
            break
    server.close()


class Hooks:
    """The receiver's processes, and what they got."""

    def __init__(self, procs: int) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}{HOOK_PATH}"
        self.workers = Workers(receive_hooks, [(self.port,)] * procs)
        self.pids = [pid for _, pid in self.workers.gather(30)]

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(pid) for pid in self.pids)

    def reset(self) -> None:
        self.workers.send_all(("reset",))
        self.workers.gather(30)

    def count(self) -> int:
        self.workers.send_all(("count",))
        return sum(item[1] for item in self.workers.gather(30))

    def report(self) -> tuple[list[Note], int]:
        """Every request noted since the last reset (in time order), and the connections."""
        self.workers.send_all(("report",))
        items = self.workers.gather(120)
        notes = sorted(note for item in items for note in item[1])
        return notes, sum(item[2] for item in items)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.workers.send_all(("quit",))
        self.workers.stop()

    def __enter__(self) -> Hooks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def configure(server: Server, **fields: str) -> None:
    """POST ``/v2/Services/{IS}`` with ``fields`` (webhook settings)."""
    server.rest.call("POST", f"/v2/Services/{server.service_sid}", fields)


def courier_pid(server: Server) -> int | None:
    """The PID of the server's webhook courier (a multiprocessing child), if it has one."""
    for pid, command in server.descendants().items():
        if "spawn_main" in command and "resource_tracker" not in command:
            return pid
    return None


def runqueue_wait(pid: int, tid: int | None = None) -> float:
    """Seconds thread ``tid`` (the main one by default) of ``pid`` has spent runnable but
    waiting for a CPU (``/proc/.../schedstat``): a loop starved of CPU, not one waiting for
    work or a lock."""
    try:
        fields = Path(f"/proc/{pid}/task/{tid or pid}/schedstat").read_text().split()
    except OSError:
        return 0.0
    return int(fields[1]) / 1e9


def thread_split(pid: int) -> tuple[float, float, float]:
    """CPU seconds of process ``pid`` so far: its main thread's (the event loop's), its other
    threads' (the thread pool's, those gone included), and of all, the time in the kernel."""
    tick = os.sysconf("SC_CLK_TCK")

    def times(path: str) -> tuple[float, float]:
        try:
            stat = Path(path).read_text()
        except OSError:
            return 0.0, 0.0
        fields = stat[stat.rindex(")") + 2 :].split()
        return int(fields[11]) / tick, int(fields[12]) / tick

    user, kernel = times(f"/proc/{pid}/stat")  # exited threads' time included
    main_user, main_kernel = times(f"/proc/{pid}/task/{pid}/stat")
    main = main_user + main_kernel
    return main, max(0.0, user + kernel - main), kernel


def machine_busy() -> tuple[float, float]:
    """The machine's CPU time so far, busy and idle (+ iowait), in clock ticks (all CPUs)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields[:8]) - idle, idle


def decoded(value: bytes) -> str:
    return urllib.parse.unquote_plus(value.decode("latin-1"))


# -- pre-event: send → ack with and without a pre-event webhook -------------------------------
async def pre_send(pipe: Pipe, url: str, plan: list[tuple[str, str]], rate: float) -> None:
    """One light session per (token, channel); on each ``("go", phase, start, end)`` every
    session sends, one in flight, ≤ ``rate``/s, and the results go back to the parent."""
    waiting: list[tuple[int, asyncio.Future[tuple[float, Any]]] | None] = [None] * len(plan)

    def reader(i: int) -> Callable[[bytes], None]:
        def on_text(data: bytes) -> None:
            if data.startswith(ADDED_BYTES):
                return
            held = waiting[i]
            if held is None or held[1].done():
                return
            frame = json.loads(data)
            if frame.get("id") == held[0]:  # the reply, not some other push
                held[1].set_result((time.perf_counter(), frame))

        return on_text

    sockets: list[LightSocket] = []
    for i, (token, _) in enumerate(plan):
        sockets.append(await open_light(url, token, reader(i)))
    pipe.send(("ready", len(sockets), []))
    loop = asyncio.get_running_loop()
    numbers = [0] * len(plan)

    async def run(
        i: int, phase: int, start_at: float, end_at: float
    ) -> list[tuple[float, bool, str]]:
        out: list[tuple[float, bool, str]] = []  # (send → reply ms, ok, body or error)
        ws, channel = sockets[i], plan[i][1]
        next_at = start_at + i / (rate * len(plan))  # staggered: not all at once
        while True:
            await asyncio.sleep(max(0.0, next_at - time.time()))
            now = time.time()
            if now >= end_at:
                return out
            numbers[i] += 1
            body = f"p{phase}-s{i}-n{numbers[i]}"
            future: asyncio.Future[tuple[float, Any]] = loop.create_future()
            waiting[i] = (numbers[i], future)
            frame = {"id": numbers[i], "type": "send_message", "channel": channel, "body": body}
            text = json.dumps(frame)
            sent_at = time.perf_counter()
            ws.send_text(text)
            replied_at, reply = await asyncio.wait_for(future, 30)
            ms = (replied_at - sent_at) * 1000
            if reply.get("ok"):
                out.append((ms, True, body))
            else:
                out.append((ms, False, f"{body} {reply.get('error', {}).get('code')}"))
            next_at = now + 1 / rate

    while True:
        command = await pipe.recv()
        if command[0] != "go":
            break
        _, phase, start_at, end_at = command
        runs = await asyncio.gather(*(run(i, phase, start_at, end_at) for i in range(len(plan))))
        pipe.send(("result", [item for one in runs for item in one]))
    for ws in sockets:
        ws.close()


@dataclass
class Phase:
    number: int
    hooked: bool
    latencies: list[float]
    ok_bodies: list[str]
    failures: list[str]
    cpu: float  # server CPU seconds
    cpu_split: tuple[float, float, float]  # of which the loop's thread, other threads; system
    seconds: float

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)


def run_pre(args: argparse.Namespace) -> dict[str, float]:
    """The pre-event part; prints its figures and returns the headline ones."""
    with (
        Hooks(args.hook_procs) as hooks,
        Server(serve_args=SERVE_ARGS) as server,
    ):
        minter = server.minter()
        plan = []
        for i in range(args.pre_senders):
            channel = server.create_channel(f"pre{i}")
            server.add_members(channel, [f"pre{i}"])
            plan.append((minter.chat_token(f"pre{i}", server.service_sid, ttl=3600), channel))
        on = {"PreWebhookUrl": hooks.url, "WebhookFilters": "onMessageSend"}
        off = {"PreWebhookUrl": "", "WebhookFilters": ""}
        phases: list[Phase] = []
        with Workers(pre_send, [(server.url, plan, args.pre_rate)]) as sending:
            sending.gather(60)

            def phase(number: int, hooked: bool, seconds: float) -> Phase:
                configure(server, **(on if hooked else off))
                start_at = time.time() + 0.2
                cpu = server.cpu_seconds()
                before = thread_split(server.pid)
                sending.send_all(("go", number, start_at, start_at + seconds))
                ((_, result),) = sending.gather(seconds + 60)
                cpu = server.cpu_seconds() - cpu
                after = thread_split(server.pid)
                split = (after[0] - before[0], after[1] - before[1], after[2] - before[2])
                latencies = [ms for ms, _, _ in result]
                ok_bodies = [body for _, ok, body in result if ok]
                failures = [body for _, ok, body in result if not ok]
                return Phase(number, hooked, latencies, ok_bodies, failures, cpu, split, seconds)

            warm = [phase(0, True, args.pre_warmup), phase(1, False, args.pre_warmup)]
            number = 2
            for r in range(args.pre_rounds):
                for hooked in (False, True) if r % 2 == 0 else (True, False):
                    phases.append(phase(number, hooked, args.pre_seconds))
                    number += 1
            sending.send_all(("quit",))
        notes, connections = hooks.report()
        alive = server.alive()
        code = code_path()

    calls = Counter(decoded(body) for _, event, _, _, _, body in notes if event == b"onMessageSend")
    other = sum(event != b"onMessageSend" for _, event, *_ in notes)
    print(
        f"pre-event: {args.pre_senders} senders (one channel each, one send in flight each, "
        f"≤ {args.pre_rate:.0f}/s each) × {args.pre_seconds:.0f} s per phase, "
        f"{args.pre_rounds} rounds without/with PreWebhookUrl + WebhookFilters=onMessageSend "
        f"(ABBA), 1 server process, SQLite, {args.hook_procs} receiver process(es); "
        f"{machine()}; hubbub from {code}"
    )
    for p in phases:
        print(
            f"  phase {p.number} {'with   ' if p.hooked else 'without'}: {len(p.latencies):,} "
            f"sends ({len(p.latencies) / p.seconds:,.0f}/s), send → ack p50 {p.p50:.2f} ms, "
            f"p99 {p.p99:.2f} ms, max {max(p.latencies, default=float('nan')):.1f} ms; "
            f"server CPU {p.cpu / p.seconds:.0%} (loop thread {p.cpu_split[0] / p.seconds:.0%}, "
            f"other threads {p.cpu_split[1] / p.seconds:.0%}; in the kernel "
            f"{p.cpu_split[2] / p.seconds:.0%}); failures {len(p.failures)}"
        )
    without = [p for p in phases if not p.hooked]
    with_ = [p for p in phases if p.hooked]
    pooled = {
        hooked: [ms for p in phases if p.hooked == hooked for ms in p.latencies]
        for hooked in (False, True)
    }
    round_diffs = [
        next(p for p in phases[2 * r : 2 * r + 2] if p.hooked).p99
        - next(p for p in phases[2 * r : 2 * r + 2] if not p.hooked).p99
        for r in range(args.pre_rounds)
    ]
    p99_without = median([p.p99 for p in without])
    p99_with = median([p.p99 for p in with_])
    diff = median(round_diffs)
    # Exactly one call per message sent in the "with" phases (refused ones too), none else.
    expected: Counter[str] = Counter()
    for p in with_ + warm[:1]:
        expected.update(p.ok_bodies)
        expected.update(body.split(" ")[0] for body in p.failures)
    missing = sum(1 for body in expected if calls[body] == 0)
    duplicates = sum(n - 1 for n in calls.values() if n > 1)
    strangers = sum(n for body, n in calls.items() if body not in expected)
    exact = missing == duplicates == strangers == other == 0
    failures = sum(len(p.failures) for p in phases + warm)
    for label, hooked in (("without", False), ("with   ", True)):
        values = pooled[hooked]
        print(
            f"  {label}: pooled {len(values):,} sends: p50 {percentile(values, 50):.2f} ms, "
            f"p99 {percentile(values, 99):.2f} ms; p99 by round "
            f"{', '.join(f'{p.p99:.2f}' for p in (with_ if hooked else without))} ms "
            f"(median {p99_with if hooked else p99_without:.2f}); server CPU "
            f"{median([p.cpu / p.seconds for p in phases if p.hooked == hooked]):.0%}"
        )
    pooled_diff = percentile(pooled[True], 99) - percentile(pooled[False], 99)
    print(
        f"  p99 with − without: {', '.join(f'{d:+.2f}' for d in round_diffs)} ms by round, "
        f"median {diff:+.2f} ms (pooled {pooled_diff:+.2f} ms; p50 "
        f"{percentile(pooled[True], 50) - percentile(pooled[False], 50):+.2f} ms) — goal ≤ "
        f"{PRE_GOAL_MS:.0f} ms: {'met' if diff <= PRE_GOAL_MS and exact else 'NOT met'}"
    )
    print(
        f"  the receiver got {sum(calls.values()):,} onMessageSend calls for "
        f"{sum(expected.values()):,} messages sent with the webhook on: missing {missing}, "
        f"duplicates {duplicates}, "
        f"strangers {strangers}, other events {other} (exactly one each: {exact}); "
        f"{connections} connection(s) to it; failures {failures}; server "
        f"{'alive' if alive else 'DEAD'}"
    )
    return {"p99_without": p99_without, "p99_with": p99_with, "p99_diff": diff}


# -- post-event: the sustained load with and without a post-event webhook ---------------------
class OutboxWatch:
    """The outbox's length, read from the SQLite file (read-only) now and every ``every`` s."""

    def __init__(self, db: Path, every: float = 0.5) -> None:
        self.conn = sqlite3.connect(
            f"file:{db}?mode=ro", uri=True, timeout=10, check_same_thread=False
        )
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def length(self) -> int:
        with self._lock:
            row = self.conn.execute("SELECT count(*) FROM outbox").fetchone()
        return int(row[0])

    def start(self) -> None:
        def sample() -> None:
            while not self._stop.wait(self.every):
                self.samples.append((time.time(), self.length()))

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.conn.close()


class Lease:
    """The courier's lease (``outbox``), held by the benchmark so that the courier stands by
    (mode ``queued``): written straight into the SQLite file, as another holder would."""

    NAME = "outbox"
    HOLDER = "bench_webhooks"

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(db, timeout=30, isolation_level=None)

    def hold(self) -> None:
        self.conn.execute(
            "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) ON CONFLICT (name) "
            "DO UPDATE SET holder = excluded.holder, until = excluded.until",
            (self.NAME, self.HOLDER, time.time() + 3600),
        )

    def release(self) -> None:
        self.conn.execute(
            "DELETE FROM leases WHERE name = ? AND holder = ?", (self.NAME, self.HOLDER)
        )

    def close(self) -> None:
        self.conn.close()


#: The post-event modes: no webhook; the webhook, its courier sending during the load; the
#: webhook, its courier held off until the load ended (what queueing alone costs the senders,
#: then what the courier alone sends per second).
MODES = ("without", "with", "queued")
#: How long the courier may go on sending after the lease was taken from it (its renewal).
COURIER_RENEW = 2.0


@dataclass
class PostRun:
    mode: str
    load: Load
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds, and the spans
    load_end: float = 0.0  # when the senders had all reported
    backlog: int = 0  # the outbox's length then
    peak: int = 0  # its largest sample during the load
    drained: float | None = None  # seconds from load_end until the outbox was empty
    notes: list[Note] = field(default_factory=list)
    connections: int = 0
    courier: bool = False

    def share(self, key: str, span: str) -> float:
        """CPU seconds of ``key`` during ``span`` ("sending", "draining") per second."""
        return self.cpu.get(f"{key} {span}", 0.0) / max(1e-9, self.cpu.get(f"time {span}", 0.0))


def post_run(args: argparse.Namespace, hooks: Hooks, mode: str) -> PostRun:
    """One sustained run on a fresh server in ``mode`` (``MODES``)."""
    with Server(serve_args=SERVE_ARGS) as server:
        lease = Lease(server.db)
        if mode != "without":
            configure(server, PostWebhookUrl=hooks.url, WebhookFilters="onMessageSent")
        if mode == "queued":
            lease.hold()
            time.sleep(COURIER_RENEW + 0.5)
        hooks.reset()
        watch = OutboxWatch(server.db)
        courier = courier_pid(server)
        result = PostRun(mode, None)  # type: ignore[arg-type]
        result.courier = courier is not None
        marks: dict[str, float] = {}
        keys = ("server", "courier", "receiver", "loop waits", "machine", "machine idle")

        def cpu_now() -> dict[str, float]:
            busy, idle = machine_busy()
            return {
                "server": server.cpu_seconds(),
                "courier": process_cpu_seconds(courier) if courier else 0.0,
                "receiver": hooks.cpu_seconds(),
                "loop waits": runqueue_wait(server.pid),
                "machine": busy,
                "machine idle": idle,
                "time": time.monotonic(),
            }

        def mark(span: str, before: dict[str, float], after: dict[str, float]) -> None:
            for key in (*keys, "time"):
                marks[f"{key} {span}"] = after[key] - before[key]

        start_cpu: dict[str, float] = {}

        def started(start_at: float, end_at: float) -> None:
            start_cpu.update(cpu_now())
            watch.start()

        def sent() -> None:
            result.load_end = time.time()
            result.backlog = watch.length()
            sending = cpu_now()
            mark("sending", start_cpu, sending)
            if mode == "queued":
                lease.release()
            if not result.backlog:
                result.drained = 0.0
            deadline = time.monotonic() + args.drain_timeout
            while result.backlog and time.monotonic() < deadline:
                if watch.length() == 0:
                    result.drained = time.time() - result.load_end
                    break
                time.sleep(0.05)
            mark("draining", sending, cpu_now())

        try:
            result.load = run_load(server, args, started=started, sent=sent)
        finally:
            watch.stop()
            lease.close()
        result.peak = max((n for _, n in watch.samples), default=0)
        result.cpu = marks
        result.notes, result.connections = hooks.report()
    return result


def check_deliveries(run: PostRun) -> dict[str, Any]:
    """Every stored (= acknowledged) message's webhook, by MessageSid."""
    load = run.load
    where: dict[str, tuple[str, int]] = {}
    for channel, sids in load.stored_sids.items():
        for index, sid in zip(load.stored[channel], sids, strict=True):
            where[sid] = (channel, index)
    got = Counter(decoded(sid) for _, event, sid, *_ in run.notes if event == b"onMessageSent")
    other = sum(event != b"onMessageSent" for _, event, *_ in run.notes)
    missing = sum(1 for sid in where if got[sid] == 0)
    duplicates = sum(n - 1 for n in got.values() if n > 1)
    strangers = sum(n for sid, n in got.items() if sid not in where)
    mismatched = 0
    lanes: dict[str, list[int]] = {}
    for _, event, raw_sid, raw_channel, raw_index, _ in run.notes:
        if event != b"onMessageSent":
            continue
        place = where.get(decoded(raw_sid))
        if place is None or place != (decoded(raw_channel), int(raw_index or -1)):
            mismatched += place is not None
            continue
        lanes.setdefault(place[0], []).append(place[1])
    in_order = sum(indexes == sorted(indexes) for indexes in lanes.values())
    return {
        "expected": len(where),
        "got": sum(got.values()),
        "missing": missing,
        "duplicates": duplicates,
        "strangers": strangers,
        "other": other,
        "mismatched": mismatched,
        "lanes in order": f"{in_order}/{len(lanes)}",
        "exact": missing == duplicates == strangers == other == mismatched == 0
        and in_order == len(lanes),
    }


def run_post(args: argparse.Namespace) -> dict[str, float]:
    """The post-event part; prints its figures and returns the headline ones."""
    modes = [mode for mode in MODES if mode in args.modes.split(",")]
    runs: list[PostRun] = []
    with Hooks(args.hook_procs) as hooks:
        for r in range(args.rounds):
            for mode in modes if r % 2 == 0 else modes[::-1]:
                runs.append(post_run(args, hooks, mode))
    print(
        f"post-event: sustained load, {args.channels} channels × ({args.senders_per_channel} "
        f"senders + {args.receivers_per_channel} receivers), ≤ {args.rate:.0f} sends/s each, "
        f"{args.seconds:.0f} s per run, {args.rounds} round(s) of {', '.join(modes)} "
        f"(without: no webhook; with: PostWebhookUrl + WebhookFilters=onMessageSent; queued: "
        f"the same with the courier held off until the load ended; a fresh server each, "
        f"order reversed every other round), 1 server process + the courier, SQLite, "
        f"{args.hook_procs} receiver process(es); {machine()}; hubbub from {code_path()}"
    )
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    during: list[float] = []
    drains: list[float] = []
    backlogs: list[int] = []
    alone: list[float] = []
    lag: list[float] = []
    lag99: list[float] = []
    cost: dict[str, list[float]] = {"with": [], "queued": []}  # courier CPU µs per webhook
    all_exact = True
    for n, run in enumerate(runs):
        load = run.load
        rates[run.mode].append(load.persisted_rate)
        acks = [(replied - sent_at) * 1000 for sent_at, replied, _ in load.records]
        cores = run.share("machine", "sending") / max(
            1e-9, run.share("machine", "sending") + run.share("machine idle", "sending")
        )
        print(
            f"  run {n + 1} {run.mode:<7}: {load.persisted_rate:,.0f} msgs/s persisted "
            f"({load.total:,} in {load.window:.1f} s), send → ack p50 {percentile(acks, 50):.1f}"
            f" ms, p99 {percentile(acks, 99):.1f} ms; stored == acked, in order, receivers "
            f"complete: {load.intact}; failures {dict(load.failures) or 'none'}; server "
            f"{'alive' if load.alive else 'DEAD'}"
        )
        print(
            f"      CPU while sending: machine {cores:.0%} busy; server "
            f"{run.share('server', 'sending'):.0%} of a core (its loop waited for a CPU "
            f"{run.share('loop waits', 'sending'):.0%} of the time), courier "
            f"{run.share('courier', 'sending'):.0%}, receiver "
            f"{run.share('receiver', 'sending'):.0%}"
        )
        if run.mode == "without":
            if run.notes:
                print(f"      webhooks received: {len(run.notes)} (none expected)")
                all_exact = False
            continue
        check = check_deliveries(run)
        all_exact = all_exact and check["exact"]
        stamps = [note[0] for note in run.notes if note[1] == b"onMessageSent"]
        load_end = load.start_at + load.window
        in_load = sum(load.start_at <= t <= load_end for t in stamps)
        last = max(stamps, default=load.start_at)
        drain = max(0.0, last - load_end) if check["missing"] == 0 else float("inf")
        after = sorted(t for t in stamps if t > load_end)
        after_rate = (len(after) - 1) / (after[-1] - after[0]) if len(after) > 1 else 0.0
        # The sustained senders' bodies are their send times: send → webhook received.
        lags = [
            (t - float(decoded(body))) * 1000
            for t, event, _, _, _, body in run.notes
            if event == b"onMessageSent"
        ]
        if run.mode == "with":
            lag.append(percentile(lags, 50))
            lag99.append(percentile(lags, 99))
            during.append(in_load / load.window)
            backlogs.append(run.backlog)
            drains.append(drain)
            cost["with"].append(run.cpu["courier sending"] / max(1, in_load) * 1e6)
        else:
            alone.append(after_rate)
            cost["queued"].append(run.cpu["courier draining"] / max(1, len(after)) * 1e6)
        print(
            f"      webhooks: {in_load / load.window:,.0f}/s received during the load "
            f"({in_load:,} of {check['expected']:,}); outbox backlog at the end "
            f"{run.backlog:,} (largest sampled {run.peak:,}); the receiver had them all "
            f"{drain:.1f} s after the last ack (outbox empty after {_seconds(run.drained)}),"
            f" {len(after):,} of them afterwards"
            f"{f' at {after_rate:,.0f}/s' if run.mode == 'queued' else ''}; send → webhook p50 "
            f"{percentile(lags, 50):,.0f} ms, p99 {percentile(lags, 99):,.0f} ms; CPU while "
            f"draining: "
            f"courier {run.share('courier', 'draining'):.0%}, receiver "
            f"{run.share('receiver', 'draining'):.0%}, server "
            f"{run.share('server', 'draining'):.0%}"
        )
        print(
            f"      exactly one per stored message by MessageSid: {check['exact']} (got "
            f"{check['got']:,} for {check['expected']:,}: missing {check['missing']}, duplicates"
            f" {check['duplicates']}, strangers {check['strangers']}, other events "
            f"{check['other']}, channel/index mismatched {check['mismatched']}; channels in "
            f"index order {check['lanes in order']}); {run.connections:,} connections to the "
            f"receiver; courier {'found' if run.courier else 'NOT found'}"
        )
    without = median(rates.get("without", []))
    figures = {"without": without}
    for mode in ("with", "queued"):
        if rates.get(mode):
            rate = median(rates[mode])
            ratio = rate / without if without else float("nan")
            figures[mode], figures[f"{mode} ratio"] = rate, ratio
            met = rate >= GOAL_RATE and ratio >= POST_GOAL_RATIO and all_exact
            print(
                f"  persisted msgs/s {mode}: {rate:,.0f} vs {without:,.0f} without (medians) — "
                f"ratio {ratio:.2f}"
                + (
                    f"; goal ≥ {GOAL_RATE:,.0f}/s and ≥ {POST_GOAL_RATIO:.2f}: "
                    f"{'met' if met else 'NOT met'}"
                    if mode == "with"
                    else " (what queueing in the transaction costs the senders)"
                )
            )
    if during:
        with_ = figures["with"]
        keeps_up = median(during) >= GOAL_RATE and median(backlogs) <= 0.1 * GOAL_RATE
        figures["during"] = median(during)
        print(
            f"  with: webhooks received during the load median {median(during):,.0f}/s "
            f"({median(during) / with_:.0%} of the message rate); backlog at the end median "
            f"{median(backlogs):,.0f}; all received {median(drains):.1f} s after the last ack; "
            f"send → webhook p50 {median(lag):.0f} ms, p99 {median(lag99):.0f} ms; courier CPU "
            f"{median(cost['with']):.0f} µs per webhook — delivery at "
            f"≥ {GOAL_RATE:,.0f} msgs/s: {'yes' if keeps_up else 'NO'}"
        )
    if alone:
        figures["alone"] = median(alone)
        print(
            f"  queued: the courier alone sent the backlog at median {median(alone):,.0f}/s "
            f"(courier CPU {median(cost['queued']):.0f} µs per webhook) — "
            f"{'≥' if median(alone) >= GOAL_RATE else '<'} {GOAL_RATE:,.0f}/s"
        )
    print(f"  every stored message got exactly one webhook, in order per channel: {all_exact}")
    return figures


def _seconds(value: float | None) -> str:
    return "NOT within the timeout" if value is None else f"{value:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["pre", "post", "both"], default="both")
    parser.add_argument("--hook-procs", type=int, default=1, help="receiver processes")
    pre = parser.add_argument_group("pre-event")
    pre.add_argument("--pre-senders", type=int, default=10)
    pre.add_argument("--pre-rate", type=float, default=40.0, help="max sends/s per sender")
    pre.add_argument("--pre-seconds", type=float, default=4.0, help="per phase")
    pre.add_argument("--pre-rounds", type=int, default=5)
    pre.add_argument("--pre-warmup", type=float, default=1.0, help="seconds, each way")
    post = parser.add_argument_group("post-event (the sustained load's options)")
    add_load_arguments(post)
    post.add_argument("--rounds", type=int, default=1, help="each one run per mode")
    post.add_argument(
        "--modes", default=",".join(MODES), help=f"of {', '.join(MODES)} (comma-separated)"
    )
    post.add_argument("--drain-timeout", type=float, default=120.0)
    parser.set_defaults(seconds=15.0)
    args = parser.parse_args()
    if args.client != "light":
        parser.error("only --client light is supported here")
    raise_nofile()
    if args.part in ("pre", "both"):
        run_pre(args)
    if args.part in ("post", "both"):
        run_post(args)


if __name__ == "__main__":
    main()
