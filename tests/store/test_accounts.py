"""Accounts and API keys."""

from __future__ import annotations

from datetime import UTC

import pytest

from hubbub import sids
from hubbub.store import Account, Conflict, NotFound, Store
from tests.support import ACCOUNT_SID, KEY_SID


def test_create_and_get_account(store: Store) -> None:
    made = store.create_account(friendly_name="Acme", auth_token_hash="h1")

    assert sids.is_sid(made.sid, "AC")
    assert made.status == "active"
    assert made.date_created.tzinfo is UTC
    assert made.date_created.microsecond == 0
    assert made.sealed_auth_token is None
    assert store.get_account(made.sid) == made


def test_the_sealed_auth_token_is_kept_beside_its_hash(store: Store) -> None:
    made = store.create_account(friendly_name="Acme", auth_token_hash="h1", sealed_auth_token="s1")

    assert made.sealed_auth_token == "s1"
    assert store.get_account(made.sid) == made
    assert store.list_accounts().items == (made,)
    changed = store.update_account(made.sid, auth_token_hash="h2", sealed_auth_token="s2")
    assert (changed.auth_token_hash, changed.sealed_auth_token) == ("h2", "s2")
    assert store.update_account(made.sid, status="suspended").sealed_auth_token == "s2"
    assert store.update_account(made.sid, sealed_auth_token=None).sealed_auth_token is None
    assert store.get_account(made.sid).sealed_auth_token is None


def test_account_sid_may_be_given_once(store: Store) -> None:
    store.create_account(friendly_name="fixed", auth_token_hash="h", sid=ACCOUNT_SID)

    assert store.get_account(ACCOUNT_SID).friendly_name == "fixed"
    with pytest.raises(Conflict):
        store.create_account(friendly_name="again", auth_token_hash="h", sid=ACCOUNT_SID)
    with pytest.raises(ValueError, match="account SID"):
        store.create_account(friendly_name="bad", auth_token_hash="h", sid=KEY_SID)


def test_update_account(store: Store, account: Account) -> None:
    changed = store.update_account(account.sid, status="suspended", auth_token_hash="h2")

    assert (changed.status, changed.auth_token_hash, changed.friendly_name) == (
        "suspended",
        "h2",
        account.friendly_name,
    )
    assert changed.date_updated > account.date_updated
    assert changed.date_created == account.date_created
    assert store.get_account(account.sid) == changed


def test_missing_account(store: Store) -> None:
    missing = sids.new_sid("AC")
    for call in (
        lambda: store.get_account(missing),
        lambda: store.update_account(missing, friendly_name="x"),
        lambda: store.delete_account(missing),
        lambda: store.list_services(missing),
        lambda: store.list_api_keys(missing),
        lambda: store.create_service(missing, friendly_name="x"),
        lambda: store.create_api_key(missing, friendly_name="k", encrypted_secret="e"),
    ):
        with pytest.raises(NotFound) as caught:
            call()
        assert caught.value.code == 20404
        assert caught.value.resource == "Account"


def test_list_accounts_pages(store: Store) -> None:
    made = [store.create_account(friendly_name=f"a{i}", auth_token_hash="h") for i in range(5)]

    first = store.list_accounts(limit=2)
    second = store.list_accounts(limit=2, cursor=first.next_cursor)
    third = store.list_accounts(limit=2, cursor=second.next_cursor)

    assert [a.sid for a in first.items + second.items + third.items] == [a.sid for a in made]
    assert third.next_cursor is None


def test_api_keys(store: Store, account: Account) -> None:
    key = store.create_api_key(account.sid, friendly_name="ci", encrypted_secret="sealed")

    assert sids.is_sid(key.sid, "SK")
    assert not key.revoked
    assert store.get_api_key(key.sid) == key
    assert store.list_api_keys(account.sid).items == (key,)

    revoked = store.update_api_key(account.sid, key.sid, revoked=True)
    assert revoked.revoked
    assert revoked.encrypted_secret == "sealed"

    store.delete_api_key(account.sid, key.sid)
    with pytest.raises(NotFound):
        store.get_api_key(key.sid)


def test_api_key_with_given_sid(store: Store, account: Account) -> None:
    store.create_api_key(account.sid, friendly_name="k", encrypted_secret="e", sid=KEY_SID)

    assert store.get_api_key(KEY_SID).account_sid == account.sid
    with pytest.raises(Conflict):
        store.create_api_key(account.sid, friendly_name="k", encrypted_secret="e", sid=KEY_SID)


def test_deleting_an_account_deletes_its_keys_and_services(store: Store, account: Account) -> None:
    key = store.create_api_key(account.sid, friendly_name="k", encrypted_secret="e")
    service = store.create_service(account.sid, friendly_name="chat")
    channel = store.create_channel(service.sid, unique_name="general")
    store.create_message(service.sid, channel.sid, body="hi")

    store.delete_account(account.sid)

    with pytest.raises(NotFound):
        store.get_api_key(key.sid)
    with pytest.raises(NotFound):
        store.get_service(account.sid, service.sid)
    with pytest.raises(NotFound):
        store.get_channel(service.sid, channel.sid)


def test_sealed_secrets_are_found_and_resealed_in_one_transaction(
    store: Store, account: Account
) -> None:
    assert store.sealed_secret() is None
    first = store.create_api_key(account.sid, friendly_name="a", encrypted_secret="old-a")
    second = store.create_api_key(account.sid, friendly_name="b", encrypted_secret="old-b")
    store.update_api_key(account.sid, second.sid, revoked=True)  # revoked keys are sealed too
    assert store.sealed_secret() in ("old-a", "old-b")

    calls: list[str] = []

    def half_way(sealed: str) -> str:
        calls.append(sealed)
        if len(calls) == 2:  # the first one was already rewritten
            raise ValueError("cannot reseal")
        return "new" + sealed[3:]

    with pytest.raises(ValueError, match="cannot reseal"):
        store.reseal_secrets(half_way)
    # Rolled back, all of it.
    assert {store.get_api_key(k.sid).encrypted_secret for k in (first, second)} == {
        "old-a",
        "old-b",
    }

    assert store.reseal_secrets(lambda sealed: "new" + sealed[3:]) == 2
    assert store.get_api_key(first.sid).encrypted_secret == "new-a"
    assert store.get_api_key(second.sid).encrypted_secret == "new-b"


def test_sealed_auth_tokens_are_found_and_resealed_with_the_key_secrets(store: Store) -> None:
    unsealed = store.create_account(friendly_name="old", auth_token_hash="h")
    assert store.sealed_secret() is None  # an account without a sealed token seals nothing
    sealed = store.create_account(
        friendly_name="new", auth_token_hash="h", sealed_auth_token="old-t"
    )
    assert store.sealed_secret() == "old-t"
    key = store.create_api_key(sealed.sid, friendly_name="k", encrypted_secret="old-k")
    assert store.sealed_secret() in ("old-t", "old-k")

    def failing_on_the_token(value: str) -> str:
        if value == "old-t":
            raise ValueError("cannot reseal")
        return "new" + value[3:]

    with pytest.raises(ValueError, match="cannot reseal"):
        store.reseal_secrets(failing_on_the_token)
    assert store.get_api_key(key.sid).encrypted_secret == "old-k"  # all undone
    assert store.get_account(sealed.sid).sealed_auth_token == "old-t"

    resealed: list[str] = []

    def reseal(value: str) -> str:
        resealed.append(value)
        return "new" + value[3:]

    assert store.reseal_secrets(reseal) == 2
    assert sorted(resealed) == ["old-k", "old-t"]
    assert store.get_account(sealed.sid).sealed_auth_token == "new-t"
    assert store.get_account(unsealed.sid).sealed_auth_token is None
    assert store.get_api_key(key.sid).encrypted_secret == "new-k"
