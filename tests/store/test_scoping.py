"""Nothing of one account is reachable from another."""

from __future__ import annotations

import pytest

from hubbub.store import Account, NotFound, Store


def test_services_and_keys_are_scoped_to_their_account(store: Store, account: Account) -> None:
    intruder = store.create_account(friendly_name="intruder", auth_token_hash="h")
    service = store.create_service(account.sid, friendly_name="mine")
    key = store.create_api_key(account.sid, friendly_name="k", encrypted_secret="e")

    for call in (
        lambda: store.get_service(intruder.sid, service.sid),
        lambda: store.update_service(intruder.sid, service.sid, friendly_name="x"),
        lambda: store.update_service(intruder.sid, service.sid, config=service.config),
        lambda: store.delete_service(intruder.sid, service.sid),
        lambda: store.update_api_key(intruder.sid, key.sid, revoked=True),
        lambda: store.delete_api_key(intruder.sid, key.sid),
    ):
        with pytest.raises(NotFound):
            call()
    assert store.list_services(intruder.sid).items == ()
    assert store.list_api_keys(intruder.sid).items == ()
    assert store.get_service(account.sid, service.sid) == service
    assert not store.get_api_key(key.sid).revoked
