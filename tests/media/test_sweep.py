"""The sweep over both blob stores: what no message shows goes, row and bytes; the rest stays."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.fernet import Fernet

from hubbub import sids
from hubbub.chat import channels, messages
from hubbub.chat.core import Actor, Core, NoHooks, Outcome
from hubbub.chat.errors import ApiError
from hubbub.chat.provision import new_account
from hubbub.chat.render import Urls
from hubbub.crypto import SecretBox
from hubbub.media.blobs import DiskBlobs, Draft
from hubbub.media.setup import recorder
from hubbub.media.sweep import LEFTOVER, UNATTACHED, Swept, sweep
from hubbub.store import Media, NotFound, open_store
from hubbub.store.db import utc_now
from hubbub.store.records import MEDIA
from tests.media.conftest import Bench
from tests.twilio_sdk.nodes import poll

V = TypeVar("V")


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


# -- the sweep racing a send -----------------------------------------------------------------


class _World:
    """A chat service on the bench's store (real users, channel, messages), its uploads old
    enough for the sweep to take."""

    swept: Swept

    def __init__(self, bench: Bench, hooks: object = None) -> None:
        self.bench = bench
        self.creds = new_account(bench.store, SecretBox(Fernet.generate_key()))
        self.core = Core(bench.store, hooks=hooks or NoHooks())  # type: ignore[arg-type]
        bench.store.create_user(self.creds.chat_service_sid, "alice")
        self.alice = Actor(
            self.creds.account_sid, self.creds.chat_service_sid, Urls("http://127.0.0.1"), "alice"
        )
        channels.create_channel(self.core, self.alice, {"unique_name": "room"})
        self.later = utc_now() + UNATTACHED + timedelta(minutes=1)

    def upload(self, data: bytes) -> Media:
        draft = self.bench.draft(
            account_sid=self.creds.account_sid, service_sid=self.creds.chat_service_sid
        )
        upload = self.bench.blobs.begin(draft)
        upload.write(data)
        return upload.commit()

    def send(self, media_sid: str) -> Outcome:
        return messages.send_message(
            self.core, self.alice, "room", {"body": "", "media_sid": media_sid}
        )

    def stored_messages(self) -> list[Any]:
        return list(self.bench.store.list_messages(self.creds.chat_service_sid, "room").items)


class _SweepOnSend(NoHooks):
    """Runs the sweep after a send checked its media and before it stores the message."""

    world: _World

    def before(self, action: str, actor: Actor, values: V, subject: object = None) -> V:
        if action == "send_message":
            self.world.swept = sweep(
                self.world.bench.store, self.world.bench.blobs, now=self.world.later
            )
        return values


def test_a_send_the_sweep_overtakes_fails_whole(bench: Bench) -> None:
    hooks = _SweepOnSend()
    world = hooks.world = _World(bench, hooks)
    media = world.upload(b"about to be sent")

    with pytest.raises(NotFound):  # the door answers it as a 404 in Twilio's shape
        world.send(media.sid)

    assert world.swept.unattached == 1  # the sweep did free it, row and bytes
    assert world.stored_messages() == []  # and no message points at nothing
    assert bench.store.existing_media([media.sid]) == set()
    assert _bytes(bench, media.sid) == b""
    hooks.before = NoHooks().before  # type: ignore[method-assign]
    with pytest.raises(ApiError) as later:  # sent once swept: refused while checking
        world.send(media.sid)
    assert (later.value.status, later.value.code) == (404, 50507)
    assert world.stored_messages() == []


class _Racing:
    """The bench's store, but a message takes the first loose upload the moment the sweep has
    listed it (between its listing and its conditional delete)."""

    def __init__(self, world: _World) -> None:
        self._world = world
        self.sent: list[str] = []

    def unattached_media(self, before: datetime, *, limit: int = 1000) -> list[Media]:
        found = self._world.bench.store.unattached_media(before, limit=limit)
        if found and not self.sent:
            outcome = self._world.send(found[0].sid)
            assert outcome.resource is not None
            self.sent.append(found[0].sid)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world.bench.store, name)


def test_an_upload_sent_while_the_sweep_runs_is_kept(bench: Bench) -> None:
    world = _World(bench)
    media = world.upload(b"sent just in time")
    racing = _Racing(world)

    swept = sweep(racing, bench.blobs, now=world.later)  # type: ignore[arg-type]

    assert racing.sent == [media.sid]
    assert swept == Swept()  # its conditional delete found it carried, and let it be
    [message] = world.stored_messages()
    assert bench.store.get_media(world.creds.chat_service_sid, media.sid).message_sid == message.sid
    assert _bytes(bench, media.sid) == b"sent just in time"
