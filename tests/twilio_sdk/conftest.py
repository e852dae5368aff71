"""A real ``hubbub serve`` for Twilio's JS SDKs, and drivers to run them against it.

``sdk_server`` is one server for the whole session (SQLite, a free loopback port, started from
this checkout's ``src``); tests keep out of each other's way by using fresh identities and
channels (:func:`fresh`). ``drivers(sdk)`` gives a fresh driver process for one SDK (started
ahead of need, :class:`DriverPool`) and closes it at the end of the test; one process holds every
client of a test (``create`` names each). :func:`serving` starts more servers (other flags, a
PostgreSQL database shared by several nodes) for tests that need their own. Screenshots of
the browser-bundle tests (``shots``) go beside the browser tests' own, not inside them, since
those tests empty their folder when they start.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from twilio.rest import Client

from hubbub.tokens import AccessToken, ChatGrant
from tests.browser.conftest import SCREENSHOTS, Shots
from tests.realtime.test_crash import free_port
from tests.twilio_sdk.driver import Driver
from tests.web.server import twilio_client

ROOT = Path(__file__).resolve().parents[2]
#: ``hubbub`` beside the interpreter running pytest; its package comes from this checkout's
#: ``src`` (put first on PYTHONPATH), whatever the environment has installed.
HUBBUB = Path(sys.executable).with_name("hubbub")


@dataclass
class SdkServer:
    """One running ``hubbub serve``: where it is, its first-start credentials, a twilio-python
    client for its REST API, and tokens for its Chat Service."""

    url: str
    credentials: dict[str, str]
    rest: Client
    workdir: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def ws_uri(self) -> str:
        """The twilsock address the SDKs are given (``options.twilsock.uri``)."""
        return self.url.replace("http://", "ws://", 1) + "/v3/wsconnect"

    @property
    def service_sid(self) -> str:
        return self.credentials["chat_service_sid"]

    @property
    def chat(self) -> Any:
        """The REST API's Chat Service (``rest.chat.v2.services(sid)``)."""
        return self.rest.chat.v2.services(self.service_sid)

    def token(
        self,
        identity: str,
        ttl: int = 3600,
        *,
        service_sid: str | None = None,
        push_credential_sid: str | None = None,
    ) -> str:
        """An Access Token for ``identity`` with a Chat grant for the service (or another),
        naming the push credential if given."""
        grant = ChatGrant(
            service_sid=service_sid or self.service_sid, push_credential_sid=push_credential_sid
        )
        creds = self.credentials
        token = AccessToken(
            creds["account_sid"],
            creds["api_key_sid"],
            creds["api_key_secret"],
            grants=[grant],
            identity=identity,
            ttl=ttl,
        )
        return token.to_jwt()

    def connect(
        self,
        driver: Driver,
        client: str,
        identity: str | None = None,
        *,
        service_sid: str | None = None,
        push_credential_sid: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """``create`` a client named ``client`` in ``driver`` as ``identity`` (its name unless
        given) and wait for it to initialise; returns the driver's answer."""
        token = self.token(
            identity or client, service_sid=service_sid, push_credential_sid=push_credential_sid
        )
        result: dict[str, Any] = driver.call(
            "create", client=client, token=token, uri=self.ws_uri, **options
        )
        return result

    @property
    def log(self) -> str:
        """What the server wrote on stderr so far."""
        path = self.workdir / f"serve-{self.port}.err"
        return path.read_text(encoding="utf-8", errors="replace")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "TWILIO_"))}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return env


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:  # noqa: S310
                answer.read()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(
                    f"hubbub serve died while starting:\n{log.read_text()}"
                ) from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"hubbub serve did not start:\n{log.read_text()}") from None
            time.sleep(0.1)


@contextmanager
def serving(workdir: Path, *extra: str) -> Iterator[SdkServer]:
    """``hubbub serve`` in ``workdir`` (SQLite there unless ``extra`` says ``--db``) on a free
    loopback port, until the block ends; the server must not have logged a traceback. Servers
    started in one directory share its master key and first-start credentials."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    workdir.mkdir(parents=True, exist_ok=True)
    # One log per server: several may share a directory (nodes of one PostgreSQL database).
    log = workdir / f"serve-{port}.err"
    # stderr to a file, not a pipe: a session-long server must never block on a full pipe.
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [str(HUBBUB), "serve", "--port", str(port), *extra],
            cwd=workdir,
            env=_environment(),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        _wait_healthy(process, url, log)
        creds = json.loads((workdir / "hubbub-credentials.json").read_text())
        rest = twilio_client(url, creds["account_sid"], creds["auth_token"])
        yield SdkServer(url=url, credentials=creds, rest=rest, workdir=workdir, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    logged = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in logged, logged


@pytest.fixture(scope="session")
def sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SdkServer]:
    """One ``hubbub serve`` on SQLite for the session's SDK tests (its first-start service has
    reachability on)."""
    with serving(tmp_path_factory.mktemp("hubbub-sdk")) as server:
        yield server


class DriverPool:
    """Driver processes started ahead of need, one per SDK, while tests run: loading an SDK
    takes Node.js about half a second, which a test then does not wait for. Each driver is
    handed out once, fresh; a new one starts in its place."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="driver-pool")
        self._spares: dict[str, Future[Driver]] = {}

    def take(self, sdk: str) -> Driver:
        spare = self._spares.pop(sdk, None)
        driver = spare.result() if spare is not None else Driver(sdk)
        self._spares[sdk] = self._executor.submit(Driver, sdk)
        return driver

    def close(self) -> None:
        for spare in self._spares.values():
            # A spare that failed to start has nothing to close.
            with suppress(Exception):
                spare.result().close()
        self._executor.shutdown()


@pytest.fixture(scope="session")
def driver_pool() -> Iterator[DriverPool]:
    pool = DriverPool()
    yield pool
    pool.close()


@pytest.fixture
def drivers(driver_pool: DriverPool) -> Iterator[Callable[[str], Driver]]:
    """``drivers(sdk)`` gives a fresh driver for ``sdk`` (no clients yet); every one given is
    closed when the test ends."""
    started: list[Driver] = []

    def start(sdk: str) -> Driver:
        driver = driver_pool.take(sdk)
        started.append(driver)
        return driver

    yield start
    for driver in started:
        driver.close()


@pytest.fixture
def fresh() -> Callable[[str], str]:
    """``fresh("alice")`` is a name no other test uses (``alice-1a2b3c4d``): for identities and
    unique names on the shared server."""

    def name(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return name


SDK_SCREENSHOTS = SCREENSHOTS.parent / "twilio-sdk-browser"
_TAKEN = pytest.StashKey[bool]()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    """Numbered screenshots of this test's pages, in ``SDK_SCREENSHOTS/<test name>/``."""
    folder = SDK_SCREENSHOTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    request.config.stash[_TAKEN] = True
    return Shots(folder)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if terminalreporter.config.stash.get(_TAKEN, False):
        terminalreporter.write_line(f"twilio SDK browser screenshots: {SDK_SCREENSHOTS}")
