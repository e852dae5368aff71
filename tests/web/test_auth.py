"""HTTP Basic with Account SID + auth token or API Key SID + secret, and its short memory."""

from __future__ import annotations

import base64

import pytest

from hubbub.chat.errors import ApiError
from hubbub.web.auth import BasicAuth, Principal, parse_basic

ACCOUNT = "AC" + "1" * 32
KEY = "SK" + "2" * 32


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Backing:
    """Real lookups over dictionaries, counting how often the store would be asked."""

    def __init__(self) -> None:
        self.tokens = {ACCOUNT: "hash-of-token"}
        self.keys = {KEY: (ACCOUNT, "the-secret")}
        self.asked = 0

    def account(self, sid: str) -> str | None:
        self.asked += 1
        return self.tokens.get(sid)

    def key(self, sid: str) -> tuple[str, str] | None:
        self.asked += 1
        return self.keys.get(sid)


@pytest.fixture
def backing() -> Backing:
    return Backing()


@pytest.fixture
def clock() -> list[float]:
    return [100.0]


@pytest.fixture
def auth(backing: Backing, clock: list[float]) -> BasicAuth:
    return BasicAuth(
        backing.account,
        backing.key,
        lambda token, stored: stored == f"hash-of-{token}",
        ttl=5.0,
        clock=lambda: clock[0],
    )


def test_account_and_key_credentials(auth: BasicAuth) -> None:
    assert auth.authenticate(basic(ACCOUNT, "token")) == Principal(ACCOUNT, None)
    assert auth.authenticate(basic(KEY, "the-secret")) == Principal(ACCOUNT, KEY)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        basic(ACCOUNT, "wrong"),
        basic(KEY, "wrong"),
        basic("AC" + "9" * 32, "token"),
        basic("someone", "token"),
        "Basic é",
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ],
)
def test_refusals_are_401_20003(auth: BasicAuth, header: str | None) -> None:
    with pytest.raises(ApiError) as caught:
        auth.authenticate(header)
    assert (caught.value.status, caught.value.code) == (401, 20003)


def test_success_is_remembered_briefly_and_forgotten_on_revocation(
    auth: BasicAuth, backing: Backing, clock: list[float]
) -> None:
    header = basic(KEY, "the-secret")
    auth.authenticate(header)
    auth.authenticate(header)
    assert backing.asked == 1
    clock[0] += 6
    auth.authenticate(header)
    assert backing.asked == 2

    del backing.keys[KEY]  # revoked in the store ...
    auth.forget(KEY)  # ... and forgotten here at once
    with pytest.raises(ApiError):
        auth.authenticate(header)


def test_a_wrong_password_is_never_served_from_memory(auth: BasicAuth) -> None:
    auth.authenticate(basic(ACCOUNT, "token"))
    with pytest.raises(ApiError):
        auth.authenticate(basic(ACCOUNT, "token "))


def test_parse_basic_keeps_colons_in_the_password() -> None:
    assert parse_basic(basic(KEY, "a:b:c")) == (KEY, "a:b:c")
