"""Real ``hubbub serve`` processes for the SDK tests that stop, restart or multiply servers.

A :class:`Node` is one ``hubbub serve`` on a port of its own, in a directory of its own (or one
shared with the nodes on the same database, so that they share its master key and first-start
credentials). It can be stopped (SIGTERM) or killed (SIGKILL) and started again on the same
port and database, which is what the SDKs reconnect to.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from hubbub.tokens import Minter
from hubbub.tokens.claims import now_seconds
from tests.realtime.test_crash import HUBBUB, free_port
from tests.realtime.test_nodes import wait_healthy

SRC = Path(__file__).resolve().parents[2] / "src"


class Node:
    """``hubbub serve --port PORT --db DB *extra`` in ``workdir``, started by :meth:`start`."""

    def __init__(self, workdir: Path, *extra: str, port: int | None = None) -> None:
        self.workdir = workdir
        self.extra = extra
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._rest: Rest | None = None

    # -- the process -------------------------------------------------------------------------
    def start(self) -> Node:
        assert self.process is None, "already running"
        # stderr to a file, not a pipe: a server that logs much must never block on it.
        with (self.workdir / f"serve-{self.port}.err").open("ab") as stderr:
            self.process = subprocess.Popen(
                [str(HUBBUB), "serve", "--port", str(self.port), *self.extra],
                cwd=self.workdir,
                env=_environment(),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        try:
            wait_healthy(self.process, self.port)
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> None:
        """End the server with ``sig`` (SIGTERM: its own orderly shutdown; SIGKILL: its whole
        process group at once, no goodbye to anyone) and wait for it; whatever of its group
        is left is killed."""
        process = self.process
        if process is None:
            return
        self.process = None
        try:
            if sig is signal.SIGKILL:
                _kill_group(process)
            else:
                process.send_signal(sig)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(process)
        process.wait(timeout=10)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    @property
    def log(self) -> str:
        """What the server wrote on stderr, every run of it."""
        path = self.workdir / f"serve-{self.port}.err"
        return path.read_text(errors="replace") if path.exists() else ""

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
        """The REST API of this node (one client, closed by :meth:`close`)."""
        if self._rest is None:
            self._rest = Rest(self.base_url, self.creds)
        return self._rest

    def close(self) -> None:
        """Stop the server, and close the REST client."""
        self.stop()
        if self._rest is not None:
            self._rest.close()
            self._rest = None


def _environment() -> dict[str, str]:
    """The test's environment without hubbub's or Twilio's settings, with this checkout's
    ``src`` first on the path (whatever the virtualenv has installed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "TWILIO_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


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
        return self.minter.chat_token(identity, self.service_sid, ttl=60, now=now + expires_in - 60)


class Rest:
    """hubbub's REST API as the account (its auth token), synchronous."""

    def __init__(self, base_url: str, creds: dict[str, str]) -> None:
        self.base_url = base_url
        self.creds = creds
        self.service = f"{base_url}/v2/Services/{creds['chat_service_sid']}"
        # No connection kept between requests: the servers come and go under these tests.
        self.http = httpx.Client(
            auth=(creds["account_sid"], creds["auth_token"]),
            timeout=10,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

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


def poll(
    condition: Callable[[], Any],
    timeout: float = 10,
    interval: float = 0.05,
    what: str | Callable[[], Any] = "",
) -> Any:
    """Wait for ``condition()`` to be truthy, and return it; fail after ``timeout`` seconds
    saying ``what`` (or what ``what()`` then returns)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {timeout} s: {said or condition}")
        time.sleep(interval)


class Loop:
    """An asyncio loop in a thread of its own, for the asyncio clients (hubbub's Python SDK,
    a raw ``/v1/ws`` client) of a test that otherwise waits synchronously on the drivers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
