"""Setting up an account with everything a chat application needs to start."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass

from hubbub.crypto import SecretBox, hash_auth_token
from hubbub.store import Store


@dataclass(frozen=True, slots=True)
class Credentials:
    """What ``hubbub init`` prints: enough to mint tokens and call the REST API."""

    account_sid: str
    auth_token: str
    api_key_sid: str
    api_key_secret: str
    chat_service_sid: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def new_api_secret() -> str:
    """32 random characters, the length of a Twilio API key secret."""
    return secrets.token_hex(16)


def new_auth_token() -> str:
    """32 random hex characters, the shape of a Twilio auth token."""
    return secrets.token_hex(16)


def new_account(store: Store, box: SecretBox, *, name: str = "hubbub") -> Credentials:
    """An account with an auth token (hashed, and sealed to sign webhooks), one API key and one
    Chat Service."""
    auth_token = new_auth_token()
    account = store.create_account(
        friendly_name=name,
        auth_token_hash=hash_auth_token(auth_token),
        sealed_auth_token=box.encrypt(auth_token),
    )
    secret = new_api_secret()
    key = store.create_api_key(
        account.sid, friendly_name=f"{name} key", encrypted_secret=box.encrypt(secret)
    )
    service = store.create_service(account.sid, friendly_name=f"{name} chat")
    return Credentials(account.sid, auth_token, key.sid, secret, service.sid)


def replace_auth_token(store: Store, box: SecretBox, account_sid: str) -> str:
    """Give the account a new auth token, hashed and sealed, and return it: the old one stops
    working at once. How an account made before tokens were sealed gets one to sign with."""
    auth_token = new_auth_token()
    store.update_account(
        account_sid,
        auth_token_hash=hash_auth_token(auth_token),
        sealed_auth_token=box.encrypt(auth_token),
    )
    return auth_token
