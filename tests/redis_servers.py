"""A real Redis for the tests: from HUBBUB_TEST_REDIS_URL, else from scripts/redis; and
dedicated Redis servers for the tests that stop and restart one.

A Redis the tests cannot reach fails them instead of skipping them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support import server_url


def redis_server() -> str:
    return server_url("HUBBUB_TEST_REDIS_URL", "redis", "Redis")


class OwnRedis:
    """A redis-server of one test's own, on a fixed loopback port, that it may kill and start
    again (``scripts/redis`` has installed the binary by the time this runs)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is not installed (scripts/redis installs it)"
        options = ["--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        options += ["--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            [binary, *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert self.process.poll() is None, "redis-server exited while starting"
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
