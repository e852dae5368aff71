"""The I/O-free pieces: cookie signing, rate-limit buckets, token lifetimes, upstream answers."""

from __future__ import annotations

import tracemalloc

import pytest

from hubbub.auth import Authorization
from hubbub.auth.cookies import (
    SessionCookies,
    clear_cookie,
    cookie_values,
    derive_key,
    same_origin,
    secret_hash,
    set_cookie,
)
from hubbub.auth.limits import LoginLimits, RateLimit, parse_rate
from hubbub.auth.policy import grant_ttl, parse_ttl
from hubbub.auth.upstream import parse_answer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_cookie_opens_to_the_hash_the_server_stored() -> None:
    cookies = SessionCookies([b"k" * 32])
    value, stored = cookies.new()

    assert cookies.open(value) == stored
    secret = value.split(".")[0]
    assert stored == secret_hash(secret)
    assert secret not in stored


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),  # the MAC
        lambda v: ("A" if v[0] != "A" else "B") + v[1:],  # the secret
        lambda v: v.split(".")[0],  # no MAC
        lambda v: "." + v.split(".")[1],  # no secret
        lambda v: v + "x" * 300,  # absurdly long
        lambda v: v.replace(".", ".."),
    ],
)
def test_altered_cookies_do_not_open(change: object) -> None:
    cookies = SessionCookies([b"k" * 32])
    value, _ = cookies.new()
    assert callable(change)
    assert cookies.open(change(value)) is None


def test_keys_rotate_newest_first() -> None:
    old, new = b"o" * 32, b"n" * 32
    value, stored = SessionCookies([old]).new()

    rotated = SessionCookies([new, old])
    assert rotated.open(value) == stored
    fresh, _ = rotated.new()
    assert SessionCookies([new]).open(fresh) is not None
    assert SessionCookies([old]).open(fresh) is None


def test_derived_keys_depend_on_the_newest_master_key_and_purpose() -> None:
    assert derive_key("a,b") == derive_key("a c")
    assert derive_key("a") != derive_key("b")
    assert derive_key("a", "x") != derive_key("a", "y")


def test_cookie_headers() -> None:
    assert cookie_values("a=1; hubbub_session=abc.def; b=2", "hubbub_session") == ["abc.def"]
    assert cookie_values("hubbub_sessionx=1; xhubbub_session=2", "hubbub_session") == []
    assert cookie_values("hubbub_session=a;hubbub_session=b", "hubbub_session") == ["a", "b"]
    assert cookie_values('hubbub_session="a"', "hubbub_session") == ["a"]
    assert cookie_values("__Host-hubbub_session=a", "hubbub_session") == []
    assert cookie_values("__Host-hubbub_session=a", "__Host-hubbub_session") == ["a"]
    # Over https the name carries the __Host- prefix: host-only, Secure, Path=/, no Domain.
    assert set_cookie("v", max_age=60, secure=True) == (
        "__Host-hubbub_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
    )
    assert set_cookie("v", max_age=60, secure=False) == (
        "hubbub_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
    )
    assert clear_cookie(secure=False).startswith("hubbub_session=; Path=/; Max-Age=0;")
    assert clear_cookie(secure=True).startswith("__Host-hubbub_session=; Path=/; Max-Age=0;")


def test_same_origin() -> None:
    assert same_origin(None, "http", "h:1")
    assert same_origin("http://h:1", "http", "h:1")
    assert same_origin("HTTP://H:1", "http", "h:1")
    assert not same_origin("https://h:1", "http", "h:1")
    assert not same_origin("null", "http", "h:1")
    assert not same_origin("http://h:1", "http", None)


def test_bucket_allows_a_burst_then_refills_with_time() -> None:
    clock = Clock()
    limit = RateLimit(3, 30.0, clock=clock)

    assert [limit.take("a") for _ in range(3)] == [0, 0, 0]
    assert limit.take("a") == 10  # one token per 10 s
    assert limit.take("b") == 0  # keys are independent
    clock.now += 9.5
    assert limit.retry_after("a") == 1
    clock.now += 0.5
    assert limit.retry_after("a") == 0
    assert limit.take("a") == 0
    assert limit.take("a") == 10


def test_retry_after_takes_nothing() -> None:
    limit = RateLimit(1, 60.0, clock=Clock())
    assert limit.retry_after("a") == 0
    assert limit.retry_after("a") == 0
    assert limit.take("a") == 0
    assert limit.retry_after("a") == 60


def test_an_attempt_given_back_is_not_counted() -> None:
    clock = Clock()
    limit = RateLimit(2, 60.0, clock=clock)
    assert limit.take("a") == 0
    limit.give_back("a")
    limit.give_back("a")  # never above the burst
    limit.give_back("never taken")
    assert [limit.take("a") for _ in range(3)] == [0, 0, 30]


def test_sign_in_attempts_count_before_the_check_and_per_address() -> None:
    clock = Clock()
    limits = LoginLimits((2, 60.0), (3, 60.0), (4, 60.0), remember=3600.0, clock=clock)
    first = limits.begin("alice", "10.0.0.1")
    second = limits.begin("alice", "10.0.0.1")
    assert (first[0], second[0]) == (0, 0)
    # Both still being checked, a third from there waits: counted before the check.
    assert limits.begin("alice", "10.0.0.1") == (30, ())
    # Another address is not stopped by those, and a right password gives its attempt back.
    other = limits.begin("alice", "10.0.0.2")
    assert other[0] == 0
    limits.succeeded("alice", "10.0.0.2", other[1])
    assert limits.begin("alice", "10.0.0.3")[0] == 0
    assert limits.begin("alice", "10.0.0.4")[0] == 0  # the ceiling: 4 for alice, now all used
    assert limits.begin("alice", "10.0.0.8")[0] == 15
    # The address alice signed in from skips the ceiling.
    assert limits.begin("alice", "10.0.0.2")[0] == 0
    # Attempts that were never checked are given back.
    waited = limits.begin("bob", "10.0.0.5")
    limits.forgive(waited[1])
    assert [limits.begin("bob", "10.0.0.5")[0] for _ in range(3)] == [0, 0, 30]
    # An address is stopped per address, whatever the username.
    assert limits.begin("carol", "10.0.0.5")[0] == 0
    assert limits.begin("dave", "10.0.0.5")[0] == 20
    clock.now += 3600.5  # alice's address is forgotten after ``remember``
    for address in ("10.0.0.6", "10.0.0.7"):
        for _ in range(2):
            assert limits.begin("alice", address)[0] == 0
    assert limits.begin("alice", "10.0.0.2")[0] == 15


def test_refused_and_forgiven_sign_ins_leave_nothing_behind() -> None:
    limits = LoginLimits((5, 60.0), (3, 60.0), (5, 60.0), clock=Clock())
    for i in range(3):
        assert limits.begin(f"user{i}", "10.0.0.1")[0] == 0
    held = len(limits)
    # Refused for the address: another username from there is not kept at all.
    for i in range(1000):
        assert limits.begin(f"other{i}", "10.0.0.1") == (20, ())
    assert len(limits) == held
    # An attempt given back in full leaves no bucket either.
    counted = limits.begin("bob", "10.0.0.2")[1]
    limits.forgive(counted)
    assert len(limits) == held


def test_long_usernames_from_many_addresses_keep_the_tables_bounded() -> None:
    clock = Clock()
    limits = LoginLimits((5, 60.0), (5, 60.0), (5, 60.0), clock=clock, max_keys=500)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(2000):
            username = f"{i}" + "x" * 15_000  # a 15 KB username, as a hostile client sends
            address = f"10.{i // 250}.{i % 250}.1"
            assert limits.begin(username, address)[0] == 0
            limits.succeeded(username, address, [])
            clock.now += 0.001
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 2_000_000  # the usernames themselves would be 60 MB
    assert len(limits) <= 4 * 500  # three rate tables and the remembered addresses


def test_a_full_table_forgets_the_least_recently_counted_first() -> None:
    clock = Clock()
    limit = RateLimit(2, 60.0, clock=clock, max_keys=3)
    for key in ("a", "b", "c"):
        assert limit.take(key) == 0
    assert limit.take("a") == 0  # "a" is now the most recent, "b" the oldest
    assert limit.take("d") == 0
    assert len(limit) == 3
    assert limit.retry_after("a") == 30  # kept, with both its attempts
    assert [limit.take("b"), limit.take("b")] == [0, 0]  # forgotten: a fresh bucket


def test_parse_rate() -> None:
    assert parse_rate("10/s") == (10, 1.0)
    assert parse_rate("600/m") == (600, 60.0)
    assert parse_rate("5/300s") == (5, 300.0)
    assert parse_rate("off") is None
    assert parse_rate("0") is None
    for bad in ("10", "x/s", "10/d", "-1/s"):
        with pytest.raises(ValueError, match="rate"):
            parse_rate(bad)


def test_ttl_clamping() -> None:
    assert grant_ttl(None, None, default=3600, maximum=7200) == 3600
    assert grant_ttl(60, None, default=3600, maximum=7200) == 60
    assert grant_ttl(10_000, None, default=3600, maximum=7200) == 7200
    assert grant_ttl(200_000, None, default=3600, maximum=999_999) == 86400
    # What the authenticator grants is both the default and a cap.
    assert grant_ttl(None, 600, default=3600, maximum=7200) == 600
    assert grant_ttl(5000, 600, default=3600, maximum=7200) == 600
    assert grant_ttl(None, 100_000, default=3600, maximum=7200) == 7200


def test_parse_ttl() -> None:
    assert parse_ttl("60") == 60
    assert parse_ttl(60) == 60
    assert parse_ttl(" 60\t") == 60
    for bad in ("0", "-1", "1.5", "", True, 1.5, None, "9" * 20, "١٢", "１２", "6\u00a0", "1_0"):
        with pytest.raises(ValueError, match="ttl"):
            parse_ttl(bad)


def test_upstream_answers() -> None:
    assert parse_answer({"identity": "a"}) == Authorization("a")
    assert parse_answer({"identity": "a", "ttl": 60, "role": "admin"}) == Authorization(
        "a", 60, "admin"
    )
    for bad in ([], {"identity": ""}, {"identity": 1}, {"identity": "a", "ttl": "60"}):
        with pytest.raises(ValueError, match=r"identity|ttl|object"):
            parse_answer(bad)
