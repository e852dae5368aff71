"""Real headless Chromium (Debian's, driven by Playwright) against a real hubbub server.

Screenshots of every step go to ``.cache/screenshots/browser/`` (or ``$HUBBUB_SCREENSHOTS``);
the path is printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Page, Playwright, WebSocket, sync_playwright

from hubbub.auth.passwords import Passwords
from hubbub.chat.provision import Credentials, new_account
from hubbub.crypto import SecretBox
from hubbub.media.blobs import DiskBlobs
from hubbub.media.setup import recorder
from hubbub.media.signing import Signer
from hubbub.store import open_store
from hubbub.web.app import create_app
from hubbub.web.tokenserver import TokenSettings
from tests.web.server import running

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("HUBBUB_CHROMIUM", "/usr/bin/chromium")
# No sandbox: CI runs as root in a container. The rest keeps Chromium off the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(os.environ.get("HUBBUB_SCREENSHOTS", ROOT / ".cache/screenshots/browser"))

#: Tokens live this long (s) and sessions are warned this long before expiry: renewal
#: happens every few seconds while the test runs.
TOKEN_TTL = 8
TOKEN_WARNING = 5.0
#: The people who sign in. Each test has its own, so that one test's channels and presence do
#: not show in another's (the server is shared by the module); no name contains another.
PASSWORDS = {
    "alice": "alice-pass-1",
    "bob": "bob-pass-2",
    "carol": "carol-pass-3",
    "nina": "nina-pass-4",
    "omar": "omar-pass-5",
    "rosa": "rosa-pass-6",
    "kate": "kate-pass-7",
    "tina": "tina-pass-8",
    "xena": "xena-pass-9",
    "yuri": "yuri-pass-10",
    "zara": "zara-pass-11",
    "ivan": "ivan-pass-12",
    "hugo": "hugo-pass-13",
}


@dataclass
class ChatServer:
    """A running hubbub with its token server; ``rest`` calls the REST API as the account."""

    base_url: str
    creds: Credentials
    http: httpx.Client

    def rest(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}/v2/Services/{self.creds.chat_service_sid}{path}"
        auth = (self.creds.account_sid, self.creds.auth_token)
        response = self.http.request(method, url, auth=auth, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and the asyncio tests that run after these would find it there.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        install_chromium()
    # Never a downloaded browser: Debian's Chromium, named by path.
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def install_chromium() -> None:
    """Debian's Chromium, installed as scripts/test does when these tests run on their own."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
    ):
        subprocess.run(command, check=True, env=env, capture_output=True, timeout=900)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"installed Debian's chromium, yet there is nothing at {CHROMIUM}")


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    folder = tmp_path_factory.mktemp("browser")
    store = open_store(f"sqlite:///{folder / 'hubbub.db'}")
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    # Built-in users, as `hubbub users add` makes them: argon2 hashes in the store.
    passwords = Passwords()
    for name, password in PASSWORDS.items():
        store.create_login_user(name, identity=name, password_hash=passwords.hash(password))
    # Tokens are renewed every few seconds here, far more often than the default limits (made
    # for tokens that last an hour) expect from one identity.
    settings = TokenSettings(
        ttl=TOKEN_TTL,
        max_ttl=TOKEN_TTL,
        token_rate_identity=(600, 60.0),
        token_rate_address=(6000, 60.0),
    )
    # The media service, with uploads on disk, as `hubbub serve` has it.
    media = (DiskBlobs(folder / "media", recorder(store)), Signer(os.urandom(32)))
    app = create_app(store, box, token_warning=TOKEN_WARNING, token_settings=settings, media=media)
    with running(app) as base_url, httpx.Client(timeout=10) as http:
        server = ChatServer(base_url, creds, http)
        # Presence needs the Chat Service to track reachability.
        server.rest("POST", "", data={"ReachabilityEnabled": "true"})
        yield server
    store.close()


@pytest.fixture(scope="session")
def screenshot_root() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


class Shots:
    """Numbered screenshots of the pages of one test, in the order the steps happen."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def __call__(self, page: Page, step: str) -> None:
        self.count += 1
        page.screenshot(path=self.folder / f"{self.count:02d}-{step}.png", full_page=True)


@pytest.fixture
def shots(screenshot_root: Path, request: pytest.FixtureRequest) -> Shots:
    folder = screenshot_root / request.node.name
    folder.mkdir()
    return Shots(folder)


@dataclass
class Wire:
    """The page's WebSockets and every frame they carried (JSON-decoded)."""

    sockets: list[WebSocket] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)

    def watch(self, page: Page) -> Wire:
        page.on("websocket", self._opened)
        return self

    def _opened(self, socket: WebSocket) -> None:
        self.sockets.append(socket)
        socket.on("framesent", lambda payload: self.sent.append(json.loads(payload)))
        socket.on("framereceived", lambda payload: self.received.append(json.loads(payload)))

    def sent_of(self, kind: str) -> list[dict[str, Any]]:
        return [frame for frame in self.sent if frame.get("type") == kind]

    def pushes(self, kind: str) -> list[dict[str, Any]]:
        return [frame for frame in self.received if frame.get("type") == kind]

    def reply_to(self, command: dict[str, Any]) -> dict[str, Any] | None:
        for frame in self.received:
            if frame.get("type") == "reply" and frame.get("id") == command["id"]:
                return frame
        return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.iterdir()):
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS}")
