"""Which Chat Service and API key tokens are minted with, and how a revoked key is dropped."""

from __future__ import annotations

import time

import httpx
import jwt as pyjwt
from starlette.requests import Request

from hubbub.chat.provision import new_account, new_api_secret
from hubbub.crypto import SecretBox
from hubbub.store import Store
from hubbub.web.tokenserver import TokenServer
from tests.auth.conftest import Clock, plain_client, settings
from tests.web.server import running


def dave(request: Request) -> str:
    return "dave"


def key_of(response: httpx.Response) -> str:
    """The API key that signed the token in a /token answer."""
    assert response.status_code == 200, response.text
    claims = pyjwt.decode(response.json()["token"], options={"verify_signature": False})
    return str(claims["iss"])


def test_a_revoked_key_is_replaced_without_making_anyone_wait(store: Store, box: SecretBox) -> None:
    creds = new_account(store, box)
    clock = Clock()
    server = TokenServer(store, box, settings(auth=()), authorize=dave, monotonic=clock)
    with running(server) as url, plain_client(url) as client:
        assert key_of(client.post("/token")) == creds.api_key_sid

        store.update_api_key(creds.account_sid, creds.api_key_sid, revoked=True)
        newer = store.create_api_key(
            creds.account_sid, friendly_name="next", encrypted_secret=box.encrypt(new_api_secret())
        )
        assert key_of(client.post("/token")) == creds.api_key_sid  # within the 30 s
        clock.now += 31
        key_of(client.post("/token"))  # starts the look-up in the background
        deadline = time.monotonic() + 30
        while key_of(client.post("/token")) != newer.sid:
            assert time.monotonic() < deadline, "the new key was never picked up"
            time.sleep(0.02)

        store.update_api_key(creds.account_sid, newer.sid, revoked=True)
        clock.now += 31
        client.post("/token")
        deadline = time.monotonic() + 30
        while (response := client.post("/token")).status_code == 200:
            assert time.monotonic() < deadline, "minting went on with a revoked key"
            time.sleep(0.02)
        assert response.status_code == 503
        assert "no active API key" in response.json()["message"]


def test_several_services_need_a_choice(store: Store, box: SecretBox) -> None:
    creds = new_account(store, box)
    other = store.create_service(creds.account_sid, friendly_name="second")
    ambiguous = TokenServer(store, box, settings(auth=()), authorize=dave)
    chosen = TokenServer(store, box, settings(auth=(), service_sid=other.sid), authorize=dave)
    with running(ambiguous) as url, plain_client(url) as client:
        response = client.post("/token")
        assert response.status_code == 503
        assert "--token-service" in response.json()["message"]
    with running(chosen) as url, plain_client(url) as client:
        assert client.post("/token").json()["chat_service_sid"] == other.sid


REFUSED_IDENTITIES = {
    "sid": "US" + "0" * 32,
    "member-sid": "MB" + "f" * 32,
    "surrogate": "al\ud800ice",
    "long": "a" * 5500,
    "nul": "al\x00ice",
    "newline": "al\nice",
    "reserved": "system",
}


def test_identities_no_session_takes_get_no_token(store: Store, box: SecretBox) -> None:
    new_account(store, box)

    def who(request: Request) -> str:
        return REFUSED_IDENTITIES.get(request.query_params["who"], request.query_params["who"])

    server = TokenServer(store, box, settings(auth=()), authorize=who)
    with running(server) as url, plain_client(url) as client:
        for name in REFUSED_IDENTITIES:
            response = client.post("/token", params={"who": name})
            assert response.status_code == 403, (name, response.text)
            assert response.json()["code"] == 20106
        assert client.post("/token", params={"who": "System"}).status_code == 200
