"""Sign in, get tokens, sign out: the built-in users over a real server and database."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt as pyjwt
import pytest

from hubbub.crypto import SecretBox
from hubbub.store import Store, open_store
from hubbub.tokens import verify
from hubbub.web.app import create_app
from tests.auth.conftest import PASSWORD, Clock, Server, add_user, settings
from tests.support import twilio_error
from tests.web.server import running


def test_login_then_token_on_both_backends(any_store: Store, serve: Callable[..., Server]) -> None:
    server = serve(any_store)
    response = server.client.post("/login", json={"username": "alice", "password": PASSWORD})

    assert response.status_code == 200
    assert response.json() == {"identity": "alice"}
    cookie_header = response.headers["set-cookie"]
    assert cookie_header.startswith("hubbub_session=")
    assert "HttpOnly" in cookie_header
    assert "SameSite=Lax" in cookie_header
    assert "Path=/" in cookie_header
    assert "Secure" not in cookie_header  # plain http here
    cookie = cookie_header.split(";")[0]

    for method in ("POST", "GET"):
        answer = server.token(cookie, method)
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        body = answer.json()
        assert set(body) == {"identity", "token", "ttl", "expires_at", "chat_service_sid"}
        assert (body["identity"], body["ttl"]) == ("alice", 3600)
        assert body["chat_service_sid"] == server.creds.chat_service_sid
        checked = verify(
            body["token"],
            {server.creds.api_key_sid: server.creds.api_key_secret},
            account_sid=server.creds.account_sid,
        )
        assert checked.identity == "alice"
        assert checked.grants["chat"] == {"service_sid": server.creds.chat_service_sid}
        claims = pyjwt.decode(body["token"], server.creds.api_key_secret, algorithms=["HS256"])
        assert claims["exp"] - claims["nbf"] == 3600
        assert body["expires_at"] == _iso(claims["exp"])


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def test_form_login_and_wrong_passwords(store: Store, serve: Callable[..., Server]) -> None:
    server = serve(store)
    form = server.client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert form.status_code == 200

    for username, password in (("alice", "wrong"), ("nobody", PASSWORD)):
        refused = server.client.post("/login", json={"username": username, "password": password})
        assert refused.status_code == 401
        assert refused.json()["code"] == 20003
        assert "set-cookie" not in refused.headers
    missing = server.client.post("/login", json={"username": "alice"})
    assert missing.status_code == 400


def test_unauthenticated_forged_and_tampered_cookies_get_401(
    store: Store, serve: Callable[..., Server]
) -> None:
    server = serve(store)
    cookie = server.login()
    name, value = cookie.split("=", 1)
    secret, mac = value.split(".")
    forged_mac = ("A" if mac[0] != "A" else "B") + mac[1:]
    forged_secret = ("A" if secret[0] != "A" else "B") + secret[1:]

    for sent in (
        None,
        f"{name}=",
        f"{name}=garbage",
        f"{name}={secret}.{forged_mac}",
        f"{name}={forged_secret}.{mac}",
        f"{name}={secret}",
    ):
        response = server.client.post("/token", headers={"Cookie": sent} if sent else {})
        assert response.status_code == 401, sent
        body = response.json()
        twilio_error(body, 401, 20003)


def test_a_cookie_signed_with_another_key_is_refused(
    store: Store, box: SecretBox, serve: Callable[..., Server]
) -> None:
    server = serve(store)
    cookie = server.login()
    other = create_app(store, box, token_settings=settings(session_keys=[b"x" * 32]))
    with running(other) as url:
        assert httpx.post(f"{url}/token", headers={"Cookie": cookie}).status_code == 401


def test_logout_ends_the_session_in_every_worker(
    sqlite_url: str, box: SecretBox, serve: Callable[..., Server]
) -> None:
    first = open_store(sqlite_url)
    server = serve(first)
    cookie = server.login()
    # A second worker: its own app, store and connections on the same database file.
    second_store = open_store(sqlite_url)
    second = create_app(second_store, box, token_settings=settings())
    with running(second) as other_url:
        assert httpx.post(f"{other_url}/token", headers={"Cookie": cookie}).status_code == 200

        out = server.client.post("/logout", headers={"Cookie": cookie})
        assert out.status_code == 204
        assert out.headers["set-cookie"].startswith("hubbub_session=;")
        assert "Max-Age=0" in out.headers["set-cookie"]

        # The old cookie, replayed anywhere, right away.
        assert server.token(cookie).status_code == 401
        assert httpx.post(f"{other_url}/token", headers={"Cookie": cookie}).status_code == 401
    second_store.close()
    first.close()


def test_logout_on_postgres_ends_the_session(
    any_store: Store, serve: Callable[..., Server]
) -> None:
    server = serve(any_store)
    cookie = server.login()
    assert server.token(cookie).status_code == 200
    assert server.client.post("/logout", headers={"Cookie": cookie}).status_code == 204
    assert server.token(cookie).status_code == 401


def test_cross_origin_posts_are_refused(store: Store, serve: Callable[..., Server]) -> None:
    server = serve(store)
    cookie = server.login()
    evil = {"Origin": "https://evil.example"}

    refused = server.token(cookie, headers=evil)
    assert refused.status_code == 403
    assert refused.json()["status"] == 403
    login = server.client.post(
        "/login", json={"username": "alice", "password": PASSWORD}, headers=evil
    )
    assert login.status_code == 403
    assert server.client.post("/logout", headers={"Cookie": cookie, **evil}).status_code == 403
    assert server.token(cookie).status_code == 200  # the session survived the forged logout

    own = {"Origin": server.url}
    assert server.token(cookie, headers=own).status_code == 200
    assert server.token(cookie, headers={"Origin": "null"}).status_code == 403


def test_secure_cookie_behind_https(store: Store, serve: Callable[..., Server]) -> None:
    server = serve(store)
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1, as from a TLS-terminating proxy.
    response = server.client.post(
        "/login",
        json={"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert response.status_code == 200
    assert "; Secure" in response.headers["set-cookie"]


def test_ttl_is_clamped_to_the_operator_maximum(store: Store, serve: Callable[..., Server]) -> None:
    server = serve(store, ttl=600, max_ttl=1800)
    cookie = server.login()

    assert server.token(cookie).json()["ttl"] == 600
    assert server.token(cookie, params={"ttl": "60"}).json()["ttl"] == 60
    assert server.token(cookie, params={"ttl": "99999"}).json()["ttl"] == 1800
    assert server.token(cookie, json={"ttl": 900}).json()["ttl"] == 900
    assert server.token(cookie, data={"ttl": "7200"}).json()["ttl"] == 1800
    token = server.token(cookie, params={"ttl": "99999"}).json()["token"]
    claims = pyjwt.decode(token, server.creds.api_key_secret, algorithms=["HS256"])
    assert claims["exp"] - claims["nbf"] == 1800
    for bad in ("0", "-5", "abc", "1.5"):
        response = server.token(cookie, params={"ttl": bad})
        assert response.status_code == 400, bad
        assert response.json()["code"] == 20001


def test_the_maximum_is_never_above_a_day() -> None:
    with pytest.raises(ValueError, match="86400"):
        settings(max_ttl=86401).check()


def test_failed_logins_are_rate_limited(store: Store, serve: Callable[..., Server]) -> None:
    server = serve(store, login_rate_username=(3, 300.0))
    for _ in range(3):
        wrong = server.client.post("/login", json={"username": "alice", "password": "nope"})
        assert wrong.status_code == 401

    limited = server.client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert limited.status_code == 429
    assert limited.json()["code"] == 20429
    assert 1 <= int(limited.headers["retry-after"]) <= 100
    # Another username from the same address is not locked out by alice's failures.
    store.create_login_user(
        "bob", identity="bob", password_hash=store.get_login_user("alice").password_hash
    )
    assert (
        server.client.post("/login", json={"username": "bob", "password": PASSWORD}).status_code
        == 200
    )


def test_failed_logins_are_limited_per_address(store: Store, serve: Callable[..., Server]) -> None:
    server = serve(store, login_rate_username=None, login_rate_address=(2, 60.0))
    for name in ("x", "y"):
        assert (
            server.client.post("/login", json={"username": name, "password": "p"}).status_code
            == 401
        )
    limited = server.client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1


def test_tokens_are_rate_limited_per_identity(store: Store, serve: Callable[..., Server]) -> None:
    server = serve(store, token_rate_identity=(3, 60.0))
    cookie = server.login()
    assert [server.token(cookie).status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = server.token(cookie)
    assert limited.json()["code"] == 20429
    assert int(limited.headers["retry-after"]) >= 1


def test_default_limit_stops_a_runaway_client_after_60_tokens_a_minute(
    store: Store, serve: Callable[..., Server]
) -> None:
    server = serve(store)  # the default limits
    cookie = server.login()
    statuses = [server.token(cookie).status_code for _ in range(61)]
    assert statuses == [200] * 60 + [429]


def test_tokens_are_rate_limited_per_address(store: Store, serve: Callable[..., Server]) -> None:
    server = serve(store, token_rate_address=(2, 60.0))
    cookie = server.login()
    statuses = [server.token(cookie).status_code, server.client.post("/token").status_code]
    limited = server.token(cookie)
    assert (statuses, limited.status_code) == ([200, 401], 429)
    assert int(limited.headers["retry-after"]) >= 1


def test_no_token_password_or_cookie_reaches_the_logs(
    store: Store, serve: Callable[..., Server], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    server = serve(store)
    cookie = server.login()
    token = server.token(cookie).json()["token"]
    server.token(cookie, headers={"Origin": "https://evil.example"})
    server.client.post("/logout", headers={"Cookie": cookie})

    # What the server side logs (the test's own HTTP client logs what it sends and receives).
    server_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in server_records)
    for secret in (token, cookie.split("=", 1)[1], PASSWORD, token.split(".")[2]):
        assert secret not in logged
    # Passwords are stored as argon2id hashes only; the session secret only as a digest.
    database = (tmp_path / "hubbub.db").read_bytes()
    for suffix in ("", "-wal"):
        path = tmp_path / f"hubbub.db{suffix}"
        if path.exists():
            database += path.read_bytes()
    assert PASSWORD.encode() not in database
    assert cookie.split("=", 1)[1].split(".")[0].encode() not in database
    assert store.get_login_user("alice").password_hash.startswith("$argon2id$")


def test_wrong_methods_and_paths(store: Store, serve: Callable[..., Server]) -> None:
    server = serve(store)
    assert server.client.get("/login").status_code == 405
    assert server.client.put("/token").status_code == 405
    assert server.client.get("/healthz").status_code == 200  # the rest of the app still answers


def test_token_requests_are_counted_in_the_metrics(
    store: Store, serve: Callable[..., Server]
) -> None:
    clock = Clock()
    server = serve(store, monotonic=clock)
    cookie = server.login()
    assert server.token(cookie).status_code == 200
    assert server.client.post("/token").status_code == 401
    clock.now += 1.0  # counts reach /metrics at most once a second
    assert server.token(cookie).status_code == 200

    text = server.client.get("/metrics").text
    assert 'hubbub_http_requests_total{method="POST",route="/token",status="200"} 2.0' in text
    assert 'hubbub_http_requests_total{method="POST",route="/token",status="401"} 1.0' in text
    assert 'hubbub_http_request_duration_seconds_count{route="/token"} 3.0' in text


def test_oversized_bodies_are_refused(store: Store, serve: Callable[..., Server]) -> None:
    server = serve(store)
    cookie = server.login()
    response = server.token(cookie, content=b"x" * 20_000)
    assert response.status_code == 413
    assert response.json()["code"] == 20413


def test_a_junk_cookie_before_the_real_one_is_skipped(
    store: Store, serve: Callable[..., Server]
) -> None:
    server = serve(store)
    alice = server.login().split("=", 1)[1]
    for sent in (f"hubbub_session=junk; hubbub_session={alice}", f"hubbub_session={alice}; a=b"):
        response = server.client.post("/token", headers={"Cookie": sent})
        assert response.status_code == 200, sent
        assert response.json()["identity"] == "alice"


def test_two_different_sessions_in_one_request_are_refused(
    store: Store, serve: Callable[..., Server]
) -> None:
    """Cookie tossing: a sibling subdomain sets its own valid session cookie (bob's, say) with a
    wider Domain or a longer Path, so the browser sends it next to, or before, alice's."""
    server = serve(store)
    add_user(store, "bob")
    alice = server.login().split("=", 1)[1]
    bob = server.login("bob").split("=", 1)[1]
    for sent in (
        f"hubbub_session={bob}; hubbub_session={alice}",
        f"hubbub_session={alice}; hubbub_session={bob}",
    ):
        assert server.client.post("/token", headers={"Cookie": sent}).status_code == 401
    # The same cookie twice is one session.
    twice = server.client.post(
        "/token", headers={"Cookie": f"hubbub_session={alice}; hubbub_session={alice}"}
    )
    assert twice.json()["identity"] == "alice"
    # Signing out ends every session the request carried.
    both = f"hubbub_session={bob}; hubbub_session={alice}"
    assert server.client.post("/logout", headers={"Cookie": both}).status_code == 204
    assert server.token(f"hubbub_session={alice}").status_code == 401
    assert server.token(f"hubbub_session={bob}").status_code == 401


def test_over_https_the_cookie_is_host_only_and_the_plain_one_is_ignored(
    store: Store, serve: Callable[..., Server]
) -> None:
    server = serve(store)
    add_user(store, "bob")
    https = {"X-Forwarded-Proto": "https"}  # trusted from 127.0.0.1, as from a TLS proxy
    login = server.client.post(
        "/login", json={"username": "alice", "password": PASSWORD}, headers=https
    )
    set_cookie = login.headers["set-cookie"]
    assert set_cookie.startswith("__Host-hubbub_session=")
    assert "; Secure" in set_cookie
    assert "; Path=/;" in set_cookie
    assert "domain" not in set_cookie.lower()
    alice = set_cookie.split(";")[0]
    bob = server.login("bob")  # over plain http: the plain name

    assert server.token(alice, headers=https).json()["identity"] == "alice"
    # A tossed cookie cannot carry the __Host- prefix, so over https only that name counts.
    tossed = server.token(f"{bob}; {alice}", headers=https)
    assert tossed.json()["identity"] == "alice"
    assert server.token(bob, headers=https).status_code == 401
    assert server.token(alice).status_code == 401  # and over http only the plain one

    out = server.client.post("/logout", headers={"Cookie": alice, **https})
    cleared = out.headers.get_list("set-cookie")
    assert any(c.startswith("__Host-hubbub_session=;") and "Max-Age=0" in c for c in cleared)
    assert server.token(alice, headers=https).status_code == 401


DEEP_JSON = b'{"ttl": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize(
    "body",
    [DEEP_JSON, b'{"ttl": "\\ud800"}', b'{"ttl": "\\u0661\\u0662"}', b'{"ttl": '],
)
def test_malformed_token_requests_get_400(
    store: Store, serve: Callable[..., Server], body: bytes
) -> None:
    server = serve(store)
    cookie = server.login()
    response = server.token(cookie, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    twilio_error(response.json(), 400, 20001)


def test_only_ascii_digits_make_a_ttl(store: Store, serve: Callable[..., Server]) -> None:
    server = serve(store)
    cookie = server.login()
    for digits in ("١٢", "１２", "12\u00a0"):  # Arabic-Indic, full-width, a no-break space
        assert server.token(cookie, params={"ttl": digits}).status_code == 400, digits
    assert server.token(cookie, params={"ttl": " 12 "}).json()["ttl"] == 12
