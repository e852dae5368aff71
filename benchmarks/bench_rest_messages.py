"""Message create over the REST API v2: msgs/s and p99 with keep-alive clients, on SQLite.

Starts ``hubbub serve`` (2 workers by default) on a fresh SQLite file on 127.0.0.1, loads it
with ``wrk`` (Debian's package; installed when missing) from a separate process, then checks
the database: every acknowledged message is stored once, with indexes 0..N-1 and none twice.

    .venv/bin/python benchmarks/bench_rest_messages.py [--connections 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.request
from pathlib import Path
from typing import Any

from hubbub.store import open_store

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "%(auth)s"
wrk.body = "Body=hello%%20from%%20wrk&From=bench&Attributes=%%7B%%22n%%22%%3A1%%7D"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


def request(url: str, auth: str, data: bytes | None = None) -> dict[str, object]:
    req = urllib.request.Request(url, data=data, headers={"Authorization": auth})  # noqa: S310
    with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 - loopback only
        result: dict[str, object] = json.loads(response.read())
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="hubbub-bench-"))
    db = f"sqlite:///{work / 'bench.db'}"
    port = free_port()
    hubbub = Path(sys.executable).with_name("hubbub")
    server = subprocess.Popen(
        [
            str(hubbub),
            "serve",
            "--db",
            db,
            "--master-key-file",
            str(work / "master.key"),
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        cwd=work,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()  # noqa: S310
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        creds = json.loads((work / "hubbub-credentials.json").read_text())
        token = f"{creds['account_sid']}:{creds['auth_token']}".encode()
        auth = "Basic " + base64.b64encode(token).decode()
        service = creds["chat_service_sid"]
        channel = request(f"{base}/v2/Services/{service}/Channels", auth, b"UniqueName=bench")
        url = f"{base}/v2/Services/{service}/Channels/{channel['sid']}/Messages"

        script = work / "post.lua"
        script.write_text(LUA % {"auth": auth})
        result = subprocess.run(
            [
                wrk,
                "-t2",
                f"-c{args.connections}",
                f"-d{args.seconds}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)

    output = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+\w+)", output).group(1)  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+\w+)", output).group(1)  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    failed = int(errors.group(1)) if errors else 0

    store = open_store(db)
    account = creds["account_sid"]
    auth_us = cached_auth_microseconds(store, creds, auth)
    stored = store.get_channel(service, "bench")
    indexes: list[int] = []
    cursor = None
    while True:
        page = store.list_messages(service, "bench", limit=1000, cursor=cursor)
        indexes += [message.index for message in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    store.close()
    shutil.rmtree(work, ignore_errors=True)

    acknowledged = total - failed
    print(
        f"POST .../Messages, {args.connections} keep-alive connections, {args.seconds} s, "
        f"{args.workers} server workers, SQLite ({os.cpu_count()} CPUs, account {account[:6]}…)"
    )
    print(f"  {rate:,.0f} msgs/s   p50 {p50}   p99 {p99}   (goal ≥ 3,000 msgs/s)")
    print(f"  {acknowledged} acknowledged, {failed} failed, {len(indexes)} stored")
    print(f"  indexes 0..N-1, none twice: {indexes == list(range(len(indexes)))}")
    print(f"  stored == acknowledged: {len(indexes) == stored.messages_count >= acknowledged}")
    request_us = args.workers / rate * 1e6  # CPU-time budget of one request across the workers
    print(
        f"  auth per request (cached): {auth_us:.1f} µs = {auth_us / request_us:.1%} "
        f"of a request's ~{request_us:.0f} µs (goal < 10 %)"
    )


def cached_auth_microseconds(store: Any, creds: dict[str, str], header: str) -> float:
    """The Basic-auth check as the server runs it, after its first (uncached) success."""
    from hubbub.crypto import check_auth_token
    from hubbub.web.auth import BasicAuth

    checker = BasicAuth(
        lambda sid: store.get_account(sid).auth_token_hash,
        lambda sid: None,
        check_auth_token,
    )
    checker.authenticate(header)
    runs = [timeit.timeit(lambda: checker.authenticate(header), number=10000) for _ in range(5)]
    return statistics.median(runs) / 10000 * 1e6


if __name__ == "__main__":
    main()
