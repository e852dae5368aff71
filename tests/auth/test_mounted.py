"""The token endpoint mounted inside someone else's Starlette app, with a Python hook."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from hubbub.auth import Authorization, Refused
from hubbub.crypto import SecretBox
from hubbub.service.provision import Credentials, new_account
from hubbub.store import Store
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
