"""``hubbub serve --workers 2`` as a user runs it: every worker shares the cookie key and the
token settings, and a logout in one is a logout in all."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.test_server_cli import free_port

HUBBUB = Path(sys.executable).with_name("hubbub")


def test_two_workers_share_sessions_and_settings(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "TWILIO_"))}
    db = f"sqlite:///{tmp_path / 'h.db'}"
    added = subprocess.run(
        [str(HUBBUB), "users", "add", "alice", "--password-stdin", "--db", db],
        input="s3cret\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    port = free_port()
    server = subprocess.Popen(
        [
            str(HUBBUB),
            "serve",
            "--db",
            db,
            "--port",
            str(port),
            "--workers",
            "2",
            "--token-ttl",
            "300",
            "--token-max-ttl",
            "600",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        login = httpx.post(f"{base}/login", json={"username": "alice", "password": "s3cret"})
        assert login.status_code == 200
        cookie = {"Cookie": login.headers["set-cookie"].split(";")[0]}

        # Each request on a new connection: both workers answer some of them.
        answers = [httpx.post(f"{base}/token?ttl=5000", headers=cookie) for _ in range(20)]
        assert {a.status_code for a in answers} == {200}
        assert {a.json()["ttl"] for a in answers} == {600}
        assert httpx.get(f"{base}/token", headers=cookie).json()["ttl"] == 300

        assert httpx.post(f"{base}/logout", headers=cookie).status_code == 204
        after = [httpx.post(f"{base}/token", headers=cookie).status_code for _ in range(20)]
        assert set(after) == {401}
    finally:
        server.terminate()
        server.communicate(timeout=30)
