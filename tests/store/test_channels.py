"""Channels, looked up by SID or unique name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hubbub import sids
from hubbub.store import Conflict, NotFound, Service, Store


def test_create_and_look_up_channel(store: Store, service: Service) -> None:
    channel = store.create_channel(
        service.sid,
        friendly_name="General",
        unique_name="general",
        attributes='{"topic": "all"}',
        type="private",
        created_by="alice",
    )

    assert sids.is_sid(channel.sid, "CH")
    assert (channel.members_count, channel.messages_count, channel.next_message_index) == (0, 0, 0)
    assert store.get_channel(service.sid, channel.sid) == channel
    assert store.get_channel(service.sid, "general") == channel


def test_defaults(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid)

    assert (channel.unique_name, channel.friendly_name, channel.attributes) == (None, None, "{}")
    assert (channel.type, channel.created_by) == ("public", "system")


def test_unique_name_is_unique_per_service(store: Store, service: Service) -> None:
    other = store.create_service(service.account_sid, friendly_name="other")
    store.create_channel(service.sid, unique_name="general")
    store.create_channel(other.sid, unique_name="general")
    store.create_channel(service.sid)
    store.create_channel(service.sid)

    with pytest.raises(Conflict) as caught:
        store.create_channel(service.sid, unique_name="general")
    assert (caught.value.resource, caught.value.field) == ("Channel", "unique_name")


def test_unique_name_may_not_look_like_a_sid(store: Store, service: Service) -> None:
    with pytest.raises(ValueError, match="unique name"):
        store.create_channel(service.sid, unique_name=sids.new_sid("CH"))


def test_update_channel(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid, unique_name="general", friendly_name="General")
    store.create_channel(service.sid, unique_name="taken")

    renamed = store.update_channel(
        service.sid, "general", unique_name="lobby", attributes='{"x": 1}'
    )
    assert (renamed.unique_name, renamed.friendly_name) == ("lobby", "General")
    assert renamed.date_updated > channel.date_updated
    assert store.get_channel(service.sid, "lobby") == renamed
    with pytest.raises(NotFound):
        store.get_channel(service.sid, "general")

    with pytest.raises(Conflict):
        store.update_channel(service.sid, "lobby", unique_name="taken")

    cleared = store.update_channel(service.sid, channel.sid, unique_name=None, friendly_name=None)
    assert (cleared.unique_name, cleared.friendly_name) == (None, None)


def test_explicit_dates_are_kept_in_utc_whole_seconds(store: Store, service: Service) -> None:
    plus_two = timezone(timedelta(hours=2))
    created = datetime(2020, 5, 1, 14, 30, 15, 987654, tzinfo=plus_two)

    channel = store.create_channel(service.sid, date_created=created, date_updated=created)

    expected = datetime(2020, 5, 1, 12, 30, 15, tzinfo=UTC)
    assert channel.date_created == expected
    assert store.get_channel(service.sid, channel.sid).date_created == expected
    assert store.get_channel(service.sid, channel.sid).date_updated == expected
    with pytest.raises(ValueError, match="naive"):
        store.create_channel(service.sid, date_created=datetime(2020, 5, 1))


def test_list_channels_by_type(store: Store, service: Service) -> None:
    public = [store.create_channel(service.sid) for _ in range(3)]
    private = store.create_channel(service.sid, type="private")

    everything = store.list_channels(service.sid)
    assert [c.sid for c in everything.items] == [c.sid for c in [*public, private]]
    assert store.list_channels(service.sid, types=["private"]).items == (private,)
    page = store.list_channels(service.sid, types=["public"], limit=2)
    rest = store.list_channels(service.sid, types=["public"], limit=2, cursor=page.next_cursor)
    assert [c.sid for c in page.items + rest.items] == [c.sid for c in public]


def test_deleting_a_channel_deletes_what_is_in_it(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid, unique_name="general")
    other = store.create_channel(service.sid, unique_name="other")
    for identity in ("alice", "bob"):
        store.create_member(service.sid, "general", identity)
    store.create_member(service.sid, "other", "alice")
    message = store.create_message(service.sid, "general", body="hi")
    invite = store.create_invite(service.sid, "general", "carol")

    store.delete_channel(service.sid, "general")

    with pytest.raises(NotFound):
        store.get_channel(service.sid, channel.sid)
    with pytest.raises(NotFound):
        store.get_message(service.sid, channel.sid, message.sid)
    with pytest.raises(NotFound):
        store.get_invite(service.sid, channel.sid, invite.sid)
    assert store.get_user(service.sid, "alice").joined_channels_count == 1
    assert store.get_user(service.sid, "bob").joined_channels_count == 0
    assert store.get_channel(service.sid, other.sid).members_count == 1
    with pytest.raises(NotFound):
        store.delete_channel(service.sid, "general")


def test_channels_are_scoped_to_their_service(store: Store, service: Service) -> None:
    other = store.create_service(service.account_sid, friendly_name="other")
    channel = store.create_channel(service.sid, unique_name="general")

    for ref in (channel.sid, "general"):
        with pytest.raises(NotFound):
            store.get_channel(other.sid, ref)
        with pytest.raises(NotFound):
            store.update_channel(other.sid, ref, friendly_name="x")
        with pytest.raises(NotFound):
            store.delete_channel(other.sid, ref)
        with pytest.raises(NotFound):
            store.create_message(other.sid, ref, body="x")
        with pytest.raises(NotFound):
            store.create_member(other.sid, ref, "alice")
    assert store.list_channels(other.sid).items == ()
    with pytest.raises(NotFound):
        store.list_channels(sids.new_sid("IS"))
