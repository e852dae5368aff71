"""Real ``hubbub serve`` processes for the SDK tests that stop, restart or multiply servers.

A :class:`Node` is one ``hubbub serve`` on a port of its own, in a directory of its own (or one
shared with the nodes on the same database, so that they share its master key and first-start
credentials). It can be stopped (SIGTERM) or killed (SIGKILL) and started again on the same
port and database, which is what the SDKs reconnect to.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from hubbub.tokens import Minter
from hubbub.tokens.claims import now_seconds
from tests.realtime.test_crash import free_port
from tests.realtime.test_nodes import serve, wait_healthy


class Node:
    """``hubbub serve --port PORT --db DB *extra`` in ``workdir``, started by :meth:`start`."""

    def __init__(self, workdir: Path, *extra: str, port: int | None = None) -> None:
        self.workdir = workdir
        self.extra = extra
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        #: What each run wrote on stderr, kept for failures (a Traceback fails the test).
        self.stderr: list[bytes] = []

    # -- the process -------------------------------------------------------------------------
    def start(self) -> Node:
        assert self.process is None, "already running"
        self.process = serve(self.workdir, self.port, *self.extra, start_new_session=True)
        try:
            wait_healthy(self.process, self.port)
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> None:
        """End the process group with ``sig`` and wait for it (SIGKILL: no goodbye at all)."""
        process = self.process
        if process is None:
            return
        self.process = None
        try:
            process.send_signal(sig) if sig is not signal.SIGKILL else _kill_group(process)
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            _, stderr = process.communicate(timeout=10)
        self.stderr.append(stderr or b"")

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def tracebacks(self) -> str:
        text = b"".join(self.stderr).decode(errors="replace")
        return text if "Traceback" in text else ""

    # -- addresses and credentials -------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def twilsock_uri(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v3/wsconnect"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    @property
    def creds(self) -> dict[str, str]:
        """The first-start credentials (account, API key, auth token, Chat Service)."""
        data: dict[str, str] = json.loads((self.workdir / "hubbub-credentials.json").read_text())
        return data

    def rest(self) -> Rest:
        return Rest(self.base_url, self.creds)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Tokens:
    """Access Tokens for one Chat Service, signed with one API key."""

    def __init__(self, creds: dict[str, str], key_sid: str = "", secret: str = "") -> None:
        self.service_sid = creds["chat_service_sid"]
        self.minter = Minter(
            creds["account_sid"],
            key_sid or creds["api_key_sid"],
            secret or creds["api_key_secret"],
        )

    def token(self, identity: str, ttl: int = 3600, *, expires_in: int | None = None) -> str:
        """A token living ``ttl`` seconds from now; or one that expires ``expires_in`` seconds
        from now (negative: that long ago), minted a minute before its expiry."""
        if expires_in is None:
            return self.minter.chat_token(identity, self.service_sid, ttl=ttl)
        now = now_seconds()
        return self.minter.chat_token(
            identity, self.service_sid, ttl=60, now=now + expires_in - 60
        )


class Rest:
    """hubbub's REST API as the account (its auth token), synchronous."""

    def __init__(self, base_url: str, creds: dict[str, str]) -> None:
        self.base_url = base_url
        self.creds = creds
        self.service = f"{base_url}/v2/Services/{creds['chat_service_sid']}"
        self.http = httpx.Client(auth=(creds["account_sid"], creds["auth_token"]), timeout=10)

    def call(self, method: str, path: str, expect: int | None = None, **form: Any) -> Any:
        """``path`` under the Chat Service, or an absolute path on the server (``/2010-...``)."""
        url = self.base_url + path if path.startswith("/2010-") else self.service + path
        response = self.http.request(method, url, data=form or None)
        if expect is not None:
            assert response.status_code == expect, response.text
        else:
            assert response.is_success, response.text
        return None if response.status_code == 204 else response.json()

    def create_key(self) -> tuple[str, str]:
        account = self.creds["account_sid"]
        key = self.call("POST", f"/2010-04-01/Accounts/{account}/Keys.json", FriendlyName="t")
        return key["sid"], key["secret"]

    def revoke_key(self, key_sid: str) -> None:
        account = self.creds["account_sid"]
        self.call("DELETE", f"/2010-04-01/Accounts/{account}/Keys/{key_sid}.json", expect=204)

    def close(self) -> None:
        self.http.close()


def poll(condition: Any, timeout: float = 10, interval: float = 0.05, what: str = "") -> Any:
    """Wait for ``condition()`` to be truthy, and return it; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or condition}")
        time.sleep(interval)
