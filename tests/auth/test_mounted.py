"""The token endpoint mounted inside someone else's Starlette app, with a Python hook."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from hubbub.auth import Authorization, Refused
from hubbub.chat.provision import Credentials, new_account
from hubbub.crypto import SecretBox, load_master_key
from hubbub.store import Store, open_store
from hubbub.tokens import verify
from hubbub.web.tokenserver import token_app
from tests.auth.conftest import PASSWORD, add_user, plain_client, settings
from tests.web.server import running


def authorize(request: Request) -> Authorization | None:
    """The embedding app's own login: here a header its proxy sets."""
    user = request.headers.get("x-user")
    if user == "mallory":
        raise Refused("mallory may not chat")
    if user:
        return Authorization(user, ttl=300)
    return None


async def authorize_async(request: Request) -> str | None:
    body = await request.body()  # the hook may read the body
    return "bodied" if body == b"ttl=60&who=me" else None


async def home(request: Request) -> Response:
    return PlainTextResponse("the existing app")


@pytest.fixture
def mounted(store: Store, box: SecretBox) -> Iterator[tuple[httpx.Client, Credentials]]:
    creds = new_account(store, box)
    add_user(store)
    app = Starlette(
        routes=[
            Route("/", home),
            Mount("/auth", app=token_app(store, box, settings(), authorize=authorize)),
            Mount("/alt", app=token_app(store, box, settings(auth=()), authorize=authorize_async)),
        ]
    )
    with running(app) as url, plain_client(url) as client:
        yield client, creds


def test_the_mounted_endpoint_mints_for_the_hook(
    mounted: tuple[httpx.Client, Credentials],
) -> None:
    client, creds = mounted
    assert client.get("/").text == "the existing app"

    response = client.post("/auth/token", headers={"X-User": "dave"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert (body["identity"], body["ttl"]) == ("dave", 300)
    assert verify(body["token"], {creds.api_key_sid: creds.api_key_secret}).identity == "dave"

    assert client.post("/auth/token", headers={"X-User": "mallory"}).status_code == 403
    assert client.post("/auth/token").status_code == 401
    assert client.get("/auth/elsewhere").status_code == 404


def test_built_in_users_work_under_the_mount(mounted: tuple[httpx.Client, Credentials]) -> None:
    client, _ = mounted
    login = client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 200
    cookie = login.headers["set-cookie"].split(";")[0]
    assert client.post("/auth/token", headers={"Cookie": cookie}).json()["identity"] == "alice"
    assert client.post("/auth/logout", headers={"Cookie": cookie}).status_code == 204
    assert client.post("/auth/token", headers={"Cookie": cookie}).status_code == 401


def test_an_async_hook_reads_the_body(mounted: tuple[httpx.Client, Credentials]) -> None:
    client, _ = mounted
    response = client.post(
        "/alt/token",
        content=b"ttl=60&who=me",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert (response.json()["identity"], response.json()["ttl"]) == ("bodied", 60)
    # Built-in users are off on this mount.
    assert (
        client.post("/alt/login", json={"username": "alice", "password": PASSWORD}).status_code
        == 404
    )


ROOT = Path(__file__).resolve().parents[2]


def python_blocks(path: Path, containing: str) -> list[str]:
    """The ```python blocks of a Markdown file that contain ``containing``."""
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)
    return [block for block in blocks if containing in block]


async def sign_in(request: Request) -> Response:
    """The embedding app's own sign-in, reduced to storing what it is given in its session."""
    request.session.update(await request.json())
    return Response(status_code=204)


@pytest.mark.parametrize(
    ("document", "signed_in", "identity"),
    [
        ("README.md", {"username": "alice"}, "alice"),
        ("docs/tokenserver.md", {"user": {"email": "alice@example.com"}}, "alice@example.com"),
    ],
)
def test_the_documented_starlette_example_works_as_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    document: str,
    signed_in: dict[str, Any],
    identity: str,
) -> None:
    [example] = [b for b in python_blocks(ROOT / document, "token_app(") if "fastapi" not in b]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUBBUB_MASTER_KEY", raising=False)
    monkeypatch.setenv("SESSION_SECRET", "test-only session secret")
    # What `hubbub init` leaves behind: the database with a Chat Service, and the master key.
    created = open_store("sqlite:///hubbub.db")
    creds = new_account(created, SecretBox(load_master_key("hubbub-master.key")))
    created.close()

    namespace: dict[str, Any] = {"__name__": "example"}
    exec(compile(example, document, "exec"), namespace)  # noqa: S102 - the docs' own code
    app = namespace["app"]
    app.router.routes.append(Route("/signin", sign_in, methods=["POST"]))
    try:
        with running(app) as url, httpx.Client(base_url=url) as client:
            assert client.post("/chat/token").status_code == 401
            assert client.post("/signin", json=signed_in).status_code == 204
            answer = client.post("/chat/token")
            assert answer.status_code == 200, answer.text
            assert answer.json()["identity"] == identity
            secrets = {creds.api_key_sid: creds.api_key_secret}
            assert verify(answer.json()["token"], secrets).identity == identity
            if "banned" in example:
                client.post("/signin", json={"user": {"email": "eve@example.com", "banned": 1}})
                assert client.post("/chat/token").status_code == 403
    finally:
        namespace["store"].close()


def test_the_documented_fastapi_example_compiles() -> None:
    # FastAPI is not a dependency of hubbub or its tests, so this example cannot run here.
    [example] = python_blocks(ROOT / "docs/tokenserver.md", "from fastapi import FastAPI")
    compile(example, "docs/tokenserver.md", "exec")
    assert "add_middleware(SessionMiddleware" in example
