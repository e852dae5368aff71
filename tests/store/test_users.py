"""Users, looked up by SID or identity."""

from __future__ import annotations

import pytest

from hubbub import sids
from hubbub.store import Conflict, NotFound, Service, Store


def test_create_and_look_up_user(store: Store, service: Service) -> None:
    user = store.create_user(
        service.sid, "alice@example.com", friendly_name="Alice", attributes='{"team": "red"}'
    )

    assert sids.is_sid(user.sid, "US")
    assert user.role_sid == service.config.default_service_role_sid
    assert (user.is_online, user.is_notifiable, user.joined_channels_count) == (False, False, 0)
    assert store.get_user(service.sid, user.sid) == user
    assert store.get_user(service.sid, "alice@example.com") == user


def test_identity_is_unique_and_case_sensitive(store: Store, service: Service) -> None:
    store.create_user(service.sid, "alice")
    store.create_user(service.sid, "Alice")

    with pytest.raises(Conflict) as caught:
        store.create_user(service.sid, "alice")
    assert (caught.value.resource, caught.value.field, caught.value.value) == (
        "User",
        "identity",
        "alice",
    )


def test_identity_may_not_look_like_a_sid(store: Store, service: Service) -> None:
    for identity in (sids.new_sid("US"), sids.new_sid("MB"), ""):
        with pytest.raises(ValueError, match="identity"):
            store.create_user(service.sid, identity)


def test_update_user(store: Store, service: Service) -> None:
    user = store.create_user(service.sid, "alice", friendly_name="Alice")
    admin = store.create_role(
        service.sid, friendly_name="admin", type="deployment", permissions=["editAnyUserInfo"]
    )

    changed = store.update_user(
        service.sid,
        "alice",
        role_sid=admin.sid,
        friendly_name=None,
        attributes='{"a": 1}',
        is_online=True,
    )

    assert (changed.role_sid, changed.friendly_name, changed.attributes) == (
        admin.sid,
        None,
        '{"a": 1}',
    )
    assert changed.is_online
    assert not changed.is_notifiable
    assert changed.date_updated > user.date_updated
    assert store.get_user(service.sid, user.sid) == changed
    with pytest.raises(NotFound):
        store.update_user(service.sid, "bob", attributes="{}")


def test_list_users_pages(store: Store, service: Service) -> None:
    made = [store.create_user(service.sid, f"user{i}") for i in range(5)]
    seen = []
    cursor = None
    while True:
        page = store.list_users(service.sid, limit=2, cursor=cursor)
        seen += [user.sid for user in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == [user.sid for user in made]


def test_deleting_a_user_removes_its_memberships(store: Store, service: Service) -> None:
    one = store.create_channel(service.sid, unique_name="one")
    two = store.create_channel(service.sid, unique_name="two")
    for channel in (one, two):
        store.create_member(service.sid, channel.sid, "alice")
        store.create_member(service.sid, channel.sid, "bob")

    store.delete_user(service.sid, "alice")

    with pytest.raises(NotFound):
        store.get_user(service.sid, "alice")
    for channel in (one, two):
        assert store.get_channel(service.sid, channel.sid).members_count == 1
        assert [m.identity for m in store.list_members(service.sid, channel.sid).items] == ["bob"]
    assert store.get_user(service.sid, "bob").joined_channels_count == 2
    with pytest.raises(NotFound):
        store.delete_user(service.sid, "alice")


def test_users_are_scoped_to_their_service(store: Store, service: Service) -> None:
    other = store.create_service(service.account_sid, friendly_name="other")
    mine = store.create_user(service.sid, "alice")
    theirs = store.create_user(other.sid, "alice")

    assert mine.sid != theirs.sid
    assert store.get_user(other.sid, "alice") == theirs
    with pytest.raises(NotFound):
        store.get_user(other.sid, mine.sid)
    with pytest.raises(NotFound):
        store.delete_user(other.sid, mine.sid)
    assert [u.sid for u in store.list_users(service.sid).items] == [mine.sid]


def test_mark_all_offline_resets_what_a_crashed_server_left(store: Store, service: Service) -> None:
    other = store.create_service(service.account_sid, friendly_name="other")
    store.create_user(service.sid, "alice")
    store.update_user(service.sid, "alice", is_online=True)
    store.update_user(other.sid, store.create_user(other.sid, "bob").sid, is_online=True)
    store.create_user(service.sid, "carol")

    assert store.mark_all_offline() == 2

    assert not store.get_user(service.sid, "alice").is_online
    assert not store.get_user(other.sid, "bob").is_online
    assert store.mark_all_offline() == 0


def test_get_users_finds_those_that_exist(store: Store, service: Service) -> None:
    for identity in ("ann", "bob"):
        store.create_user(service.sid, identity)
    found = store.get_users(service.sid, ["bob", "ann", "nobody"])
    assert sorted(user.identity for user in found) == ["ann", "bob"]
    assert store.get_users(service.sid, []) == []
    other = store.create_service(service.account_sid, friendly_name="other")
    assert store.get_users(other.sid, ["ann"]) == []
