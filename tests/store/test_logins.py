"""The token server's records: login users, sessions and API tokens, on both backends."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from hubbub import sids
from hubbub.store import Conflict, NotFound, Store
from tests.store.conftest import Clock


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_login_users_are_unique_by_username_and_listed_in_order(store: Store) -> None:
    alice = store.create_login_user("alice", identity="alice@example.com", password_hash="$argon2")
    bob = store.create_login_user("bob", identity="bob", password_hash="$argon2b")

    assert sids.is_sid(alice.sid, "LU")
    assert store.get_login_user("alice") == alice
    with pytest.raises(Conflict):
        store.create_login_user("alice", identity="other", password_hash="x")
    first = store.list_login_users(limit=1)
    assert first.items == (alice,)
    assert store.list_login_users(limit=1, cursor=first.next_cursor).items == (bob,)
    with pytest.raises(NotFound):
        store.get_login_user("carol")
    with pytest.raises(ValueError, match="username"):
        store.create_login_user("", identity="x", password_hash="x")


def test_sessions_resolve_to_the_current_identity_until_deleted(store: Store) -> None:
    store.create_login_user("alice", identity="alice", password_hash="h")
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    created = store.create_login_session("alice", secret_hash=digest("s1"), expires_at=expires)

    found = store.get_login_session(digest("s1"))
    assert found == created
    assert (found.username, found.identity, found.expires_at) == ("alice", "alice", expires)

    store.update_login_user("alice", identity="alice@example.com")
    assert store.get_login_session(digest("s1")).identity == "alice@example.com"

    assert store.delete_login_session(digest("s1")) is True
    assert store.delete_login_session(digest("s1")) is False
    with pytest.raises(NotFound):
        store.get_login_session(digest("s1"))


def test_a_new_password_or_deleting_the_user_ends_its_sessions(store: Store) -> None:
    store.create_login_user("alice", identity="alice", password_hash="old")
    store.create_login_user("bob", identity="bob", password_hash="b")
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    store.create_login_session("alice", secret_hash=digest("a"), expires_at=expires)
    store.create_login_session("bob", secret_hash=digest("b"), expires_at=expires)

    store.update_login_user("alice", password_hash="new")
    with pytest.raises(NotFound):
        store.get_login_session(digest("a"))
    assert store.get_login_user("alice").password_hash == "new"

    store.delete_login_user("bob")
    with pytest.raises(NotFound):
        store.get_login_session(digest("b"))
    with pytest.raises(NotFound):
        store.delete_login_user("bob")
    with pytest.raises(NotFound):
        store.create_login_session("bob", secret_hash=digest("c"), expires_at=expires)


def test_a_rehash_keeps_the_sessions_and_yields_to_a_password_change(store: Store) -> None:
    store.create_login_user("alice", identity="alice", password_hash="v1")
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    store.create_login_session("alice", secret_hash=digest("a"), expires_at=expires)

    assert store.rehash_login_user("alice", old_hash="v1", new_hash="v1-stronger") is True
    assert store.get_login_user("alice").password_hash == "v1-stronger"
    assert store.get_login_session(digest("a")).username == "alice"  # still signed in
    # The password changed meanwhile: the stale rehash writes nothing.
    store.update_login_user("alice", password_hash="v2")
    assert store.rehash_login_user("alice", old_hash="v1-stronger", new_hash="x") is False
    assert store.get_login_user("alice").password_hash == "v2"
    assert store.rehash_login_user("nobody", old_hash="a", new_hash="b") is False


def test_expired_sessions_are_purged(store: Store, clock: Clock) -> None:
    store.create_login_user("alice", identity="alice", password_hash="h")
    now = clock.now
    store.create_login_session("alice", secret_hash=digest("old"), expires_at=now)
    store.create_login_session(
        "alice", secret_hash=digest("new"), expires_at=now + timedelta(hours=1)
    )

    assert store.delete_expired_login_sessions(now + timedelta(seconds=1)) == 1
    assert store.get_login_session(digest("new")).username == "alice"
    with pytest.raises(ValueError, match="SHA-256"):
        store.create_login_session("alice", secret_hash="not-a-digest", expires_at=now)


def test_api_tokens_are_found_by_hash_and_revoked(store: Store) -> None:
    token = store.create_api_token(identity="robot", friendly_name="ci", token_hash=digest("t"))

    assert sids.is_sid(token.sid, "AT")
    assert store.find_api_token(digest("t")) == token
    assert store.get_api_token(token.sid) == token
    with pytest.raises(NotFound):
        store.find_api_token(digest("other"))
    with pytest.raises(Conflict):
        store.create_api_token(identity="x", friendly_name="", token_hash=digest("t"))

    revoked = store.update_api_token(token.sid, revoked=True)
    assert revoked.revoked
    assert store.find_api_token(digest("t")).revoked
    assert store.list_api_tokens().items == (revoked,)
    with pytest.raises(NotFound):
        store.update_api_token(sids.new_sid("AT"), revoked=True)
