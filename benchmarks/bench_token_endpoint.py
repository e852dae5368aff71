"""POST /token with a session cookie: hubbub vs the classic Twilio quickstart, req/s and p99.

In one run, on 127.0.0.1 only:

- the peer, ``benchmarks/peers/quickstart_flask.py``: Flask under gunicorn (2 sync workers),
  the identity from Flask's signed session cookie, tokens minted by twilio-python;
- hubbub: ``hubbub init`` on a fresh SQLite file, a built-in user (``hubbub users add``),
  ``hubbub serve --workers 2``, the identity from its ``hubbub_session`` cookie.

Each is signed in once through its ``/login``; then ``wrk`` (Debian's package; installed when
missing), a separate process, POSTs ``/token`` with that cookie. After a warm-up of each, the
rounds alternate between the two (and which goes first) so a noisy neighbour hits both alike;
the figures are medians over rounds, the ratio is of the medians. Both mint with the same API
key, and a token from each is verified with ``hubbub.tokens.verify`` before and after the load,
so a broken endpoint cannot look fast; wrk's count of error responses must be 0. Beside req/s
and latency, each server's CPU time per request (all its processes, from /proc) is shown: on a
shared machine it moves much less than req/s does.

    .venv/bin/python benchmarks/bench_token_endpoint.py [--seconds 10] [--rounds 5]
        [--connections 50] [--warmup 3] [--only peer|hubbub]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from hubbub.tokens import verify

HOST = "127.0.0.1"  # never any other address
PEERS = Path(__file__).resolve().parent / "peers"
IDENTITY = "alice"
RATIO_GOAL = 5.0
P99_GOAL_MS = 10.0
UNLIMITED = "1000000/s"  # hubbub's token rate limits during the load: on, but never reached

# No response() callback: it would run Lua for every response and slow wrk, which shares the
# CPUs with the servers. done() prints one line the harness parses; latencies are µs.
LUA = """
wrk.method = "POST"
wrk.body = ""
wrk.headers["Cookie"] = "%(cookie)s"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%%d duration_us=%%d non2xx=%%d connect=%%d read=%%d write=%%d " ..
    "timeout=%%d p50=%%d p90=%%d p99=%%d p999=%%d max=%%d\\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
"""


@dataclass(frozen=True)
class Side:
    label: str
    cookie: str  # the session cookie's name
    extra: tuple[str, ...]  # fields the /token answer has beside identity and token


SIDES = {
    "peer": Side("Flask + gunicorn + twilio-python", "session", ()),
    "hubbub": Side("hubbub", "hubbub_session", ("ttl", "expires_at", "chat_service_sid")),
}


@dataclass
class Target:
    port: int
    cookie: str
    script: Path
    pid: int  # the server's main process; its workers are its children


@dataclass
class Round:
    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_seconds: float = 0.0  # the server's CPU time (user + system, all its processes)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


def machine(wrk: str) -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split()[1]
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} CPUs ({platform.machine()}), Linux {platform.release()}, "
        f"Python {platform.python_version()}, load average {load}\n"
        f"wrk {wrk_version}; peer: flask {version('flask')}, gunicorn {version('gunicorn')}, "
        f"twilio {version('twilio')}; hubbub {version('hubbub')}: starlette "
        f"{version('starlette')}, uvicorn {version('uvicorn')}"
    )


def call(
    port: int, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-2000:]}")
        try:
            call(port, "GET", "/token")  # any answer will do: 401 says the app is up
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start within 30 s") from None
            time.sleep(0.1)


def login(port: int, username: str, password: str, cookie_name: str) -> str:
    """Sign in through the app's /login; the ``name=value`` of its session cookie."""
    body = json.dumps({"username": username, "password": password}).encode()
    status, headers, data = call(
        port, "POST", "/login", body=body, headers={"Content-Type": "application/json"}
    )
    if status != 200:
        raise SystemExit(f"/login on port {port}: {status} {data[:300]!r}")
    for header in headers.get_all("Set-Cookie") or []:
        pair = header.split(";", 1)[0].strip()
        if pair.startswith(f"{cookie_name}="):
            return pair
    raise SystemExit(f"/login on port {port} set no {cookie_name} cookie")


def check_token(
    name: str, port: int, cookie: str, creds: dict[str, str], extra: tuple[str, ...]
) -> list[str]:
    """POST /token once and verify what came back; the problems found (none: an empty list)."""
    status, headers, data = call(port, "POST", "/token", headers={"Cookie": cookie})
    if status != 200:
        return [f"{name}: POST /token answered {status} {data[:200]!r}"]
    body: dict[str, Any] = json.loads(data)
    problems = [f"{name}: no {field!r} in the answer" for field in extra if field not in body]
    try:
        facts = verify(
            body["token"],
            {creds["api_key_sid"]: creds["api_key_secret"]},
            account_sid=creds["account_sid"],
        )
    except Exception as exc:  # any failure to verify is a finding, reported, not a crash
        return [*problems, f"{name}: the token does not verify: {exc!r}"]
    if facts.identity != IDENTITY or body.get("identity") != IDENTITY:
        problems.append(f"{name}: identity {facts.identity!r}, expected {IDENTITY!r}")
    if facts.chat_service_sid != creds["chat_service_sid"]:
        problems.append(f"{name}: chat grant for {facts.chat_service_sid!r}")
    if "chat_service_sid" in extra and headers.get("Cache-Control") != "no-store":
        problems.append(f"{name}: Cache-Control {headers.get('Cache-Control')!r}")
    return problems


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its descendants, so far.

    A figure that noise on a shared machine barely moves (unlike req/s): what one request
    costs the server, wherever it runs.
    """
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:  # a process that just exited
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
        pending += [int(child) for child in children]
    return total / os.sysconf("SC_CLK_TCK")


def run_wrk(wrk: str, target: Target, seconds: float, connections: int) -> Round:
    cpu_before = cpu_seconds(target.pid)
    result = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(target.script),
            f"http://{HOST}:{target.port}/token",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    cpu = cpu_seconds(target.pid) - cpu_before
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    fields = {key: int(value) for key, value in (pair.split("=") for pair in line.split()[1:])}
    return Round(
        requests=fields["requests"],
        seconds=fields["duration_us"] / 1e6,
        non2xx=fields["non2xx"],
        socket_errors=sum(fields[key] for key in ("connect", "read", "write", "timeout")),
        p50_ms=fields["p50"] / 1000,
        p99_ms=fields["p99"] / 1000,
        max_ms=fields["max"] / 1000,
        cpu_seconds=cpu,
    )


def hubbub(work: Path, *args: str, stdin: str = "") -> bytes:
    """Run a ``hubbub`` command on the benchmark's database; its output."""
    command = [str(Path(sys.executable).with_name("hubbub")), *args]
    done = subprocess.run(command, cwd=work, input=stdin.encode(), capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"hubbub {' '.join(args)}: {done.stderr.decode()[-2000:]}")
    return done.stdout


def database(work: Path) -> list[str]:
    return ["--db", f"sqlite:///{work / 'hubbub.db'}"]


def master_key(work: Path) -> list[str]:
    return ["--master-key-file", str(work / "master.key")]


def init_hubbub(work: Path) -> dict[str, str]:
    """``hubbub init``: the account, API key and Chat Service both servers mint for."""
    creds: dict[str, str] = json.loads(
        hubbub(work, "init", *database(work), *master_key(work), "--json")
    )
    return creds


def start_hubbub(work: Path, password: str) -> tuple[subprocess.Popen[bytes], int]:
    hubbub(
        work, "users", "add", IDENTITY, "--password-stdin", *database(work), stdin=f"{password}\n"
    )
    port = free_port()
    log = work / "hubbub.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("hubbub")),
                "serve",
                *database(work),
                *master_key(work),
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                "2",
                # One user asking thousands of times a second is what the default limits stop;
                # set far above the load, the limiters still run (and cost what they cost) but
                # never answer 429.
                "--token-rate-identity",
                UNLIMITED,
                "--token-rate-address",
                UNLIMITED,
            ],
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_ready(port, proc, log)
    return proc, port


def start_peer(
    work: Path, password: str, creds: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "TWILIO_ACCOUNT_SID": creds["account_sid"],
        "TWILIO_API_KEY": creds["api_key_sid"],
        "TWILIO_API_SECRET": creds["api_key_secret"],
        "TWILIO_CHAT_SERVICE_SID": creds["chat_service_sid"],
        "QUICKSTART_SECRET_KEY": secrets.token_hex(32),
        "QUICKSTART_USERNAME": IDENTITY,
        "QUICKSTART_PASSWORD": password,
    }
    log = work / "peer.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "--workers",
                "2",
                "--worker-class",
                "sync",
                "--bind",
                f"{HOST}:{port}",
                "--chdir",
                str(PEERS),
                "--log-level",
                "warning",
                "quickstart_flask:app",
            ],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_ready(port, proc, log)
    return proc, port


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # both gunicorn and uvicorn stop their workers on TERM
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of one round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each, alternating")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up for each")
    parser.add_argument(
        "--only", choices=list(SIDES), help="load one side alone (no ratio; for profiling)"
    )
    args = parser.parse_args()
    sides = [args.only] if args.only else list(SIDES)

    wrk = ensure_wrk()
    print(machine(wrk))
    work = Path(tempfile.mkdtemp(prefix="hubbub-bench-token-"))
    password = secrets.token_urlsafe(16)
    procs: list[subprocess.Popen[bytes]] = []
    targets: dict[str, Target] = {}
    results: dict[str, list[Round]] = {name: [] for name in sides}
    try:
        creds = init_hubbub(work)  # the peer mints with the same API key: one verify for both
        for name in sides:
            if name == "hubbub":
                proc, port = start_hubbub(work, password)
            else:
                proc, port = start_peer(work, password, creds)
            procs.append(proc)
            cookie = login(port, IDENTITY, password, SIDES[name].cookie)
            script = work / f"{name}.lua"
            script.write_text(LUA % {"cookie": cookie})
            targets[name] = Target(port, cookie, script, proc.pid)

        def check(when: str) -> list[str]:
            problems = []
            for name, target in targets.items():
                problems += check_token(name, target.port, target.cookie, creds, SIDES[name].extra)
            status = "valid" if not problems else "INVALID"
            print(f"tokens {when}: {status} (hubbub.tokens.verify, identity, chat grant)")
            for problem in problems:
                print(f"  {problem}")
            return problems

        problems = check("before the load")
        print(
            f"\nPOST /token with a session cookie, wrk -t1 -c{args.connections}, "
            f"{args.rounds} rounds × {args.seconds} s each, 2 server workers each, "
            f"after {args.warmup} s of warm-up each; hubbub's token rate limits at {UNLIMITED}"
        )
        for target in targets.values():
            run_wrk(wrk, target, args.warmup, args.connections)
        for number in range(args.rounds):
            # Alternate who goes first too, so a drift within a round hits both alike.
            for name in sides if number % 2 == 0 else sides[::-1]:
                results[name].append(run_wrk(wrk, targets[name], args.seconds, args.connections))
            print(
                f"  round {number + 1:<2}"
                + "".join(
                    f"   {name} {results[name][-1].rate:7,.0f} req/s, "
                    f"p99 {results[name][-1].p99_ms:6.2f} ms"
                    for name in sides
                )
                + ratio_text(results, -1)
            )
        problems += check("after the load")
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)

    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nMedians over rounds (load average now {load})")
    medians: dict[str, tuple[float, float, float]] = {}
    for name in sides:
        rounds = results[name]
        rate = statistics.median(r.rate for r in rounds)
        p99 = statistics.median(r.p99_ms for r in rounds)
        p50 = statistics.median(r.p50_ms for r in rounds)
        cpu_us = statistics.median(r.cpu_seconds / r.requests * 1e6 for r in rounds)
        medians[name] = (rate, p99, cpu_us)
        non2xx = sum(r.non2xx for r in rounds)
        errors = sum(r.socket_errors for r in rounds)
        print(
            f"  {SIDES[name].label:<34} {rate:8,.0f} req/s   p50 {p50:6.2f} ms   "
            f"p99 {p99:6.2f} ms (worst round {max(r.p99_ms for r in rounds):.2f})"
        )
        print(
            f"      server CPU {cpu_us:.0f} µs per request; "
            f"{sum(r.requests for r in rounds):,} requests, {non2xx} non-2xx/3xx, "
            f"{errors} socket errors"
        )
        if non2xx or errors:
            problems.append(f"{name}: {non2xx} non-2xx/3xx responses, {errors} socket errors")
    if len(sides) == 2:
        print(
            f"  ratio hubbub/peer: {medians['hubbub'][0] / medians['peer'][0]:.2f}× the req/s; "
            f"the peer spends {medians['peer'][2] / medians['hubbub'][2]:.2f}× hubbub's server "
            "CPU per request"
        )
    print()
    passed = not problems
    if len(sides) == 2:
        ratio = medians["hubbub"][0] / medians["peer"][0]
        p99 = medians["hubbub"][1]
        print(f"{verdict(ratio >= RATIO_GOAL)}  req/s ≥ {RATIO_GOAL:g}× the peer's: {ratio:.2f}×")
        print(f"{verdict(p99 <= P99_GOAL_MS)}  hubbub p99 ≤ {P99_GOAL_MS:g} ms: {p99:.2f} ms")
        passed = passed and ratio >= RATIO_GOAL and p99 <= P99_GOAL_MS
    print(f"{verdict(not problems)}  every response 2xx, no socket errors, tokens valid")
    for problem in problems:
        print(f"  {problem}")
    return 0 if passed else 1


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def ratio_text(results: dict[str, list[Round]], index: int) -> str:
    if len(results) < 2:
        return ""
    return f"   ratio {results['hubbub'][index].rate / results['peer'][index].rate:5.2f}×"


if __name__ == "__main__":
    sys.exit(main())
