"""Media records: scoped to their service, carried by at most one message, gone with it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from hubbub import sids
from hubbub.store import Conflict, Media, NotFound, Service, Store
from hubbub.store.records import MEDIA


def _upload(store: Store, service: Service, *, size: int = 1234) -> Media:
    return store.create_media(
        service.account_sid,
        service.sid,
        sids.new_sid(MEDIA),
        content_type="image/png",
        size=size,
        author="alice",
        filename="cat.png",
    )


def test_media_is_recorded_as_uploaded(store: Store, service: Service) -> None:
    media = _upload(store, service, size=10_000_000_000)

    got = store.get_media(service.sid, media.sid)

    assert got == media
    assert (got.author, got.filename, got.content_type, got.size) == (
        "alice",
        "cat.png",
        "image/png",
        10_000_000_000,
    )
    assert (got.category, got.channel_sid, got.message_sid) == ("media", None, None)
    assert got.carried().sid == media.sid


def test_media_of_another_service_is_not_found(store: Store, service: Service) -> None:
    media = _upload(store, service)
    other_service = store.create_service(service.account_sid, friendly_name="other")

    with pytest.raises(NotFound):
        store.get_media(other_service.sid, media.sid)
    assert store.get_media_many(other_service.sid, [media.sid]) == []
    with pytest.raises(NotFound):
        store.attach_media(
            other_service.sid, media.sid, channel_sid="CH" + "0" * 32, message_sid="IM" + "0" * 32
        )


def test_media_of_a_missing_service_is_refused(store: Store, service: Service) -> None:
    with pytest.raises(NotFound):
        store.create_media(
            service.account_sid, "IS" + "0" * 32, sids.new_sid(MEDIA), content_type="a/b", size=1
        )


def test_media_is_carried_by_one_message_only(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid)
    media = _upload(store, service)
    results: list[object] = []

    def attach(message_sid: str) -> None:
        try:
            results.append(
                store.attach_media(
                    service.sid, media.sid, channel_sid=channel.sid, message_sid=message_sid
                )
            )
        except Conflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=attach, args=(f"IM{i:032x}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    carried = [r for r in results if isinstance(r, Media)]
    assert len(carried) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 3
    assert store.get_media(service.sid, media.sid).message_sid == carried[0].message_sid
    assert carried[0].channel_sid == channel.sid


def test_many_and_unattached_and_delete(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid)
    first, second = _upload(store, service), _upload(store, service)
    store.attach_media(
        service.sid, second.sid, channel_sid=channel.sid, message_sid="IM" + "1" * 32
    )

    many = store.get_media_many(service.sid, [first.sid, second.sid, "ME" + "0" * 32])
    assert {m.sid for m in many} == {first.sid, second.sid}
    later = first.date_created + timedelta(seconds=1)
    assert [m.sid for m in store.unattached_media(later)] == [first.sid]
    assert store.unattached_media(first.date_created) == []

    store.delete_media(service.sid, first.sid)
    with pytest.raises(NotFound):
        store.get_media(service.sid, first.sid)
    with pytest.raises(NotFound):
        store.delete_media(service.sid, first.sid)


def test_media_goes_with_its_service(store: Store, service: Service) -> None:
    media = _upload(store, service)

    store.delete_service(service.account_sid, service.sid)

    with pytest.raises(NotFound):
        store.get_media(service.sid, media.sid)


def test_an_attached_upload_is_kept_by_a_delete_of_unattached_media(
    store: Store, service: Service
) -> None:
    channel = store.create_channel(service.sid)
    kept, loose = _upload(store, service), _upload(store, service)
    store.attach_media(service.sid, kept.sid, channel_sid=channel.sid, message_sid="IM" + "1" * 32)

    with pytest.raises(Conflict):
        store.delete_media(service.sid, kept.sid, unattached=True)
    store.delete_media(service.sid, loose.sid, unattached=True)

    assert store.get_media(service.sid, kept.sid).message_sid == "IM" + "1" * 32
    assert store.existing_media([kept.sid, loose.sid, "ME" + "0" * 32]) == {kept.sid}


def test_media_of_deleted_messages_and_channels(store: Store, service: Service) -> None:
    first = store.create_channel(service.sid)
    second = store.create_channel(service.sid)
    media = [_upload(store, service) for _ in range(4)]
    messages = []
    for channel, item in zip((first, first, second, second), media, strict=True):
        message = store.create_message(service.sid, channel.sid, body="", from_="alice")
        store.attach_media(service.sid, item.sid, channel_sid=channel.sid, message_sid=message.sid)
        messages.append(message)
    assert store.media_of_deleted_messages() == []

    store.delete_message(service.sid, first.sid, messages[0].sid)
    store.delete_channel(service.sid, second.sid)

    gone = {m.sid for m in store.media_of_deleted_messages()}
    assert gone == {media[0].sid, media[2].sid, media[3].sid}
