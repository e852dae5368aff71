"""Sign-ins under pressure: concurrent guesses, the password check's memory, lockouts, rehashes
and malformed bodies, over a real server and database."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from hubbub.auth.cookies import SessionCookies
from hubbub.auth.passwords import Passwords
from hubbub.store import Store
from tests.auth.conftest import COOKIE_KEY, PASSWORD, PASSWORDS, Server
from tests.support import twilio_error


class SlowPasswords(Passwords):
    """Real argon2id (the tests' cheap settings) that takes ``delay`` seconds a check, as the
    default settings do on a busy machine, and counts how many checks run at once. With
    ``gated``, a check waits instead until the test opens ``gate``."""

    def __init__(self, delay: float = 0.2, *, gated: bool = False) -> None:
        super().__init__(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        self.delay = delay
        self.gated = gated
        self.gate = threading.Event()
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def check(self, stored: str | None, password: str) -> bool:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            if self.gated:
                self.gate.wait(30)
            else:
                time.sleep(self.delay)
            return super().check(stored, password)
        finally:
            with self._lock:
                self.running -= 1


def at_once(
    url: str,
    bodies: list[dict[str, Any]],
    address: str = "127.0.0.1",
    *,
    gate: threading.Event | None = None,
    answered: int = 0,
) -> list[httpx.Response]:
    """POST every body to /login at the same moment, each on its own connection from
    ``address``; the answers, in order. With ``gate``: opened once ``answered`` answers are in
    (the rest wait on it), or after 10 s when they never come."""

    async def run() -> list[httpx.Response]:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(
            base_url=url, transport=transport, limits=limits, timeout=30
        ) as client:
            posts = [asyncio.ensure_future(client.post("/login", json=b)) for b in bodies]
            if gate is not None:
                try:
                    async with asyncio.timeout(10):
                        while sum(post.done() for post in posts) < answered:
                            await asyncio.wait(posts, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    gate.set()
            return list(await asyncio.gather(*posts))

    return asyncio.run(run())


def from_address(url: str, address: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, transport=httpx.HTTPTransport(local_address=address), timeout=10
    )


def test_simultaneous_wrong_passwords_are_limited_like_sequential_ones(
    store: Store, serve: Callable[..., Server]
) -> None:
    # The default limits: 5 failures per username and address, 30 per address.
    # The checks let through wait until every other guess is answered: all are in flight at once.
    passwords = SlowPasswords(gated=True)
    server = serve(store, passwords=passwords, password_wait=30.0)
    guesses = [{"username": "alice", "password": "guess"}] * 60
    answers = at_once(server.url, guesses, gate=passwords.gate, answered=55)
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) == 5
    assert statuses.count(429) == 55

    # Many usernames from one address: the address limit holds just as well.
    passwords.gate.clear()
    names = [{"username": f"user{i}", "password": "guess"} for i in range(60)]
    answers = at_once(server.url, names, "127.0.0.3", gate=passwords.gate, answered=30)
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) == 30


def test_a_right_password_gives_its_attempt_back(
    store: Store, serve: Callable[..., Server]
) -> None:
    server = serve(store, login_rate_username=(2, 300.0))
    for _ in range(5):  # more sign-ins than the limit: none of them failed
        server.login()
    wrong = server.client.post("/login", json={"username": "alice", "password": "x"})
    assert wrong.status_code == 401
    assert server.login()  # one failure counted, one try left


def test_password_checks_run_a_few_at_a_time(store: Store, serve: Callable[..., Server]) -> None:
    passwords = SlowPasswords(delay=0.1)
    server = serve(
        store,
        passwords=passwords,
        password_checks=2,
        login_rate_username=None,
        login_rate_address=None,
    )
    answers = at_once(server.url, [{"username": f"u{i}", "password": "p"} for i in range(12)])
    assert [answer.status_code for answer in answers] == [401] * 12  # the others waited their turn
    assert passwords.most == 2


def test_too_many_waiting_password_checks_get_503(
    store: Store, serve: Callable[..., Server]
) -> None:
    passwords = SlowPasswords(delay=0.5)
    server = serve(
        store,
        passwords=passwords,
        password_checks=1,
        password_wait=0.1,
        login_rate_username=None,
        login_rate_address=None,
    )
    answers = at_once(server.url, [{"username": f"u{i}", "password": "p"} for i in range(4)])
    assert sorted(answer.status_code for answer in answers) == [401, 503, 503, 503]
    assert passwords.most == 1
    busy = next(answer for answer in answers if answer.status_code == 503)
    assert busy.headers["retry-after"] == "1"
    twilio_error(busy.json(), 503, 20503)


def test_failures_elsewhere_do_not_lock_out_the_right_password(
    store: Store, serve: Callable[..., Server]
) -> None:
    server = serve(store, login_rate_username=(3, 300.0))
    with from_address(server.url, "127.0.0.2") as attacker:
        for _ in range(3):
            wrong = attacker.post("/login", json={"username": "alice", "password": "guess"})
            assert wrong.status_code == 401
        # That address is stopped, for alice...
        locked = attacker.post("/login", json={"username": "alice", "password": PASSWORD})
        assert locked.status_code == 429
    # ...but alice, from an address that has not been failing, still signs in.
    assert server.login()


def test_a_ceiling_for_each_username_spares_addresses_it_signed_in_from(
    store: Store, serve: Callable[..., Server]
) -> None:
    server = serve(store, login_rate_username=(2, 300.0), login_rate_username_total=(4, 300.0))
    assert server.login()  # alice's usual address: 127.0.0.1
    for address in ("127.0.0.2", "127.0.0.3"):  # guesses from many addresses
        with from_address(server.url, address) as attacker:
            for _ in range(2):
                guess = attacker.post("/login", json={"username": "alice", "password": "x"})
                assert guess.status_code == 401
    with from_address(server.url, "127.0.0.4") as newcomer:
        right = newcomer.post("/login", json={"username": "alice", "password": PASSWORD})
        assert right.status_code == 429  # no more tries for alice from new addresses
    assert server.login()  # where alice signed in before, she still can


def test_a_rehash_at_sign_in_keeps_the_other_sessions(
    any_store: Store, serve: Callable[..., Server]
) -> None:
    server = serve(any_store)
    weaker = Passwords(PasswordHasher(time_cost=1, memory_cost=512, parallelism=1))
    any_store.create_login_user("carol", identity="carol", password_hash=weaker.hash(PASSWORD))
    old_hash = any_store.get_login_user("carol").password_hash
    assert PASSWORDS.needs_rehash(old_hash)
    # Signed in on the phone before the operator raised the argon2 settings.
    value, secret_hash = SessionCookies([COOKIE_KEY]).new()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    any_store.create_login_session("carol", secret_hash=secret_hash, expires_at=tomorrow)
    phone = f"hubbub_session={value}"
    assert server.token(phone).status_code == 200

    laptop = server.login("carol")  # the stored hash is brought up to date meanwhile
    new_hash = any_store.get_login_user("carol").password_hash
    assert new_hash != old_hash
    assert not PASSWORDS.needs_rehash(new_hash)
    assert PASSWORDS.check(new_hash, PASSWORD)
    assert server.token(phone).status_code == 200
    assert server.token(laptop).status_code == 200


def test_a_rehash_never_undoes_a_password_change(any_store: Store) -> None:
    rehash = any_store.rehash_login_user  # type: ignore[attr-defined]
    any_store.create_login_user("dan", identity="dan", password_hash="old")
    any_store.update_login_user("dan", password_hash="changed by the operator")
    assert rehash("dan", old_hash="old", new_hash="old, rehashed") is False
    assert any_store.get_login_user("dan").password_hash == "changed by the operator"
    assert rehash("dan", old_hash="changed by the operator", new_hash="rehashed") is True
    assert any_store.get_login_user("dan").password_hash == "rehashed"
    assert rehash("nobody", old_hash="x", new_hash="y") is False


DEEP = b'{"username": "alice", "password": "x", "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize(
    "body",
    [
        DEEP,
        b'{"username": "\\ud800", "password": "x"}',
        b'{"username": "alice", "password": "\\ud800"}',
        b'{"username": "al\\u0000ice", "password": "x"}',
        b'{"username": "' + b"a" * 257 + b'", "password": "x"}',
        b'{"username": "alice", "password": ["x"]}',
        b'{"username": "alice", "password": "x"',
    ],
)
def test_malformed_sign_ins_get_400(
    any_store: Store, serve: Callable[..., Server], body: bytes
) -> None:
    server = serve(any_store)
    response = server.client.post(
        "/login", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    twilio_error(response.json(), 400, 20001)
