"""A real token server on 127.0.0.1 over a real database, with users and credentials."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from cryptography.fernet import Fernet

from hubbub.auth.passwords import Passwords
from hubbub.chat.provision import Credentials, new_account
from hubbub.crypto import SecretBox
from hubbub.store import Store, open_store
from hubbub.web.app import create_app
from hubbub.web.tokenserver import TokenSettings
from tests.postgres import PostgresDatabases
from tests.web.server import running

PASSWORD = "correct horse battery staple"
COOKIE_KEY = b"k" * 32

# Real argon2id, with a small cost so that a test suite signing in often stays quick.
PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hubbub.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    url = postgres.new()
    yield url
    postgres.drop(url)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    """SQLite, the benchmarked and default backend; tests named ``*_both`` use ``any_store``."""
    opened = open_store(sqlite_url)
    yield opened
    opened.close()


@pytest.fixture
def any_store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.close()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key())


def settings(**changes: Any) -> TokenSettings:
    base = TokenSettings(session_keys=[COOKIE_KEY], passwords=PASSWORDS)
    for name, value in changes.items():
        setattr(base, name, value)
    return base


class Clock:
    """A clock for the token server that only moves when a test moves it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Server:
    url: str
    store: Store
    creds: Credentials
    client: httpx.Client

    def login(self, username: str = "alice", password: str = PASSWORD, **kw: Any) -> str:
        """Sign in; the ``hubbub_session=...`` cookie pair."""
        response = self.client.post(
            "/login", json={"username": username, "password": password}, **kw
        )
        assert response.status_code == 200, response.text
        return response.headers["set-cookie"].split(";")[0]

    def token(self, cookie: str, method: str = "POST", **kw: Any) -> httpx.Response:
        headers = {"Cookie": cookie, **kw.pop("headers", {})}
        return self.client.request(method, "/token", headers=headers, **kw)


ServerFactory = Callable[..., Any]


def add_user(store: Store, username: str = "alice", identity: str | None = None) -> None:
    store.create_login_user(
        username, identity=identity or username, password_hash=PASSWORDS.hash(PASSWORD)
    )


def plain_client(url: str) -> httpx.Client:
    """An HTTP client that never keeps cookies: each test sends exactly the ones it means."""
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.Client(base_url=url, timeout=10, cookies=jar)


@pytest.fixture
def serve(box: SecretBox) -> Iterator[Callable[..., Server]]:
    """``serve(store, **settings)``: a running app with alice signed up; closed after the test.
    With ``monotonic``, the token server's caches, limits and metrics go by that clock."""
    stack: list[Any] = []

    def start(
        store: Store,
        *,
        authorize: Any = None,
        monotonic: Callable[[], float] | None = None,
        **changes: Any,
    ) -> Server:
        creds = new_account(store, box, name="acme")
        add_user(store)
        app = create_app(
            store,
            box,
            token_settings=settings(**changes),
            authorize=authorize,
            monotonic=monotonic or time.monotonic,
        )
        context = running(app)
        url = context.__enter__()
        client = plain_client(url)
        stack.append((context, client))
        return Server(url, store, creds, client)

    yield start
    for context, client in reversed(stack):
        client.close()
        context.__exit__(None, None, None)
