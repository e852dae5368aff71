"""Messages: indexes, ordering, paging from an anchor, edits and deletes."""

from __future__ import annotations

import pytest

from hubbub import sids
from hubbub.store import InvalidCursor, MessageMedia, NotFound, Service, Store


@pytest.fixture
def channel(store: Store, service: Service) -> str:
    return store.create_channel(service.sid, unique_name="general").sid


def test_messages_get_consecutive_indexes(store: Store, service: Service, channel: str) -> None:
    made = [
        store.create_message(service.sid, channel, body=f"m{i}", from_="alice") for i in range(3)
    ]

    assert [m.index for m in made] == [0, 1, 2]
    first = made[0]
    assert sids.is_sid(first.sid, "IM")
    assert (first.from_, first.body, first.type, first.media) == ("alice", "m0", "text", None)
    assert (first.was_edited, first.last_updated_by, first.attributes) == (False, None, "{}")
    assert store.get_message(service.sid, channel, first.sid) == first
    assert store.get_message(service.sid, "general", first.sid) == first
    after = store.get_channel(service.sid, channel)
    assert (after.messages_count, after.next_message_index) == (3, 3)


def test_defaults_and_media(store: Store, service: Service, channel: str) -> None:
    media = MessageMedia(sid="ME" + "0" * 32, content_type="image/png", filename="cat.png", size=42)

    plain = store.create_message(service.sid, "general")
    picture = store.create_message(service.sid, "general", media=media, attributes='{"k": [1]}')

    assert (plain.from_, plain.body) == ("system", "")
    assert (picture.type, picture.media) == ("media", media)
    assert store.get_message(service.sid, channel, picture.sid) == picture


def _indexes(page_items: tuple[object, ...]) -> list[int]:
    return [m.index for m in page_items]  # type: ignore[attr-defined]


def test_list_messages_in_both_orders(store: Store, service: Service, channel: str) -> None:
    for i in range(7):
        store.create_message(service.sid, channel, body=str(i))

    asc = store.list_messages(service.sid, channel, limit=3)
    asc2 = store.list_messages(service.sid, channel, limit=3, cursor=asc.next_cursor)
    asc3 = store.list_messages(service.sid, channel, limit=3, cursor=asc2.next_cursor)
    assert [_indexes(p.items) for p in (asc, asc2, asc3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert asc3.next_cursor is None

    desc = store.list_messages(service.sid, channel, order="desc", limit=4)
    desc2 = store.list_messages(
        service.sid, channel, order="desc", limit=4, cursor=desc.next_cursor
    )
    assert [_indexes(p.items) for p in (desc, desc2)] == [[6, 5, 4, 3], [2, 1, 0]]

    assert _indexes(store.list_messages(service.sid, channel, start_index=4).items) == [4, 5, 6]
    back = store.list_messages(service.sid, channel, order="desc", start_index=4, limit=2)
    back2 = store.list_messages(
        service.sid, channel, order="desc", start_index=4, limit=2, cursor=back.next_cursor
    )
    assert [_indexes(back.items), _indexes(back2.items)] == [[4, 3], [2, 1]]

    with pytest.raises(InvalidCursor):
        store.list_messages(service.sid, channel, order="asc", cursor=desc.next_cursor)
    with pytest.raises(ValueError, match="order"):
        store.list_messages(service.sid, channel, order="up")  # type: ignore[arg-type]


def test_update_message(store: Store, service: Service, channel: str) -> None:
    message = store.create_message(service.sid, channel, body="helo", from_="alice")

    retagged = store.update_message(service.sid, channel, message.sid, attributes='{"x": 1}')
    assert not retagged.was_edited
    edited = store.update_message(
        service.sid, "general", message.sid, body="hello", last_updated_by="alice"
    )
    assert (edited.body, edited.was_edited, edited.last_updated_by) == ("hello", True, "alice")
    assert (edited.attributes, edited.index) == ('{"x": 1}', 0)
    assert edited.date_updated > message.date_updated
    assert store.get_message(service.sid, channel, message.sid) == edited
    with pytest.raises(NotFound):
        store.update_message(service.sid, channel, sids.new_sid("IM"), body="x")


def test_deleted_indexes_are_never_reused(store: Store, service: Service, channel: str) -> None:
    made = [store.create_message(service.sid, channel, body=str(i)) for i in range(3)]

    store.delete_message(service.sid, channel, made[2].sid)
    store.delete_message(service.sid, channel, made[0].sid)
    after = store.create_message(service.sid, channel, body="after")

    assert after.index == 3
    assert _indexes(store.list_messages(service.sid, channel).items) == [1, 3]
    assert store.get_channel(service.sid, channel).messages_count == 2
    with pytest.raises(NotFound):
        store.delete_message(service.sid, channel, made[0].sid)


def test_messages_are_scoped_to_their_channel(store: Store, service: Service, channel: str) -> None:
    message = store.create_message(service.sid, channel, body="secret")
    other = store.create_channel(service.sid, unique_name="other").sid

    with pytest.raises(NotFound):
        store.get_message(service.sid, other, message.sid)
    with pytest.raises(NotFound):
        store.update_message(service.sid, other, message.sid, body="x")
    with pytest.raises(NotFound):
        store.delete_message(service.sid, other, message.sid)
    assert store.list_messages(service.sid, other).items == ()
    with pytest.raises(NotFound):
        store.create_message(service.sid, "missing", body="x")
