"""Members, their counters and limits, and the same memberships seen from the user."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from hubbub import sids
from hubbub.store import (
    Conflict,
    LimitExceeded,
    NotFound,
    Service,
    ServiceLimits,
    Store,
)
from tests.store.conftest import Clock


def test_create_member_creates_its_user_and_counts(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid, unique_name="general")

    member = store.create_member(service.sid, "general", "alice", attributes='{"a": 1}')

    assert sids.is_sid(member.sid, "MB")
    assert (member.channel_sid, member.identity) == (channel.sid, "alice")
    assert member.role_sid == service.config.default_channel_role_sid
    assert member.last_consumed_message_index is None
    assert member.notification_level == "default"
    assert store.get_member(service.sid, channel.sid, member.sid) == member
    assert store.get_member(service.sid, "general", "alice") == member
    user = store.get_user(service.sid, "alice")
    assert user.role_sid == service.config.default_service_role_sid
    assert user.joined_channels_count == 1
    assert store.get_channel(service.sid, channel.sid).members_count == 1


def test_an_existing_user_is_reused(store: Store, service: Service) -> None:
    user = store.create_user(service.sid, "alice", friendly_name="Alice")
    for name in ("one", "two"):
        store.create_channel(service.sid, unique_name=name)
        store.create_member(service.sid, name, "alice")

    again = store.get_user(service.sid, "alice")
    assert (again.sid, again.friendly_name, again.joined_channels_count) == (user.sid, "Alice", 2)


def test_member_already_exists(store: Store, service: Service) -> None:
    store.create_channel(service.sid, unique_name="general")
    store.create_member(service.sid, "general", "alice")

    with pytest.raises(Conflict) as caught:
        store.create_member(service.sid, "general", "alice")

    assert caught.value.code == 50404
    assert store.get_channel(service.sid, "general").members_count == 1
    assert store.get_user(service.sid, "alice").joined_channels_count == 1


def test_update_member(store: Store, service: Service, clock: Clock) -> None:
    store.create_channel(service.sid, unique_name="general")
    member = store.create_member(service.sid, "general", "alice")
    admin = str(service.config.default_channel_creator_role_sid)

    read = store.update_member(
        service.sid,
        "general",
        "alice",
        last_consumed_message_index=4,
        notification_level="muted",
        role_sid=admin,
    )
    assert read.last_consumed_message_index == 4
    assert read.last_consumption_timestamp is not None
    assert read.last_consumption_timestamp > member.date_created
    assert (read.notification_level, read.role_sid) == ("muted", admin)

    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    stamped = store.update_member(
        service.sid, "general", member.sid, last_consumption_timestamp=when, attributes='{"b": 2}'
    )
    assert (stamped.last_consumption_timestamp, stamped.attributes) == (when, '{"b": 2}')
    assert stamped.last_consumed_message_index == 4

    cleared = store.update_member(
        service.sid,
        "general",
        "alice",
        last_consumed_message_index=None,
        last_consumption_timestamp=None,
    )
    assert (cleared.last_consumed_message_index, cleared.last_consumption_timestamp) == (None, None)
    with pytest.raises(ValueError, match="notification level"):
        store.update_member(service.sid, "general", "alice", notification_level="loud")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        store.update_member(service.sid, "general", "bob", attributes="{}")


def test_delete_member_counts_down(store: Store, service: Service) -> None:
    store.create_channel(service.sid, unique_name="general")
    member = store.create_member(service.sid, "general", "alice")
    store.create_member(service.sid, "general", "bob")

    store.delete_member(service.sid, "general", member.sid)
    store.delete_member(service.sid, "general", "bob")

    assert store.get_channel(service.sid, "general").members_count == 0
    assert store.get_user(service.sid, "alice").joined_channels_count == 0
    assert store.list_members(service.sid, "general").items == ()
    with pytest.raises(NotFound):
        store.delete_member(service.sid, "general", "alice")


def test_list_members_filters_by_identity(store: Store, service: Service) -> None:
    store.create_channel(service.sid, unique_name="general")
    made = [store.create_member(service.sid, "general", name) for name in ("a", "b", "c", "d")]

    first = store.list_members(service.sid, "general", limit=3)
    rest = store.list_members(service.sid, "general", limit=3, cursor=first.next_cursor)
    assert first.items + rest.items == tuple(made)
    assert rest.next_cursor is None
    some = store.list_members(service.sid, "general", identities=["b", "d", "zed"])
    assert [m.identity for m in some.items] == ["b", "d"]


def _limit(store: Store, service: Service, **limits: int) -> None:
    config = dataclasses.replace(service.config, limits=ServiceLimits(**limits))
    store.update_service(service.account_sid, service.sid, config=config)


def test_channel_members_limit(store: Store, service: Service) -> None:
    _limit(store, service, channel_members=2, user_channels=100)
    store.create_channel(service.sid, unique_name="small")
    store.create_member(service.sid, "small", "a")
    store.create_member(service.sid, "small", "b")

    with pytest.raises(LimitExceeded) as caught:
        store.create_member(service.sid, "small", "c")

    assert (caught.value.limit, caught.value.maximum) == ("channel_members", 2)
    assert store.get_channel(service.sid, "small").members_count == 2
    with pytest.raises(NotFound):
        store.get_user(service.sid, "c")


def test_user_channels_limit(store: Store, service: Service) -> None:
    _limit(store, service, channel_members=250, user_channels=1)
    for name in ("one", "two"):
        store.create_channel(service.sid, unique_name=name)
    store.create_member(service.sid, "one", "alice")

    with pytest.raises(LimitExceeded) as caught:
        store.create_member(service.sid, "two", "alice")

    assert caught.value.limit == "user_channels"
    assert store.get_user(service.sid, "alice").joined_channels_count == 1
    assert store.get_channel(service.sid, "two").members_count == 0


def test_user_channels(store: Store, service: Service) -> None:
    one = store.create_channel(service.sid, unique_name="one")
    two = store.create_channel(service.sid, unique_name="two")
    store.create_channel(service.sid, unique_name="three")
    store.create_member(service.sid, "one", "alice")
    member = store.create_member(service.sid, "two", "alice")
    for body in ("a", "b", "c"):
        store.create_message(service.sid, "two", body=body)
    store.update_member(service.sid, "two", "alice", last_consumed_message_index=0)
    user = store.get_user(service.sid, "alice")

    page = store.list_user_channels(service.sid, "alice")

    assert [uc.channel_sid for uc in page.items] == [one.sid, two.sid]
    first, second = page.items
    assert (first.user_sid, first.status, first.unread_messages_count) == (user.sid, "joined", None)
    assert (second.member_sid, second.last_consumed_message_index) == (member.sid, 0)
    assert second.unread_messages_count == 2
    assert store.get_user_channel(service.sid, user.sid, "two") == second
    assert store.list_user_channels(service.sid, user.sid, limit=1).next_cursor is not None
    with pytest.raises(NotFound):
        store.get_user_channel(service.sid, "alice", "three")
    with pytest.raises(NotFound):
        store.list_user_channels(service.sid, "nobody")


def test_members_are_scoped_to_their_channel(store: Store, service: Service) -> None:
    store.create_channel(service.sid, unique_name="one")
    store.create_channel(service.sid, unique_name="two")
    member = store.create_member(service.sid, "one", "alice")

    for ref in (member.sid, "alice"):
        with pytest.raises(NotFound):
            store.get_member(service.sid, "two", ref)
        with pytest.raises(NotFound):
            store.delete_member(service.sid, "two", ref)
    other = store.create_service(service.account_sid, friendly_name="other")
    with pytest.raises(NotFound) as caught:
        store.get_member(other.sid, "one", member.sid)
    assert caught.value.resource == "Channel"
