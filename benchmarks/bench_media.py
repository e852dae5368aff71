"""Media: upload then download a 100 MiB file through a real ``hubbub serve``; the server's
memory growth and the throughput, beside a plain Starlette endpoint, in one run.

On 127.0.0.1 only, each side a server process of its own (one uvicorn worker each):

- the peer, ``benchmarks/peers/media_starlette.py``: ``await request.body()`` then a file
  (fsynced, as hubbub's), and ``FileResponse``; what buffering a whole upload costs;
- hubbub with media on disk (``hubbub serve`` on SQLite, the default media store), the file
  uploaded raw and, to the same server, as a browser's FormData (``multipart/form-data``);
- hubbub with media in PostgreSQL (``--media-store database``), when ``--postgres URL`` names
  a server where the benchmark may create a throw-away database (dropped at the end).

The client streams the file from disk (``http.client``, 1 MiB writes, with Content-Length) and
reads the download in 1 MiB pieces, hashing it: every download is checked byte for byte. The
server's memory is its main process's peak RSS (``VmHWM``, reset before each transfer through
``/proc/PID/clear_refs``) less its RSS just before; goal < 16 MiB. After a warm-up transfer,
the runs go round the sides in turn, so a noisy neighbour hits all alike; figures are medians
of the runs, ratios are of the medians.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_media.py [--size-mb 100] [--runs 3]
        [--postgres postgresql://user:pass@127.0.0.1/db]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubbub.tokens import Minter

HOST = "127.0.0.1"  # never any other address
PEERS = Path(__file__).resolve().parent / "peers"
MiB = 1024 * 1024
RSS_GOAL_MIB = 16.0
PIECE = MiB


@dataclass
class Transfer:
    seconds: float
    rss_growth_kib: int

    def rate(self, size: int) -> float:
        return size / MiB / self.seconds


@dataclass
class Side:
    label: str
    proc: subprocess.Popen[bytes]
    port: int
    upload_path: str
    headers: dict[str, str] = field(default_factory=dict)
    uploads: list[Transfer] = field(default_factory=list)
    downloads: list[Transfer] = field(default_factory=list)
    #: Where the uploaded file is read back from (the peer).
    content_path: str = ""
    #: Uploads as a browser's FormData (``multipart/form-data``) rather than the raw file.
    form: bool = False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {log.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server did not start: {log.read_text()[-2000:]}")


def status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise SystemExit(f"no {name} for process {pid}")


def reset_peak(pid: int) -> None:
    """Make ``VmHWM`` start again from the current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def measured(side: Side, work: Any) -> tuple[Transfer, Any]:
    pid = side.proc.pid
    reset_peak(pid)
    before = status_kib(pid, "VmRSS")
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    return Transfer(seconds, status_kib(pid, "VmHWM") - before), result


def upload(side: Side, path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    connection = http.client.HTTPConnection(HOST, side.port, timeout=600, blocksize=PIECE)
    with path.open("rb") as file:
        body: Any = file
        content_type, length = "video/mp4", size
        if side.form:
            boundary = "----hubbubBenchBoundary7MA4YWxkTrZu0gW"
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="clip.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
            ).encode()
            tail = f"\r\n--{boundary}--\r\n".encode()
            body = _form_body(head, file, tail)
            content_type = f"multipart/form-data; boundary={boundary}"
            length = len(head) + size + len(tail)
        headers = {**side.headers, "Content-Type": content_type, "Content-Length": str(length)}
        connection.request("POST", side.upload_path, body=body, headers=headers)
    response = connection.getresponse()
    answer = response.read()
    connection.close()
    if response.status != 201:
        raise SystemExit(f"{side.label}: upload answered {response.status}: {answer[:500]!r}")
    record: dict[str, Any] = json.loads(answer)
    if record.get("size") != size:
        raise SystemExit(f"{side.label}: stored {record.get('size')} bytes of {size}")
    return record


def _form_body(head: bytes, file: Any, tail: bytes) -> Iterator[bytes]:
    yield head
    while piece := file.read(PIECE):
        yield piece
    yield tail


def download(side: Side, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection(HOST, side.port, timeout=600)
    connection.request("GET", path, headers=side.headers)
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"{side.label}: download answered {response.status}")
    digest = hashlib.blake2b()
    size = 0
    while piece := response.read(PIECE):
        digest.update(piece)
        size += len(piece)
    connection.close()
    return size, digest.hexdigest()


def delete(side: Side, path: str) -> None:
    connection = http.client.HTTPConnection(HOST, side.port, timeout=60)
    connection.request("DELETE", path, headers=side.headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status != 204:
        raise SystemExit(f"{side.label}: delete answered {response.status}")


def start_peer(work: Path) -> Side:
    port = free_port()
    log = work / "peer.log"
    env = {**os.environ, "PEER_MEDIA_DIR": str(work)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "peers.media_starlette:app", "--host", HOST,
             "--port", str(port), "--log-level", "warning", "--no-access-log"],
            cwd=PEERS.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    wait_ready(port, proc, log, "/file")
    side = Side("Starlette: request.body() + FileResponse", proc, port, "/upload")
    side.content_path = "/file"
    return side


def start_hubbub(work: Path, label: str, *options: str) -> Side:
    port = free_port()
    log = work / "hubbub.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "TWILIO_"))}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("hubbub")), "serve", "--host", HOST,
             "--port", str(port), "--data-dir", str(work), *options],
            cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    wait_ready(port, proc, log, "/healthz")
    creds = json.loads((work / "hubbub-credentials.json").read_text())
    minter = Minter(creds["account_sid"], creds["api_key_sid"], creds["api_key_secret"])
    token = minter.chat_token("alice", creds["chat_service_sid"], ttl=3600)
    path = f"/v1/Services/{creds['chat_service_sid']}/Media"
    return Side(label, proc, port, f"{path}?Category=media&Filename=clip.mp4",
                {"X-Twilio-Token": token})  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def one_run(side: Side, path: Path, expected: str) -> None:
    size = path.stat().st_size
    sent, record = measured(side, lambda: upload(side, path))
    content = side.content_path
    if record.get("sid"):
        content = f"{side.upload_path.partition('?')[0]}/{record['sid']}/Content"
    got, (length, digest) = measured(side, lambda: download(side, content))
    if (length, digest) != (size, expected):
        raise SystemExit(f"{side.label}: the download is not the file uploaded")
    if record.get("sid"):
        delete(side, f"{side.upload_path.partition('?')[0]}/{record['sid']}")
    side.uploads.append(sent)
    side.downloads.append(got)


@contextlib.contextmanager
def throwaway_database(server: str | None) -> Iterator[str | None]:
    """A new, empty database on the PostgreSQL ``server``, dropped afterwards."""
    if server is None:
        yield None
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(server).set(drivername="postgresql+psycopg")
    name = f"hubbub_bench_media_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        from sqlalchemy.exc import ProgrammingError

        # FORCE may not end an autovacuum worker that just started there: wait it out.
        for attempt in range(50):
            try:
                with admin.connect() as conn:
                    conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                break
            except ProgrammingError:
                if attempt == 49:
                    raise
                time.sleep(0.1)
        admin.dispose()


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} vCPU {model}, CPython {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100, help="the file's size, in MiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also measure --media-store database, in a throw-away database on this server",
    )
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="bench-media-") as temporary,
        throwaway_database(args.postgres) as postgres,
    ):
        root = Path(temporary)
        path = root / "clip.bin"
        digest = hashlib.blake2b()
        with path.open("wb") as out:  # random: nothing on the way may compress it
            for _ in range(args.size_mb):
                piece = os.urandom(MiB)
                digest.update(piece)
                out.write(piece)
        expected = digest.hexdigest()
        small = root / "small.bin"
        small.write_bytes(os.urandom(MiB))
        small_digest = hashlib.blake2b(small.read_bytes()).hexdigest()

        sides: list[Side] = []
        try:
            for name, start in (
                ("peer", lambda work: start_peer(work)),
                ("disk", lambda work: start_hubbub(work, "hubbub, media on disk (SQLite)",
                                                   "--db", f"sqlite:///{work / 'hubbub.db'}")),
                ("database", lambda work: start_hubbub(work, "hubbub, media in PostgreSQL",
                                                       "--db", str(postgres),
                                                       "--media-store", "database")),
            ):  # fmt: skip
                if name == "database" and postgres is None:
                    continue
                work = root / name
                work.mkdir()
                sides.append(start(work))
                if name == "disk":  # the same server, a browser's FormData upload
                    first = sides[-1]
                    sides.append(
                        Side(
                            "hubbub, media on disk, uploaded as multipart/form-data",
                            first.proc, first.port, first.upload_path, first.headers, form=True,
                        )
                    )  # fmt: skip
            for side in sides:  # warm-up: every code path loaded, buffers sized
                one_run(side, small, small_digest)
                side.uploads.clear()
                side.downloads.clear()
            for run in range(args.runs):
                order = sides[run % len(sides) :] + sides[: run % len(sides)]
                for side in order:
                    one_run(side, path, expected)
                    up, down = side.uploads[-1], side.downloads[-1]
                    print(
                        f"run {run + 1} {side.label}: up {up.rate(args.size_mb * MiB):.0f} MiB/s "
                        f"(+{up.rss_growth_kib / 1024:.1f} MiB RSS), down "
                        f"{down.rate(args.size_mb * MiB):.0f} MiB/s "
                        f"(+{down.rss_growth_kib / 1024:.1f} MiB RSS)",
                        flush=True,
                    )
        finally:
            for side in sides:
                stop(side.proc)  # a second stop of a shared server does nothing

    size = args.size_mb * MiB
    print(f"\n{machine()}; a {args.size_mb} MiB file, median of {args.runs} runs each\n")
    print("| | upload MiB/s | RSS growth | download MiB/s | RSS growth |")
    print("|---|---:|---:|---:|---:|")
    peer = sides[0]

    def medians(side: Side) -> tuple[float, float, float, float]:
        return (
            statistics.median(t.rate(size) for t in side.uploads),
            statistics.median(t.rss_growth_kib for t in side.uploads) / 1024,
            statistics.median(t.rate(size) for t in side.downloads),
            statistics.median(t.rss_growth_kib for t in side.downloads) / 1024,
        )

    base = medians(peer)
    worst = 0.0
    for side in sides:
        up, up_rss, down, down_rss = medians(side)
        print(f"| {side.label} | {up:.0f} | {up_rss:.1f} MiB | {down:.0f} | {down_rss:.1f} MiB |")
        if side is not peer:
            print(
                f"| against the peer | {up / base[0]:.2f}× | {up_rss - base[1]:+.1f} MiB "
                f"| {down / base[2]:.2f}× | {down_rss - base[3]:+.1f} MiB |"
            )
            worst = max(worst, *(t.rss_growth_kib / 1024 for t in side.uploads + side.downloads))
    failed = worst >= RSS_GOAL_MIB
    print(
        f"\nhubbub's largest RSS growth in any transfer: {worst:.1f} MiB "
        f"(goal < {RSS_GOAL_MIB:.0f} MiB: {'not met' if failed else 'met'})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
