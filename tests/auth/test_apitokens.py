"""Operator bearer tokens on the token endpoint."""

from __future__ import annotations

from collections.abc import Callable

from hubbub.auth.apitokens import new_api_token
from hubbub.auth.cookies import secret_hash
from hubbub.store import Store
from tests.auth.conftest import Clock, Server


def test_bearer_tokens_name_the_identity_until_revoked(
    any_store: Store, serve: Callable[..., Server]
) -> None:
    clock = Clock()
    server = serve(any_store, monotonic=clock)
    token = new_api_token()
    record = any_store.create_api_token(
        identity="robot", friendly_name="ci", token_hash=secret_hash(token)
    )

    def ask(value: str) -> int:
        response = server.client.post("/token", headers={"Authorization": value})
        if response.status_code == 200:
            assert response.json()["identity"] == "robot"
        return response.status_code

    assert ask(f"Bearer {token}") == 200
    assert ask(f"bearer {token}") == 200
    assert ask(f"Bearer {token}x") == 401
    assert ask(f"Bearer {new_api_token()}") == 401
    assert ask("Basic dXNlcjpwYXNz") == 401

    any_store.update_api_token(record.sid, revoked=True)
    assert ask(f"Bearer {token}") == 200  # the lookup cache holds an answer for one second
    clock.now += 1.0
    assert ask(f"Bearer {token}") == 401
    # The token itself is never stored.
    assert token not in repr(any_store.list_api_tokens().items)


def test_api_tokens_only_when_enabled(store: Store, serve: Callable[..., Server]) -> None:
    server = serve(store, auth=("users",))
    token = new_api_token()
    store.create_api_token(identity="robot", friendly_name="", token_hash=secret_hash(token))
    response = server.client.post("/token", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
