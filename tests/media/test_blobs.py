"""The blob store contract, against files on disk and chunks in a real PostgreSQL."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from hubbub import sids
from hubbub.media.blobs import CHUNK, DatabaseBlobs, DiskBlobs, Draft, UploadExpired
from hubbub.media.setup import recorder
from hubbub.store import NotFound, open_store
from hubbub.store.records import MEDIA
from tests.media.conftest import Bench

SIZES = (0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + CHUNK // 2)


def _pattern(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]


@pytest.mark.parametrize("size", SIZES)
def test_bytes_come_back_as_written_in_pieces_of_any_size(bench: Bench, size: int) -> None:
    data = _pattern(size)
    upload = bench.blobs.begin(bench.draft())
    for at in range(0, size, 65_537):  # pieces that never line up with the chunks
        upload.write(data[at : at + 65_537])
    media = upload.commit()

    assert media.size == size
    assert bench.store.get_media(bench.service.sid, media.sid) == media
    chunks = list(bench.blobs.read(media.sid))
    assert b"".join(chunks) == data
    assert all(len(chunk) <= CHUNK for chunk in chunks)
    assert bench.held() == (1 if bench.kind == "disk" else -(-size // CHUNK))


def test_any_range_reads_what_it_names(bench: Bench) -> None:
    data = _pattern(2 * CHUNK + 10)
    upload = bench.blobs.begin(bench.draft())
    upload.write(data)
    sid = upload.commit().sid

    for start, end in ((0, 1), (5, CHUNK), (CHUNK - 3, CHUNK + 3), (CHUNK, 2 * CHUNK + 10),
                       (2 * CHUNK + 9, 2 * CHUNK + 10), (7, None)):  # fmt: skip
        assert b"".join(bench.blobs.read(sid, start, end)) == data[start:end]


def test_an_aborted_upload_leaves_nothing(bench: Bench) -> None:
    draft = bench.draft()
    upload = bench.blobs.begin(draft)
    upload.write(_pattern(CHUNK * 2 + 5))

    upload.abort()
    upload.abort()

    assert bench.held() == 0
    with pytest.raises(NotFound):
        bench.store.get_media(bench.service.sid, draft.sid)


def test_an_upload_to_a_service_deleted_meanwhile_leaves_nothing(bench: Bench) -> None:
    draft = bench.draft()
    upload = bench.blobs.begin(draft)
    upload.write(_pattern(CHUNK + 1))
    bench.store.delete_service(bench.service.account_sid, bench.service.sid)

    with pytest.raises(NotFound):
        upload.commit()
    upload.abort()

    assert bench.held() == 0
    assert bench.store.existing_media([draft.sid]) == set()


def test_delete_removes_the_bytes(bench: Bench) -> None:
    kept, gone = bench.blobs.begin(bench.draft()), bench.blobs.begin(bench.draft())
    kept.write(b"kept")
    gone.write(_pattern(CHUNK + 1))
    kept_sid, gone_sid = kept.commit().sid, gone.commit().sid

    bench.blobs.delete(gone_sid)
    bench.blobs.delete(gone_sid)

    assert bench.held() == 1
    assert b"".join(bench.blobs.read(kept_sid)) == b"kept"
    assert b"".join(_read_or_nothing(bench, gone_sid)) == b""


def _read_or_nothing(bench: Bench, sid: str) -> list[bytes]:
    try:
        return list(bench.blobs.read(sid))
    except FileNotFoundError:
        return []


def test_leftovers_are_bytes_without_a_row_once_old_enough(bench: Bench) -> None:
    kept = bench.blobs.begin(bench.draft())
    kept.write(b"kept")
    kept_sid = kept.commit().sid
    orphan = bench.blobs.begin(bench.draft())
    orphan.write(b"orphan")
    orphan_sid = orphan.commit().sid
    bench.store.delete_media(bench.service.sid, orphan_sid)  # a crash between row and bytes
    if bench.root is not None:  # and a temporary file a killed server left
        stray = bench.root / "ab" / "cd" / f".upload-ME{'ab' * 16}-1234"
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"half")

    if bench.kind == "disk":
        # Files are given an hour: a fresh one may be an upload renamed but not yet recorded.
        assert bench.blobs.leftovers(bench.store.existing_media, time.time() - 3600) == 0
        assert bench.held() == 3
    removed = bench.blobs.leftovers(bench.store.existing_media, time.time() + 1)

    assert removed == (2 if bench.kind == "disk" else 1)
    assert bench.held() == 1
    assert b"".join(bench.blobs.read(kept_sid)) == b"kept"


def test_disk_files_are_private(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'hubbub.db'}")
    service = store.create_service(
        store.create_account(friendly_name="a", auth_token_hash="h").sid, friendly_name="chat"
    )
    blobs = DiskBlobs(tmp_path / "media", recorder(store))
    upload = blobs.begin(
        Draft(sids.new_sid(MEDIA), service.account_sid, service.sid, None, "media", None, "a/b")
    )
    upload.write(b"secret")
    sid = upload.commit().sid
    store.close()

    assert blobs.path(sid) == tmp_path / "media" / sid[2:4] / sid[4:6] / sid
    assert os.stat(blobs.path(sid)).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "media").st_mode & 0o777 == 0o700
    with pytest.raises(ValueError, match="not a media SID"):
        blobs.path("../../etc/passwd")


def _database(bench: Bench) -> DatabaseBlobs:
    assert isinstance(bench.blobs, DatabaseBlobs)
    return bench.blobs


def test_a_database_upload_holds_no_connection_until_it_commits(database_bench: Bench) -> None:
    bench = database_bench
    blobs = _database(bench)
    upload = blobs.begin(bench.draft())
    upload.write(_pattern(CHUNK + 7))
    assert blobs.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    # Spooled to a file with no name: the spool directory stays empty, even now.
    assert blobs.spool is not None
    assert list(blobs.spool.iterdir()) == []
    assert bench.held() == 0
    sid = upload.commit().sid

    assert blobs.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert bench.held() == 2
    assert b"".join(blobs.read(sid)) == _pattern(CHUNK + 7)


def test_a_database_read_fails_before_its_first_byte(database_bench: Bench) -> None:
    bench = database_bench
    blobs = _database(bench)
    upload = blobs.begin(bench.draft())
    upload.write(_pattern(2 * CHUNK + 1))
    sid = upload.commit().sid
    blobs.delete(sid)
    # Missing bytes raise at the call (the door answers 404), not half way through a 200.
    with pytest.raises(FileNotFoundError):
        blobs.read(sid, 0, 2 * CHUNK + 1)
    with pytest.raises(FileNotFoundError):
        blobs.read(sid, CHUNK + 3, 2 * CHUNK + 1)
    assert list(blobs.read(sid, 0, 0)) == []

    # A pool with no connection free times out at the call too (the door answers 503).
    small = DatabaseBlobs(bench.db_url, connections=1, pool_timeout=0.2)
    try:
        with small.engine.connect(), pytest.raises(PoolTimeout):
            small.read(sid, 0, 10)
    finally:
        small.close()


def test_a_disk_upload_whose_file_was_swept_fails_cleanly(bench: Bench) -> None:
    draft = bench.draft()
    upload = bench.blobs.begin(draft)
    upload.write(b"stalled")
    # An hour later (the sweep's wait for bytes without a row), the upload is still open.
    bench.blobs.leftovers(bench.store.existing_media, time.time() + 3601)
    upload.write(b" for an hour")

    if bench.kind == "disk":
        with pytest.raises(UploadExpired):
            upload.commit()
        upload.abort()
        assert bench.held() == 0
        assert bench.store.existing_media([draft.sid]) == set()
    else:  # spooled with no name: nothing for the sweep to take
        assert b"".join(bench.blobs.read(upload.commit().sid)) == b"stalled for an hour"
