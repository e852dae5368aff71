"""The sweep over both blob stores: what no message shows goes, row and bytes; the rest stays."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from hubbub import sids
from hubbub.media.blobs import DiskBlobs, Draft
from hubbub.media.setup import recorder
from hubbub.media.sweep import LEFTOVER, UNATTACHED, Swept, sweep
from hubbub.store import Media, open_store
from hubbub.store.db import utc_now
from hubbub.store.records import MEDIA
from tests.media.conftest import Bench
from tests.twilio_sdk.nodes import poll


def _upload(bench: Bench, data: bytes) -> Media:
    upload = bench.blobs.begin(bench.draft())
    upload.write(data)
    return upload.commit()


def _bytes(bench: Bench, sid: str) -> bytes:
    try:
        return b"".join(bench.blobs.read(sid))
    except FileNotFoundError:
        return b""


def test_the_sweep_frees_loose_uploads_and_media_of_deleted_messages(bench: Bench) -> None:
    store, service = bench.store, bench.service
    channel = store.create_channel(service.sid)
    loose, kept, of_deleted, of_channel = (_upload(bench, b"x" * n) for n in (1, 2, 3, 4))
    doomed_channel = store.create_channel(service.sid)
    for media, where in ((kept, channel), (of_deleted, channel), (of_channel, doomed_channel)):
        message = store.create_message(service.sid, where.sid, body="", from_="alice")
        store.attach_media(service.sid, media.sid, channel_sid=where.sid, message_sid=message.sid)
        if media is of_deleted:
            store.delete_message(service.sid, where.sid, message.sid)
    store.delete_channel(service.sid, doomed_channel.sid)
    now = utc_now()

    assert sweep(store, bench.blobs, now=now) == Swept(0, 2, 0)
    assert store.existing_media([m.sid for m in (loose, kept, of_deleted, of_channel)]) == {
        loose.sid,
        kept.sid,
    }
    assert sweep(store, bench.blobs, now=now + UNATTACHED - timedelta(minutes=1)) == Swept()

    assert sweep(store, bench.blobs, now=now + UNATTACHED + timedelta(minutes=1)) == Swept(1, 0, 0)

    assert store.existing_media([loose.sid, kept.sid]) == {kept.sid}
    assert _bytes(bench, kept.sid) == b"xx"
    for gone in (loose, of_deleted, of_channel):
        assert _bytes(bench, gone.sid) == b""
    assert bench.held() == 1


def test_the_sweep_removes_bytes_whose_service_went(bench: Bench) -> None:
    media = _upload(bench, b"orphaned")
    bench.store.delete_service(bench.service.account_sid, bench.service.sid)

    swept = sweep(bench.store, bench.blobs, now=utc_now() + LEFTOVER + timedelta(seconds=5))

    assert swept.leftovers == 1
    assert _bytes(bench, media.sid) == b""
    assert bench.held() == 0


def test_hubbub_serve_sweeps_in_a_thread_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hubbub import supervisor
    from hubbub.media import sweep as sweeping
    from hubbub.settings import ServeSettings

    settings = ServeSettings(db=f"sqlite:///{tmp_path / 'hubbub.db'}")
    store = open_store(settings.db)
    service = store.create_service(
        store.create_account(friendly_name="a", auth_token_hash="h").sid, friendly_name="chat"
    )
    blobs = DiskBlobs(settings.media_directory, recorder(store))
    upload = blobs.begin(
        Draft(sids.new_sid(MEDIA), service.account_sid, service.sid, "alice", "media", None, "a/b")
    )
    upload.write(b"never sent")
    media = upload.commit()
    # Sweeps a few times a second, and uploads wait for no message at all.
    monkeypatch.setattr(sweeping, "INTERVAL", 0.05)
    monkeypatch.setattr(sweeping, "UNATTACHED", timedelta(seconds=-60))

    with supervisor._media_sweep(settings):
        poll(lambda: not store.existing_media([media.sid]), timeout=10, what="the sweep")
    assert not blobs.path(media.sid).exists()
    store.close()
