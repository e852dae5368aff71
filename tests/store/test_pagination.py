"""Keyset cursors: stable across inserts and deletes, refused when they are not ours."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from hubbub.store import InvalidCursor, Service, Store
from tests.store.conftest import Clock


def _all_users(store: Store, service: Service, limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_users(service.sid, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        seen += [user.identity for user in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_items_of_the_same_second_are_ordered_by_sid(
    store: Store, service: Service, clock: Clock
) -> None:
    clock.step = timedelta(0)
    made = [store.create_user(service.sid, f"u{i}") for i in range(7)]

    by_sid = [user.identity for user in sorted(made, key=lambda user: user.sid)]
    for limit in (1, 2, 3, 7, 100):
        assert _all_users(store, service, limit) == by_sid


def test_cursors_survive_inserts_and_deletes(store: Store, service: Service) -> None:
    for name in ("a", "b", "c", "d"):
        store.create_user(service.sid, name)

    first = store.list_users(service.sid, limit=2)
    store.delete_user(service.sid, "b")
    store.delete_user(service.sid, "c")
    store.create_user(service.sid, "e")
    rest = store.list_users(service.sid, limit=2, cursor=first.next_cursor)

    assert [u.identity for u in first.items] == ["a", "b"]
    assert [u.identity for u in rest.items] == ["d", "e"]
    assert rest.next_cursor is None


def test_a_full_last_page_has_no_cursor(store: Store, service: Service) -> None:
    store.create_user(service.sid, "a")
    store.create_user(service.sid, "b")

    assert store.list_users(service.sid, limit=2).next_cursor is None
    assert store.list_users(service.sid, limit=1).next_cursor is not None


def test_foreign_or_garbage_cursors_are_refused(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid).sid
    store.create_user(service.sid, "a")
    store.create_user(service.sid, "b")
    for i in range(2):
        store.create_message(service.sid, channel, body=str(i))
    user_cursor = store.list_users(service.sid, limit=1).next_cursor
    message_cursor = store.list_messages(service.sid, channel, limit=1).next_cursor
    assert user_cursor is not None
    assert message_cursor is not None

    with pytest.raises(InvalidCursor):
        store.list_users(service.sid, cursor=message_cursor)
    with pytest.raises(InvalidCursor):
        store.list_messages(service.sid, channel, cursor=user_cursor)
    for garbage in ("", "!!!", "Zm9v", user_cursor[:-3], "é"):
        with pytest.raises(InvalidCursor):
            store.list_users(service.sid, cursor=garbage)
        with pytest.raises(InvalidCursor):
            store.list_messages(service.sid, channel, cursor=garbage)


def test_every_date_the_store_takes_pages_on(store: Store, service: Service) -> None:
    dates = [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2286, 11, 20, 17, 46, 40, tzinfo=UTC),  # the first eleven-digit second
        datetime(2300, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]
    made = [store.create_channel(service.sid, date_created=date).sid for date in reversed(dates)]

    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_channels(service.sid, limit=1, cursor=cursor)
        seen += [channel.sid for channel in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == made[::-1]


def test_cursors_past_the_dates_the_store_holds_are_refused(store: Store, service: Service) -> None:
    for seconds in (253402300800, -62135596801, 10**12):
        tampered = base64.urlsafe_b64encode(f"c{seconds}.US{'0' * 32}".encode()).decode()
        with pytest.raises(InvalidCursor):
            store.list_users(service.sid, cursor=tampered.rstrip("="))


def test_page_size_must_be_positive(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid).sid
    with pytest.raises(ValueError, match="at least one"):
        store.list_users(service.sid, limit=0)
    with pytest.raises(ValueError, match="at least one"):
        store.list_messages(service.sid, channel, limit=0)
