"""Push fan-out: what NewMessage notifications to a channel of 1,000 members cost the sender
(goal: send → ack p99 within 10 % of the same sends without notifications), and that each
message's pushes to the 999 others, all offline, are queued and delivered, at what rate.

Starts ``hubbub serve --workers 1`` on a fresh SQLite file on 127.0.0.1 (this checkout's code,
``realtime_load.Server``) with ``--push-fcm-url`` pointing at a local FCM receiver (the test
suite's ``tests.push.receivers.FcmReceiver``: OAuth2 token endpoint and ``messages:send`` over
TLS from a test CA, given to the server with ``--push-ca-file``), in a process of its own. Raises
the service's members-per-channel limit, creates a channel of ``--members`` members (at most
1,000, as on Twilio): the sender and others, none of them connected, with an FCM credential and
one FCM binding per other member (straight into the SQLite file, sealed with the server's
master key, as the registration doors would).

One sender over ``/v1/ws`` (a light session in its own process, one send in flight, at most
``--rate`` sends/s) sends ``send_message`` for ``--seconds`` per phase, alternately with
``Notifications.NewMessage.Enabled`` off and on (set over REST; ABBA order over ``--rounds``
rounds, after a warm-up each way). With ``--courier after`` (the default) the benchmark holds
the courier's lease while the sender sends, so the sends show what queueing the notifications
costs them, and the courier expands and delivers once the phase is over; with ``--courier
during`` it works meanwhile, and the local receiver (Python, on the same CPUs) competes with
the server. After each phase the benchmark waits until the outbox is empty, so each phase
starts with an idle courier. Reports send → ack p50/p99 per phase and pooled, the p99 ratio
with/without (per round, median); and for the messages sent with notifications on, the pushes
the receiver got: each other member told of each message (missing, and told twice: delivery is
at least once, and a push whose answer was lost is sent again), and the delivery rate
(pushes/s from the first to the last of a phase); and what the server logged as given up.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_push_fanout.py [--members 1000]
        [--rate 5] [--seconds 6] [--rounds 2] [--warmup 2] [--courier after|during]
        [--drain-timeout 600] [--postgres URL]

With ``--postgres URL`` (a server, e.g. ``$(scripts/postgres)``) the server runs on a
throw-away database created there and dropped afterwards, instead of SQLite: PostgreSQL has
no single writer, so the two show what of the cost is SQLite's write lock.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from hypercorn.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench_media import throwaway_database
from bench_webhooks import configure, pre_send
from realtime_load import (
    Pipe,
    Server,
    Workers,
    code_path,
    machine,
    median,
    percentile,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test suite's receivers and CA

from tests.push.receivers import Clock, FcmReceiver, Request, serving  # noqa: E402
from tests.push.tls import Authority, key_pem  # noqa: E402

from hubbub.crypto import SecretBox, load_master_key  # noqa: E402
from hubbub.store import open_store  # noqa: E402
from hubbub.webhooks.courier import LEASE_NAME, RENEW  # noqa: E402

GOAL_RATIO = 1.10  # p99 with notifications at most 10 % above without
EMAIL = "pusher@hubbub-bench.iam.gserviceaccount.com"
PROJECT = "hubbub-bench"
#: Who holds the courier's lease while it is held off (``--courier after``).
HOLDER = "bench_push_fanout"


class TimedFcm(FcmReceiver):
    """The FCM receiver, noting when each push arrived: (time, message SID, token)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.arrivals: list[tuple[float, str, str]] = []

    def _send(self, request: Request) -> Any:
        reply = super()._send(request)
        if reply.status == 200:
            message = json.loads(request.body)["message"]
            with self.lock:
                self.arrivals.append(
                    (time.time(), message["data"].get("message_sid", ""), message["token"])
                )
        return reply


async def receive_pushes(pipe: Pipe, authority: Authority, key: rsa.RSAPrivateKey) -> None:
    """The receiver's process: serves FCM until told to quit; answers ``("report",)``."""
    # FCM runs on Google's machines, not beside the server: here it takes only the CPU time
    # the server under test leaves.
    os.nice(19)
    # hypercorn ends an HTTP/2 connection after 1,000 requests by default (GOAWAY), which
    # fails the streams in flight on it; FCM keeps its connections far longer.
    Config.keep_alive_max_requests = 1 << 30
    receiver = TimedFcm(Clock(), PROJECT, EMAIL, key.public_key())
    directory = Path(tempfile.mkdtemp(prefix="hubbub-bench-fcm-"))
    with serving(receiver, authority, directory) as url:
        pipe.send(("ready", url, receiver.token_uri))
        while True:
            command = await pipe.recv()
            if command[0] == "count":
                pipe.send(("count", len(receiver.arrivals)))
            elif command[0] == "report":
                with receiver.lock:
                    pipe.send(("report", list(receiver.arrivals), list(receiver.problems)))
            else:
                break


class Database:
    """The server's database as the benchmark reads and writes it beside the server: the
    outbox's length, and the courier's lease (held by the benchmark so that the courier
    stands by), with the same SQL on SQLite and PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("postgresql"):
            self.engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
        else:
            self.engine = create_engine(url, connect_args={"timeout": 30})

    def outbox_length(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM outbox")).scalar_one())

    def hold(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO leases (name, holder, until) VALUES (:name, :holder, :until) "
                    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                    "until = excluded.until"
                ),
                {"name": LEASE_NAME, "holder": HOLDER, "until": time.time() + 3600},
            )

    def release(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("DELETE FROM leases WHERE name = :name AND holder = :holder"),
                {"name": LEASE_NAME, "holder": HOLDER},
            )

    def close(self) -> None:
        self.engine.dispose()


def set_up_pushes(
    server: Server, db_url: str, token_uri: str, key: rsa.RSAPrivateKey, members: list[str]
) -> None:
    """An FCM credential and one binding per member, written as the REST API and the
    registration doors would (sealed with the server's master key)."""
    box = SecretBox(load_master_key(server.work / "master.key", env=None))
    store = open_store(db_url)
    try:
        account = {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key": key_pem(key),
            "client_email": EMAIL,
            "token_uri": token_uri,
        }
        credential = store.create_credential(
            server.account_sid,
            type="fcm",
            sealed=box.encrypt(json.dumps({"service_account": account})),
        )
        for identity in members:
            store.register_binding(
                server.account_sid,
                server.service_sid,
                identity=identity,
                binding_type="fcm",
                address=f"fcm-token-{identity}",
                endpoint=f"{identity}-phone",
                message_types=["twilio.channel.new_message"],
                credential_sid=credential.sid,
            )
    finally:
        store.close()


@dataclass
class Phase:
    number: int
    notified: bool
    latencies: list[float]
    ok_bodies: list[str]
    failures: list[str]
    seconds: float
    #: Seconds from the phase's end until the outbox was empty.
    drained: float
    #: Rows in the outbox when the phase ended.
    queued: int

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--members", type=int, default=1000, help="channel members, the sender included"
    )
    parser.add_argument("--rate", type=float, default=5.0, help="max sends/s")
    parser.add_argument("--seconds", type=float, default=6.0, help="per phase")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds, each way")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument(
        "--courier",
        choices=["after", "during"],
        default="after",
        help="after: the courier is held off while the sender sends (the benchmark holds its "
        "lease), so the sends show what queueing notifications costs them, then it expands and "
        "delivers alone; during: it works meanwhile, on the same 2 CPUs as the local receiver",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server: the server runs on a throw-away database there, not SQLite",
    )
    args = parser.parse_args()
    with throwaway_database(args.postgres) as postgres:
        run(args, postgres)


def run(args: argparse.Namespace, postgres: str | None) -> None:

    authority = Authority()
    key = rsa.generate_private_key(65537, 2048)
    ca_file = Path(tempfile.mkdtemp(prefix="hubbub-bench-ca-")) / "ca.pem"
    ca_file.write_text(authority.pem)
    # Twilio's (and hubbub's) limit is 1,000 members a channel: the sender and 999 others.
    members = [f"member{i}" for i in range(args.members - 1)]
    with Workers(receive_pushes, [(authority, key)]) as receiving:
        ((_, fcm_url, token_uri),) = receiving.gather(30)
        # The service account's token URI (the receiver's) is reached like a webhook.
        serve_args = (
            "--push-fcm-url",
            fcm_url,
            "--push-ca-file",
            str(ca_file),
            "--webhook-allow",
            "127.0.0.0/8",
            # The last --db counts: the Server's own is SQLite.
            *(("--db", postgres) if postgres else ()),
        )
        with Server(serve_args=serve_args) as server:
            server.set_limits(max(args.members, 250))
            channel = server.create_channel("fanout")
            t0 = time.monotonic()
            server.add_members(channel, ["sender", *members])
            db = Database(postgres or f"sqlite:///{server.db}")
            set_up_pushes(server, db.url, token_uri, key, members)
            setup = time.monotonic() - t0
            token = server.minter().chat_token("sender", server.service_sid, ttl=3600)
            phases: list[Phase] = []
            with Workers(pre_send, [(server.url, [(token, channel)], args.rate)]) as sending:
                sending.gather(60)

                def phase(number: int, notified: bool, seconds: float) -> Phase:
                    value = "true" if notified else "false"
                    configure(server, **{"Notifications.NewMessage.Enabled": value})
                    if args.courier == "after":
                        db.hold()
                        # The courier notices at its next renewal (every 2 s), and finishes
                        # what it has in hand.
                        time.sleep(RENEW + 1.0)
                    start_at = time.time() + 0.2
                    sending.send_all(("go", number, start_at, start_at + seconds))
                    ((_, result),) = sending.gather(seconds + 60)
                    queued = db.outbox_length()
                    db.release()
                    ended = time.monotonic()
                    while db.outbox_length():
                        if time.monotonic() - ended > args.drain_timeout:
                            raise RuntimeError("the outbox did not drain")
                        time.sleep(0.05)
                    drained = time.monotonic() - ended
                    latencies = [ms for ms, _, _ in result]
                    ok = [body for _, good, body in result if good]
                    failures = [body for _, good, body in result if not good]
                    return Phase(
                        number, notified, latencies, ok, failures, seconds, drained, queued
                    )

                warm = [phase(0, True, args.warmup), phase(1, False, args.warmup)]
                number = 2
                for r in range(args.rounds):
                    for notified in (False, True) if r % 2 == 0 else (True, False):
                        phases.append(phase(number, notified, args.seconds))
                        number += 1
                sending.send_all(("quit",))
            db.close()
            sids = {sid for _, sid in server.messages(channel)}
            given_up = [
                line
                for line in server.log.read_text(errors="replace").splitlines()
                if "given up" in line or "ERROR" in line
            ]
            bodies = _bodies(server, channel)
            alive = server.alive()
        receiving.send_all(("report",))
        ((_, arrivals, problems),) = receiving.gather(120)
        receiving.send_all(("quit",))
    code = code_path()

    print(
        f"push fan-out: 1 sender over /v1/ws (one send in flight, ≤ {args.rate:g}/s) to a "
        f"channel of {args.members:,} members, the {len(members):,} others offline, each with "
        f"an FCM binding; "
        f"{args.seconds:g} s per phase, {args.rounds} rounds without/with "
        f"Notifications.NewMessage.Enabled (ABBA), the outbox drained between phases, the "
        f"courier working {args.courier} the sends; "
        f"1 server process, {'PostgreSQL' if postgres else 'SQLite'}, "
        f"a local FCM receiver over TLS (HTTP/2); {machine()}; "
        f"hubbub from {code}; setup {setup:.1f} s"
    )
    by_message: dict[str, list[tuple[float, str]]] = {}
    for at, message_sid, token in arrivals:
        by_message.setdefault(message_sid, []).append((at, token))
    expected = {f"fcm-token-{m}" for m in members}
    for p in phases:
        line = (
            f"  phase {p.number} {'with   ' if p.notified else 'without'}: "
            f"{len(p.latencies):,} sends, send → ack p50 {p.p50:.2f} ms, p99 {p.p99:.2f} ms, "
            f"max {max(p.latencies, default=float('nan')):.1f} ms; failures {len(p.failures)}"
        )
        if p.notified:
            pushes = [at for body in p.ok_bodies for at, _ in by_message.get(bodies[body], [])]
            span = max(pushes) - min(pushes) if len(pushes) > 1 else float("nan")
            line += (
                f"; {p.queued:,} rows in the outbox at its end; {len(pushes):,} pushes delivered "
                f"({len(pushes) / max(len(p.ok_bodies), 1):,.0f} per message), "
                f"{len(pushes) / span:,.0f} pushes/s, outbox empty {p.drained:.1f} s after it"
            )
        print(line)
    pooled = {
        notified: [ms for p in phases if p.notified == notified for ms in p.latencies]
        for notified in (False, True)
    }
    ratios = [
        next(p for p in phases[2 * r : 2 * r + 2] if p.notified).p99
        / next(p for p in phases[2 * r : 2 * r + 2] if not p.notified).p99
        for r in range(args.rounds)
    ]
    ratio = median(ratios)
    for label, notified in (("without", False), ("with   ", True)):
        values = pooled[notified]
        print(
            f"  {label}: pooled {len(values):,} sends: p50 {percentile(values, 50):.2f} ms, "
            f"p99 {percentile(values, 99):.2f} ms"
        )
    # Every message sent with notifications on: one push per member (not the sender), once.
    notified_bodies = [body for p in phases + warm if p.notified for body in p.ok_bodies]
    quiet_bodies = [body for p in phases + warm if not p.notified for body in p.ok_bodies]
    missing = duplicates = 0
    for body in notified_bodies:
        got = Counter(token for _, token in by_message.get(bodies[body], []))
        missing += sum(1 for token in expected if got[token] == 0)
        duplicates += sum(n - 1 for token, n in got.items() if n > 1)
        missing += sum(n for token, n in got.items() if token not in expected)  # strangers
    exact = missing == duplicates == 0
    strays = sum(len(by_message.get(bodies[body], [])) for body in quiet_bodies)
    unknown = sum(len(v) for sid, v in by_message.items() if sid not in sids)
    met = ratio <= GOAL_RATIO and missing == 0 and strays == 0
    print(
        f"  p99 with / without: {', '.join(f'{x:.2f}' for x in ratios)} by round, median "
        f"{ratio:.2f} — goal ≤ {GOAL_RATIO:.2f}: {'met' if met else 'NOT met'}"
    )
    print(
        f"  {len(notified_bodies):,} messages with notifications on: {len(arrivals):,} pushes "
        f"in all; each other member told of each: missing {missing}, twice or more "
        f"{duplicates} (exactly once each: {exact}); pushes for messages sent with them off: "
        f"{strays}; for unknown messages: {unknown}; receiver problems: {len(problems)}; "
        f"server {'alive' if alive else 'DEAD'}"
    )
    if given_up:
        print(f"  the server's log: {len(given_up)} lines with 'given up' or ERROR, e.g.")
        for line in given_up[:5]:
            print(f"    {line[:200]}")


def _bodies(server: Server, channel: str) -> dict[str, str]:
    """Each stored message's body -> its SID."""
    path = f"/v2/Services/{server.service_sid}/Channels/{channel}/Messages?PageSize=1000"
    page = server.rest.call("GET", path)
    found: dict[str, str] = {}
    while True:
        found.update((m["body"], m["sid"]) for m in page["messages"])
        next_url = page["meta"]["next_page_url"]
        if not next_url:
            return found
        page = server.rest.get_url(next_url)


if __name__ == "__main__":
    main()
