"""The upstream check against a real little app on a loopback port: up, refusing, down, hung."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hubbub.store import Store
from tests.auth.conftest import Server, plain_client
from tests.support import twilio_error
from tests.web.server import running

ANSWERS: dict[str, Any] = {
    "alice-session": {"identity": "alice@corp"},
    "short-session": {"identity": "carol", "ttl": 120},
    "admin-session": {"identity": "boss", "role": "service admin"},
    "bad-role-session": {"identity": "eve", "role": "no such role"},
    "banned-session": 403,
}


class Upstream:
    """The operator's existing app: it knows its own session cookie and its API keys."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        #: Set when the test is over: until then /hang does not answer.
        self.released = threading.Event()

    async def whoami(self, request: Request) -> Response:
        self.calls.append(dict(request.headers))
        session = request.cookies.get("app_session", "")
        if request.headers.get("authorization") == "Bearer app-key-1":
            session = "alice-session"
        answer = ANSWERS.get(session)
        if answer is None:
            return Response(status_code=401)
        if answer == 403:
            return Response(status_code=403)
        return JSONResponse(answer)

    async def hang(self, request: Request) -> Response:
        await asyncio.to_thread(self.released.wait, 30)
        return JSONResponse({"identity": "late"})

    async def broken(self, request: Request) -> Response:
        return Response("oops", status_code=500)

    async def slow(self, request: Request) -> Response:
        self.calls.append(dict(request.headers))
        await asyncio.sleep(0.3)
        return JSONResponse({"identity": "alice@corp"})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/whoami", self.whoami),
                Route("/hang", self.hang),
                Route("/broken", self.broken),
                Route("/slow", self.slow),
            ]
        )


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, str]]:
    app = Upstream()
    with running(app.app()) as url:
        yield app, url
        app.released.set()


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()  # nothing listens there any more
    return port


def upstream_server(serve: Callable[..., Server], store: Store, url: str, **changes: Any) -> Server:
    return serve(store, auth=("users", "upstream"), upstream_url=url, **changes)


def test_the_upstream_names_the_identity_and_its_answers_are_cached(
    store: Store, serve: Callable[..., Server], upstream: tuple[Upstream, str]
) -> None:
    app, url = upstream
    server = upstream_server(serve, store, f"{url}/whoami", upstream_cache=60.0)

    for _ in range(3):
        response = server.token("app_session=alice-session")
        assert response.status_code == 200
        assert response.json()["identity"] == "alice@corp"
    assert len(app.calls) == 1  # cached
    assert app.calls[0]["cookie"] == "app_session=alice-session"

    by_key = server.client.post("/token", headers={"Authorization": "Bearer app-key-1"})
    assert by_key.json()["identity"] == "alice@corp"
    assert app.calls[1]["authorization"] == "Bearer app-key-1"

    assert server.token("app_session=unknown").status_code == 401
    assert server.client.post("/token").status_code == 401
    assert len(app.calls) == 3  # no headers to forward: the upstream is not asked


def test_the_upstream_may_shorten_the_token_and_refuse(
    store: Store, serve: Callable[..., Server], upstream: tuple[Upstream, str]
) -> None:
    _, url = upstream
    server = upstream_server(serve, store, f"{url}/whoami")

    short = server.token("app_session=short-session", params={"ttl": "3000"})
    assert (short.json()["identity"], short.json()["ttl"]) == ("carol", 120)
    refused = server.token("app_session=banned-session")
    assert refused.status_code == 403
    assert refused.json()["status"] == 403


def test_the_role_the_upstream_names_is_given_to_the_user(
    store: Store, serve: Callable[..., Server], upstream: tuple[Upstream, str]
) -> None:
    _, url = upstream
    server = upstream_server(serve, store, f"{url}/whoami")
    service = server.creds.chat_service_sid
    admin = next(r for r in store.list_roles(service).items if r.friendly_name == "service admin")

    assert server.token("app_session=admin-session").status_code == 200
    assert store.get_user(service, "boss").role_sid == admin.sid
    assert server.token("app_session=bad-role-session").status_code == 403


def test_a_down_upstream_gives_503(
    store: Store, serve: Callable[..., Server], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    server = upstream_server(serve, store, f"http://127.0.0.1:{closed_port()}/whoami")

    response = server.token("app_session=alice-session")
    assert response.status_code == 503
    twilio_error(response.json(), 503, 20503)
    assert "alice-session" not in caplog.text


def test_a_hung_upstream_times_out_with_503(
    store: Store, serve: Callable[..., Server], upstream: tuple[Upstream, str]
) -> None:
    _, url = upstream
    server = upstream_server(serve, store, f"{url}/hang", upstream_timeout=0.3)

    response = server.token("app_session=alice-session")
    assert response.status_code == 503
    assert "in time" in response.json()["message"]
    assert response.elapsed.total_seconds() < 5  # the upstream never answers


def test_an_upstream_error_gives_503(
    store: Store, serve: Callable[..., Server], upstream: tuple[Upstream, str]
) -> None:
    _, url = upstream
    server = upstream_server(serve, store, f"{url}/broken")
    assert server.token("app_session=alice-session").status_code == 503


def test_built_in_users_still_sign_in_before_the_upstream(
    store: Store, serve: Callable[..., Server], upstream: tuple[Upstream, str]
) -> None:
    app, url = upstream
    server = upstream_server(serve, store, f"{url}/whoami")
    cookie = server.login()
    assert server.token(cookie).json()["identity"] == "alice"
    assert app.calls == []


@pytest.fixture
def dribbling() -> Iterator[str]:
    """An upstream on 127.0.0.1 that answers 200 at once, then sends its body one byte every
    0.2 s: never silent long enough for a per-read timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    stop = threading.Event()
    body = b'{"identity": "late"}' + b" " * 40

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)
            )
            for byte in body:
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:  # the client gave up
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/whoami"
    stop.set()
    thread.join()
    listener.close()


def test_a_dribbling_upstream_meets_a_deadline_for_the_whole_answer(
    store: Store, serve: Callable[..., Server], dribbling: str
) -> None:
    server = upstream_server(serve, store, dribbling, upstream_timeout=0.5)
    started = time.monotonic()
    response = server.token("app_session=alice-session")
    assert response.status_code == 503
    assert response.json()["code"] == 20503
    assert "in time" in response.json()["message"]
    assert time.monotonic() - started < 6  # the whole body would take 12 s


def test_concurrent_identical_misses_ask_the_upstream_once(
    store: Store, serve: Callable[..., Server], upstream: tuple[Upstream, str]
) -> None:
    app, url = upstream
    server = upstream_server(serve, store, f"{url}/slow")

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            answers = await asyncio.gather(
                *(
                    client.post("/token", headers={"Cookie": "app_session=alice-session"})
                    for _ in range(10)
                )
            )
        return [answer.status_code for answer in answers]

    assert asyncio.run(burst()) == [200] * 10
    assert len(app.calls) == 1


def test_headers_that_are_not_ascii_are_forwarded_as_they_came(
    store: Store, serve: Callable[..., Server], upstream: tuple[Upstream, str]
) -> None:
    app, url = upstream
    server = upstream_server(serve, store, f"{url}/whoami")
    latin = {"Cookie": "app_session=caf\xe9".encode("latin-1")}
    with plain_client(server.url) as client:
        response = client.post("/token", headers=latin)
    assert response.status_code == 401  # the upstream does not know that session
    assert len(app.calls) == 1
