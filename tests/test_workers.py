"""``hubbub serve --workers N``: a listening socket per worker (SO_REUSEPORT), so that the
kernel spreads connections evenly, and a worker that dies is replaced."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.realtime.test_crash import HUBBUB, free_port
from tests.realtime.test_nodes import serve, stop, wait_healthy

LISTEN = "0A"


def _listening(port: int) -> int:
    """How many sockets listen on ``port`` (IPv4), from the kernel's own table."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state = fields[1], fields[3]
        if state == LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
            count += 1
    return count


def _children(pid: int) -> list[int]:
    """The worker processes of ``pid`` (not multiprocessing's resource tracker)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    workers = []
    for child in map(int, text.split()):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:  # gone meanwhile
            continue
        if b"spawn_main" in command:
            workers.append(child)
    return workers


def _until(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.1)


def test_each_worker_listens_on_its_own_socket_and_is_replaced(tmp_path: Path) -> None:
    port = free_port()
    server = serve(tmp_path, port, "--workers", "2")
    try:
        wait_healthy(server, port)
        _until(lambda: _listening(port) == 2)
        workers = _children(server.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        # Another takes its place, with a socket of its own.
        _until(lambda: workers[0] not in _children(server.pid) and len(_children(server.pid)) == 2)
        _until(lambda: _listening(port) == 2)
        wait_healthy(server, port)
    finally:
        stderr = stop(server)
    assert b"Traceback" not in stderr, stderr.decode()
    assert server.returncode == 0
    assert _listening(port) == 0  # every worker stopped with the supervisor


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    taken = socket.socket()
    taken.bind(("127.0.0.1", port))
    taken.listen()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "TWILIO_"))}
    try:
        done = subprocess.run(
            [str(HUBBUB), "serve", "--port", str(port), "--workers", "2"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
    finally:
        taken.close()
    assert done.returncode == 1
    assert "Traceback" not in done.stderr.decode()
    lines = done.stderr.decode().splitlines()
    assert lines[-1].startswith(f"hubbub: cannot listen on 127.0.0.1:{port}"), lines


def test_a_second_server_on_the_same_port_is_refused(tmp_path: Path) -> None:
    """SO_REUSEPORT would let it share the port with the first, taking half its connections."""
    port = free_port()
    first = serve(tmp_path, port, "--workers", "2")
    try:
        wait_healthy(first, port)
        second = tmp_path / "second"
        second.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "TWILIO_"))}
        done = subprocess.run(
            [str(HUBBUB), "serve", "--port", str(port), "--workers", "2"],
            cwd=second,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1
        assert done.stderr.decode().splitlines()[-1] == (
            f"hubbub: cannot listen on 127.0.0.1:{port}: something already serves it"
        )
        assert _listening(port) == 2  # the first server's workers only
    finally:
        stderr = stop(first)
    assert b"Traceback" not in stderr, stderr.decode()
