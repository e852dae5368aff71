"""Shared pieces of the real-time benchmarks (``bench_realtime_*.py``).

A ``Server`` runs ``hubbub serve --workers 1`` on a fresh SQLite file in a temporary directory,
listening on 127.0.0.1 only, and gives its PID (with one worker uvicorn runs in the ``hubbub``
process itself), its RSS and CPU time, a keep-alive REST client and a token minter. Clients run
in forked worker processes (``start_workers``), each with its own asyncio loop (uvloop when
installed) and ``websockets`` connections, talking to the parent over a pipe.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection, connect

from hubbub.tokens import Minter

HOST = "127.0.0.1"  # never any other address


def raise_nofile() -> int:
    """Lift this process's open-file limit to its hard limit; return the new soft limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def machine() -> str:
    return (
        f"{os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}, "
        f"uvicorn {uvicorn.__version__}, websockets {websockets.__version__}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[int(rank) - 1]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used so far (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Rest:
    """A keep-alive HTTP client for the REST API, with HTTP Basic auth."""

    def __init__(self, port: int, account_sid: str, auth_token: str) -> None:
        self.port = port
        token = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)

    def call(self, method: str, path: str, fields: dict[str, str] | None = None) -> Any:
        headers = dict(self.headers)
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server drops keep-alive connections idle for 5 s; this request never arrived.
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else None

    def get_url(self, url: str) -> Any:
        """GET an absolute URL the server handed out (``next_page_url``) on this connection."""
        parts = urllib.parse.urlsplit(url)
        return self.call("GET", f"{parts.path}?{parts.query}" if parts.query else parts.path)

    def close(self) -> None:
        self.conn.close()


SOURCE = Path(__file__).resolve().parent.parent / "src"


def server_env() -> dict[str, str]:
    """The environment of the servers started here: this checkout's ``src`` first on
    ``PYTHONPATH``, so that a worktree benchmarks its own code."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(SOURCE), env.get("PYTHONPATH")) if part
    )
    return env


def code_path() -> str:
    """Where the ``hubbub`` package the servers started here import comes from."""
    done = subprocess.run(
        [sys.executable, "-c", "import hubbub; print(hubbub.__file__)"],
        env=server_env(),
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=True,
    )
    return str(Path(done.stdout.strip()).parent)


class Server:
    """``hubbub serve --workers 1`` on SQLite in a temporary directory."""

    def __init__(
        self, *, gc: str | None = None, compression: bool = False, serve_args: Sequence[str] = ()
    ) -> None:
        """``gc``, for what-if experiments only: "off" or "T0,T1,T2" thresholds for the server's
        cyclic garbage collector, set before ``hubbub serve`` runs; the server code is as is.
        ``compression`` starts it with ``--ws-compression`` (permessage-deflate is opt-in);
        ``serve_args`` are more arguments of ``hubbub serve`` (``--webhook-allow 127.0.0.0/8``).
        The server runs the code of this checkout (``src`` first on its ``PYTHONPATH``), not
        whatever the virtualenv's editable install points at: ``code_path`` tells which."""
        self.work = Path(tempfile.mkdtemp(prefix="hubbub-bench-rt-"))
        self.db = self.work / "bench.db"
        self.port = free_port()
        self.log = self.work / "server.log"
        command = [str(Path(sys.executable).with_name("hubbub"))]
        if gc is not None:
            setting = "gc.disable()" if gc == "off" else f"gc.set_threshold({gc})"
            prelude = f"import gc, sys; {setting}; from hubbub.cli import main; sys.exit(main())"
            command = [sys.executable, "-c", prelude]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    *command,
                    "serve",
                    "--db",
                    f"sqlite:///{self.db}",
                    "--master-key-file",
                    str(self.work / "master.key"),
                    "--host",
                    HOST,
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                    *(["--ws-compression"] if compression else []),
                    *serve_args,
                ],
                cwd=self.work,
                env=server_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.pid = self.proc.pid
        self.url = f"ws://{HOST}:{self.port}/v1/ws"
        try:
            self._wait_ready()
            creds = json.loads((self.work / "hubbub-credentials.json").read_text())
        except BaseException:
            self.stop()
            raise
        self.account_sid: str = creds["account_sid"]
        self.service_sid: str = creds["chat_service_sid"]
        self.key_sid: str = creds["api_key_sid"]
        self.key_secret: str = creds["api_key_secret"]
        self.rest = Rest(self.port, creds["account_sid"], creds["auth_token"])
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        if children:  # with --workers 1 uvicorn serves in-process; anything else is a surprise
            raise RuntimeError(f"hubbub serve {self.pid} has child processes {children}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log_tail()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start within 30 s")
            time.sleep(0.1)

    # -- measurements ------------------------------------------------------------------------
    def rss_kb(self) -> int:
        """The server process's resident set size (VmRSS), in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        return process_cpu_seconds(self.pid)

    def descendants(self) -> dict[int, str]:
        """The server's child processes (of any of its threads), recursively: PID -> command
        line. With ``--workers 1`` that is the webhook courier (and multiprocessing's
        resource tracker)."""
        found: dict[int, str] = {}
        parents = [self.pid]
        while parents:
            parent = parents.pop()
            for task in Path(f"/proc/{parent}/task").glob("*"):
                with contextlib.suppress(OSError):
                    for child in map(int, (task / "children").read_text().split()):
                        if child not in found:
                            raw = Path(f"/proc/{child}/cmdline").read_bytes()
                            found[child] = raw.replace(b"\0", b" ").decode(errors="replace")
                            parents.append(child)
        return found

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def py_spy_dump(self) -> str:
        """A stack dump of the server (``py-spy dump``), if py-spy is installed."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(spy).exists():
            return "(py-spy is not installed: .venv/bin/pip install py-spy)"
        done = subprocess.run(
            [spy, "dump", "--pid", str(self.pid)], capture_output=True, text=True, timeout=30
        )
        return done.stdout or done.stderr

    # -- setup -------------------------------------------------------------------------------
    def minter(self) -> Minter:
        return Minter(self.account_sid, self.key_sid, self.key_secret)

    def create_channel(self, unique_name: str) -> str:
        path = f"/v2/Services/{self.service_sid}/Channels"
        channel = self.rest.call("POST", path, {"UniqueName": unique_name})
        sid: str = channel["sid"]
        return sid

    def set_limits(self, channel_members: int) -> None:
        """Raise the Chat Service's members-per-channel limit (Twilio's default is 250)."""
        fields = {"Limits.ChannelMembers": str(channel_members)}
        self.rest.call("POST", f"/v2/Services/{self.service_sid}", fields)

    def add_members(self, channel_sid: str, identities: Sequence[str]) -> None:
        path = f"/v2/Services/{self.service_sid}/Channels/{channel_sid}/Members"
        for identity in identities:
            self.rest.call("POST", path, {"Identity": identity})

    def message_indexes(self, channel_sid: str) -> list[int]:
        """Every stored message index of a channel, in the order the REST API lists them."""
        return [index for index, _ in self.messages(channel_sid)]

    def messages(self, channel_sid: str) -> list[tuple[int, str]]:
        """Every stored message of a channel as (index, sid), in the order the REST API lists
        them (``PageSize=1000``, following ``next_page_url``)."""
        path = f"/v2/Services/{self.service_sid}/Channels/{channel_sid}/Messages?PageSize=1000"
        page = self.rest.call("GET", path)
        found: list[tuple[int, str]] = []
        while True:
            found += [(message["index"], message["sid"]) for message in page["messages"]]
            next_url = page["meta"]["next_page_url"]
            if not next_url:
                return found
            page = self.rest.get_url(next_url)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its directory."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.rest.close()
        self.stop()


# -- client processes --------------------------------------------------------------------------
Worker = Callable[..., Coroutine[Any, Any, None]]


def _worker_main(target: Worker, pipe: Connection, args: tuple[Any, ...]) -> None:
    raise_nofile()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and ends the workers
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(target(Pipe(pipe), *args))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        pipe.close()


class Pipe:
    """The worker's end of its pipe to the parent, with an awaitable ``recv``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def send(self, item: Any) -> None:
        os.set_blocking(self.conn.fileno(), True)  # uvloop's add_reader made it non-blocking
        self.conn.send(item)

    async def recv(self) -> Any:
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        loop.add_reader(self.conn.fileno(), ready.set)
        try:
            await ready.wait()
        finally:
            loop.remove_reader(self.conn.fileno())
        os.set_blocking(self.conn.fileno(), True)
        return self.conn.recv()


class Workers:
    """Forked client processes, each running ``target(pipe, *args)`` in its own loop."""

    def __init__(self, target: Worker, args_list: Sequence[tuple[Any, ...]]) -> None:
        context = multiprocessing.get_context("fork")
        self.procs: list[Any] = []
        self.pipes: list[Connection] = []
        for args in args_list:
            parent, child = context.Pipe()
            proc = context.Process(target=_worker_main, args=(target, child, args), daemon=True)
            proc.start()
            child.close()
            self.procs.append(proc)
            self.pipes.append(parent)

    def poll(self, timeout: float) -> list[tuple[int, Any]]:
        """Whatever messages the workers have sent within ``timeout``, as (worker, message)."""
        found: list[tuple[int, Any]] = []
        for pipe in wait(self.pipes, timeout):
            index = self.pipes.index(pipe)  # type: ignore[arg-type]
            while pipe.poll():  # type: ignore[union-attr]
                try:
                    item = pipe.recv()  # type: ignore[union-attr]
                except EOFError:
                    raise RuntimeError(f"client process {index} died") from None
                if isinstance(item, tuple) and item and item[0] == "error":
                    raise RuntimeError(f"client process {index} failed: {item[1]}")
                found.append((index, item))
        return found

    def send_all(self, item: Any) -> None:
        for pipe in self.pipes:
            pipe.send(item)

    def gather(self, timeout: float, pipes: Sequence[Connection] | None = None) -> list[Any]:
        """One message from each worker (in worker order); raise if one fails or times out."""
        pipes = list(self.pipes if pipes is None else pipes)
        results: dict[int, Any] = {}
        deadline = time.monotonic() + timeout
        while len(results) < len(pipes):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(pipes) - len(results)} client processes did not answer")
            for pipe in wait([p for i, p in enumerate(pipes) if i not in results], left):
                index = pipes.index(pipe)  # type: ignore[arg-type]
                try:
                    item = pipe.recv()  # type: ignore[union-attr]
                except EOFError:
                    raise RuntimeError(f"client process {index} died") from None
                if isinstance(item, tuple) and item and item[0] == "error":
                    raise RuntimeError(f"client process {index} failed: {item[1]}")
                results[index] = item
        return [results[i] for i in range(len(pipes))]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        for pipe in self.pipes:
            pipe.close()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """``items`` dealt into ``parts`` nearly equal, contiguous slices."""
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return out


# -- WebSocket clients -------------------------------------------------------------------------
async def open_session(
    url: str, token: str, *, compression: bool, max_queue: int = 4096
) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect to ``/v1/ws`` and authenticate; return the connection and the reply's result."""
    ws = await connect(
        url,
        compression="deflate" if compression else None,
        ping_interval=None,  # the server pings; the client answers by itself
        open_timeout=60,
        close_timeout=2,
        max_size=2**20,
        max_queue=max_queue,
    )
    try:
        await ws.send(json.dumps({"id": 0, "type": "authenticate", "token": token}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
    except BaseException:
        await ws.close()
        raise
    if reply.get("id") != 0 or not reply.get("ok"):
        await ws.close()
        raise RuntimeError(f"authenticate failed: {reply}")
    return ws, reply["result"]


async def open_many(
    url: str,
    tokens: Sequence[str],
    *,
    compression: bool,
    concurrency: int,
    max_queue: int = 4096,
) -> tuple[list[ClientConnection | None], list[str]]:
    """Open and authenticate one session per token, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)
    errors: list[str] = []

    async def one(token: str) -> ClientConnection | None:
        async with gate:
            try:
                ws, _ = await open_session(url, token, compression=compression, max_queue=max_queue)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return None
            return ws

    sessions = await asyncio.gather(*(one(token) for token in tokens))
    return list(sessions), errors


def cpu_seconds_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- a light WebSocket client ------------------------------------------------------------------
class LightSocket(asyncio.Protocol):
    """A minimal WebSocket client for load generation: unfragmented text and binary frames,
    no extensions.

    With two CPUs the clients compete with the server, and a full client library costs tens
    of microseconds per frame; this one costs a few, so the measurement is more of the server.
    Frames it sends are masked with a zero key (allowed by RFC 6455, and so not XORed); frames
    it gets, text or binary (twilsock's), are handed to ``on_text`` as bytes. Pings are
    answered; a close ends it.
    """

    def __init__(self, on_text: Callable[[bytes], None]) -> None:
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.handshaking = True

    @classmethod
    async def open(cls, url: str, on_text: Callable[[bytes], None]) -> LightSocket:
        parts = urllib.parse.urlsplit(url)
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(lambda: cls(on_text), parts.hostname, parts.port)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert protocol.transport is not None
        protocol.transport.write(request.encode())
        await asyncio.wait_for(protocol.opened, 60)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send_text(self, text: str) -> None:
        self._send(0x81, text.encode())

    def send_binary(self, data: bytes) -> None:
        self._send(0x82, data)

    def _send(self, first: int, data: bytes) -> None:
        size = len(data)
        if size < 126:
            header = bytes((first, 0x80 | size))
        elif size < 65536:
            header = bytes((first, 0x80 | 126)) + size.to_bytes(2, "big")
        else:
            header = bytes((first, 0x80 | 127)) + size.to_bytes(8, "big")
        assert self.transport is not None
        self.transport.write(header + b"\0\0\0\0" + data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if self.handshaking:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[:end]).split(b"\r\n", 1)[0]
            del buffer[: end + 4]
            self.handshaking = False
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                return
            self.opened.set_result(None)
        start = 0
        end = len(buffer)
        while end - start >= 2:
            first, second = buffer[start], buffer[start + 1]
            size = second & 0x7F
            at = start + 2
            if size == 126:
                if end - at < 2:
                    break
                size = int.from_bytes(buffer[at : at + 2], "big")
                at += 2
            elif size == 127:
                if end - at < 8:
                    break
                size = int.from_bytes(buffer[at : at + 8], "big")
                at += 8
            if end - at < size:
                break
            payload = bytes(buffer[at : at + size])
            start = at + size
            opcode = first & 0x0F
            if opcode in (1, 2):
                self.on_text(payload)
            elif opcode == 9 and self.transport is not None:  # ping: pong, masked, zero key
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            elif opcode == 8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                if not self.closed.done():
                    self.closed.set_result(code)
                if self.transport is not None:
                    self.transport.close()
        del buffer[:start]


async def open_light(url: str, token: str, on_text: Callable[[bytes], None]) -> LightSocket:
    """Connect with ``LightSocket`` and authenticate; frames after the reply go to ``on_text``."""
    reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def first(data: bytes) -> None:
        if not reply.done():
            reply.set_result(data)
        else:
            on_text(data)

    socket_ = await LightSocket.open(url, first)
    socket_.send_text(json.dumps({"id": 0, "type": "authenticate", "token": token}))
    answer = json.loads(await asyncio.wait_for(reply, 60))
    if not answer.get("ok"):
        socket_.close()
        raise RuntimeError(f"authenticate failed: {answer}")
    socket_.on_text = on_text
    return socket_
