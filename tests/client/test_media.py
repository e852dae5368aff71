"""Files in messages through the SDK, against a real server with its media service: upload with
the client's token, send, and read the bytes back from the link the receiver is given."""

from __future__ import annotations

import hashlib
import os
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from hubbub.chat.provision import new_account
from hubbub.client import ChatError, Media, Message
from hubbub.client.media import media_url
from hubbub.crypto import SecretBox
from hubbub.media.blobs import DiskBlobs
from hubbub.media.setup import recorder
from hubbub.media.signing import Signer
from hubbub.store import open_store
from hubbub.web.app import create_app
from tests.client.support import connect, record, run, until
from tests.realtime.conftest import RealtimeServer
from tests.web.server import running

MiB = 1024 * 1024
#: A 1×1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c494441"
    "54789c6360686000000104008170f6c7a50000000049454e44ae426082"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RealtimeServer]:
    """The gateway and the media service (uploads on disk), as ``hubbub serve`` has them."""
    store = open_store(f"sqlite:///{tmp_path / 'media.db'}")
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    blobs = DiskBlobs(tmp_path / "media", recorder(store))
    app = create_app(store, box, media=(blobs, Signer(os.urandom(32))))
    try:
        with running(app) as base_url:
            url = base_url.replace("http://", "ws://") + "/v1/ws"
            yield RealtimeServer(url, base_url, store, box, creds, "hubbub", app.state.node)
    finally:
        store.close()


def test_the_media_service_is_beside_the_gateway() -> None:
    sid = "IS" + "0" * 32
    assert media_url("ws://h:8/v1/ws", sid) == f"http://h:8/v1/Services/{sid}/Media"
    assert media_url("wss://h/chat/v1/ws", sid) == f"https://h/chat/v1/Services/{sid}/Media"


def test_a_file_sent_by_one_user_is_read_by_another(server: RealtimeServer, tmp_path: Path) -> None:
    photo = tmp_path / "dot.png"
    photo.write_bytes(PNG)
    notes = b"minutes of the meeting\n" * 100

    async def scenario() -> None:
        async with (
            await connect(server, "alice") as alice,
            await connect(server, "bob") as bob,
        ):
            room = await alice.create_channel(unique_name="room")
            await (await bob.get_channel_by_unique_name("room")).join()
            added = record(bob, "message_added")
            # A path: its name and a type guessed from it.
            assert await room.send_message(media=photo) == 0
            # Bytes, with a name and type, and words beside them.
            assert (
                await room.send_message(
                    "the notes", media=notes, filename="notes.txt", content_type="text/plain"
                )
                == 1
            )
            # An open file.
            with photo.open("rb") as opened:
                await room.send_message(media=opened, filename="again.png")
            await until(lambda: len(added) == 3)
            first: Message = added[0]
            assert (first.type, first.body, first.author) == ("media", "", "alice")
            assert first.media is not None
            assert (first.media.filename, first.media.content_type, first.media.size) == (
                "dot.png", "image/png", len(PNG),
            )  # fmt: skip
            assert await first.media.get_content() == PNG
            # The link works without the token, as an <img src> would use it.
            link = await first.media.get_content_temporary_url()
            async with httpx.AsyncClient() as http:
                fetched = await http.get(link)
            assert fetched.content == PNG
            second: Message = added[1]
            assert second.body == "the notes"
            assert second.media == Media(second.media.sid, "notes.txt", "text/plain", len(notes))  # type: ignore[union-attr]
            assert await second.media.get_content() == notes  # type: ignore[union-attr]
            # History carries the media too, and can fetch it.
            history = await (await bob.get_channel_by_unique_name("room")).get_messages()
            assert [m.type for m in history] == ["media", "media", "media"]
            assert await history[2].media.get_content() == PNG  # type: ignore[union-attr]

            # Someone outside the channel cannot read a file sent in it.
            async with await connect(server, "eve") as eve:
                with pytest.raises(ChatError) as refused:
                    await eve._media.content_url(first.media.sid)
                assert refused.value.status == 403
            with pytest.raises(ValueError, match="body, a media"):
                await room.send_message()

    run(scenario())


def test_files_are_streamed_both_ways(server: RealtimeServer, tmp_path: Path) -> None:
    size = 24 * MiB
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        for n in range(size // MiB):
            out.write(bytes([n]) * MiB)
    saved = tmp_path / "saved.bin"

    async def scenario() -> None:
        async with await connect(server, "alice") as alice:
            room = await alice.create_channel(unique_name="room")
            added = record(alice, "message_added")
            # The server runs in this process too: the peak covers both ends.
            tracemalloc.start()
            try:
                await room.send_message(media=big)
                await until(lambda: len(added) == 1)
                media = added[0].media
                assert media.size == size
                assert await media.save_content(saved) == size
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert peak < 12 * MiB, f"{peak / MiB:.1f} MiB held for a {size // MiB} MiB file"
            assert _digest(saved) == _digest(big)

            # An open file is sent from where it stands; a pipe (no length) is sent chunked.
            with big.open("rb") as opened:
                opened.seek(size - 10)
                await room.send_message(media=opened)
            read_end, write_end = os.pipe()
            threading.Thread(target=_feed, args=(write_end, b"piped " * 100_000)).start()
            with os.fdopen(read_end, "rb") as piped:
                await room.send_message(media=piped, filename="piped.txt")
            await until(lambda: len(added) == 3)
            rest, pipe = added[1].media, added[2].media
            assert (rest.size, await rest.get_content()) == (10, bytes([size // MiB - 1]) * 10)
            assert [piece async for piece in pipe.stream_content()] != []
            assert await pipe.get_content() == b"piped " * 100_000

    run(scenario())


def _feed(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
