"""Store-backed secrets for ``hubbub.tokens.verify``: revoked, unknown and foreign keys fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hubbub.chat.keys import KeyRing
from hubbub.chat.provision import Credentials, new_account
from hubbub.crypto import SecretBox
from hubbub.store import Store, open_store
from hubbub.tokens import Minter, TokenError, verify


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'keys.db'}")
    yield opened
    opened.close()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key())


def token_of(creds: Credentials) -> str:
    minter = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)
    return minter.chat_token("alice", creds.chat_service_sid)


def code_of(token: str, secrets: object, **kwargs: object) -> int:
    with pytest.raises(TokenError) as caught:
        verify(token, secrets, **kwargs)  # type: ignore[arg-type]
    return caught.value.code


def test_active_keys_verify_and_revoked_ones_fail(store: Store, box: SecretBox) -> None:
    clock = [0.0]
    ring = KeyRing(store, box, ttl=1.0, clock=lambda: clock[0])
    creds = new_account(store, box)
    token = token_of(creds)
    assert verify(token, ring.secrets_for(creds.account_sid)).identity == "alice"

    store.update_api_key(creds.account_sid, creds.api_key_sid, revoked=True)
    # Still remembered for under a second in a process that was not told ...
    assert verify(token, ring.secrets_for()).identity == "alice"
    clock[0] += 1.5  # ... and refused once that second is over,
    assert code_of(token, ring.secrets_for()) == 20103
    ring.forget(creds.api_key_sid)  # or at once where the revocation happened.
    assert code_of(token, ring.secrets_for()) == 20103


def test_keys_of_a_suspended_account_fail(store: Store, box: SecretBox) -> None:
    ring = KeyRing(store, box, ttl=0.0)
    creds = new_account(store, box)
    token = token_of(creds)
    store.update_account(creds.account_sid, status="suspended")
    assert code_of(token, ring.secrets_for()) == 20103
    store.update_account(creds.account_sid, status="active")
    assert verify(token, ring.secrets_for()).identity == "alice"


def test_unknown_keys_and_other_accounts_keys_fail(store: Store, box: SecretBox) -> None:
    ring = KeyRing(store, box)
    ours = new_account(store, box, name="ours")
    theirs = new_account(store, box, name="theirs")
    their_token = token_of(theirs)
    # Their key is a real, active key, but not one of our account's.
    assert code_of(their_token, ring.secrets_for(ours.account_sid)) == 20103
    assert (
        verify(their_token, ring.secrets_for(theirs.account_sid)).account_sid == theirs.account_sid
    )
    stranger = Minter(ours.account_sid, "SK" + "7" * 32, "whatever-secret-of-32-characters")
    assert code_of(stranger.chat_token("bob", ours.chat_service_sid), ring.secrets_for()) == 20103
