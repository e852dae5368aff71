"""Where the bytes of uploads live: files on disk (the default) or chunks in PostgreSQL.

One small interface, :class:`Blobs`. An upload is an :class:`Upload`: bytes are written as they
arrive, then ``commit`` stores them for good *and* writes the ``media`` row, or ``abort``
leaves nothing behind. Reads stream the bytes in chunks, from any offset. Every method blocks:
the HTTP door calls them on worker threads.

- :class:`DiskBlobs` writes each upload to a temporary file in the directory where it will
  live, fsyncs it and renames it into place, then writes the row. A server killed half way
  leaves a temporary file (or, between the rename and the row, a file without a row); the
  sweep removes those once they are older than an hour (``leftovers``).
- :class:`DatabaseBlobs` spools each upload to an unnamed temporary file while it arrives
  (nothing to clean up: the file goes with its descriptor, even when the process is killed),
  then writes the chunks and the row in one short transaction on a connection of its own
  pool: a client that goes or a limit exceeded never reaches the database, and a server killed
  while committing is rolled back by PostgreSQL. No connection waits on a client, so slow
  uploads cannot hold the pool that downloads need; and the pool is apart from the store's.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    exists,
    select,
)
from sqlalchemy.engine import make_url

from hubbub.sids import is_sid
from hubbub.store import schema as s
from hubbub.store.db import Clock, utc_now, whole_seconds
from hubbub.store.media import insert_media
from hubbub.store.records import MEDIA, Media, MediaCategory

#: The largest chunk stored in ``media_chunks``, and the size of reads from disk.
CHUNK = 1024 * 1024
#: The directory under the data directory where disk media live by default.
DIRECTORY = "media"
#: The directory under the media directory where the database store spools uploads.
SPOOL = "spool"
#: A temporary file's name starts so; nothing else in the directory does.
_TEMPORARY = ".upload-"
StoreKind = Literal["disk", "database"]
#: What the database store's connections call themselves (``pg_stat_activity``).
APPLICATION_NAME = "hubbub-media"
#: ``sids -> those that have a media row``: how leftovers are told from live bytes.
Existing = Callable[[Sequence[str]], set[str]]
#: ``(draft, size) -> the row written``: how a disk upload records itself (through the store).
Record = Callable[["Draft", int], Media]


@dataclass(frozen=True, slots=True)
class Draft:
    """The row an upload becomes, but for its size (counted as it is written) and dates."""

    sid: str
    account_sid: str
    service_sid: str
    author: str | None
    category: MediaCategory
    filename: str | None
    content_type: str


class UploadExpired(Exception):
    """The upload's temporary file was removed as left over (the upload stalled longer than
    the sweep waits): it must be sent again."""


class Upload(Protocol):
    """One upload under way."""

    #: Bytes written so far.
    size: int

    def write(self, data: bytes | bytearray) -> None: ...

    def commit(self) -> Media:
        """Store the bytes for good and write the media row; ``NotFound`` if its service went
        meanwhile, ``UploadExpired`` if it stalled so long that the sweep took its temporary
        file (nothing is left then)."""
        ...

    def abort(self) -> None:
        """Drop what was written; safe to call after a failed ``commit``, and twice."""
        ...


class Blobs(Protocol):
    kind: StoreKind

    def begin(self, draft: Draft) -> Upload: ...

    def read(self, sid: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes of ``sid`` from ``start`` up to ``end`` (exclusive; ``None``: the end), in
        chunks; close the iterator when not read to the end."""
        ...

    def delete(self, sid: str) -> None:
        """Remove the bytes of ``sid``, if there are any."""
        ...

    def leftovers(self, existing: Existing, older_than: float) -> int:
        """Remove bytes that have no media row (an upload cut off by a crash, a row deleted
        with its service) and were written before ``older_than`` (a Unix time); how many."""
        ...

    def close(self) -> None: ...


def _media(draft: Draft, size: int, clock: Clock) -> Media:
    now = whole_seconds(clock())
    return Media(
        draft.sid, draft.account_sid, draft.service_sid, None, None, draft.author,
        draft.category, draft.filename, draft.content_type, size, now, now,
    )  # fmt: skip


# -- disk ------------------------------------------------------------------------------------


class DiskBlobs:
    """Files under ``root``: ``root/ab/cd/MEabcd…``, readable by this user only."""

    kind: StoreKind = "disk"

    def __init__(self, root: str | os.PathLike[str], record: Record) -> None:
        """``record`` writes a committed upload's row (``Store.create_media``)."""
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._record = record

    def path(self, sid: str) -> Path:
        if not is_sid(sid, MEDIA):  # never a path of the client's making
            raise ValueError(f"not a media SID: {sid!r}")
        return self.root / sid[2:4] / sid[4:6] / sid

    def begin(self, draft: Draft) -> Upload:
        final = self.path(draft.sid)
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return _DiskUpload(self, draft, final)

    def read(self, sid: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        # Opened here, not in the generator: a missing file fails now, before any answer.
        return _file_chunks(self.path(sid).open("rb", buffering=0), start, end)

    def delete(self, sid: str) -> None:
        self.path(sid).unlink(missing_ok=True)

    def leftovers(self, existing: Existing, older_than: float) -> int:
        removed = 0
        batch: list[Path] = []

        def settle() -> int:
            alive = existing([p.name for p in batch])
            gone = [p for p in batch if p.name not in alive]
            for path in gone:
                path.unlink(missing_ok=True)
            batch.clear()
            return len(gone)

        for path in self.root.glob("??/??/*"):
            try:
                if path.stat().st_mtime >= older_than:
                    continue
            except FileNotFoundError:
                continue
            if path.name.startswith(_TEMPORARY):
                path.unlink(missing_ok=True)
                removed += 1
            elif is_sid(path.name, MEDIA):
                batch.append(path)
                if len(batch) >= 500:
                    removed += settle()
        if batch:
            removed += settle()
        return removed

    def close(self) -> None:
        pass


class _DiskUpload:
    def __init__(self, blobs: DiskBlobs, draft: Draft, final: Path) -> None:
        self._blobs = blobs
        self._draft = draft
        self._final = final
        self._temporary = final.with_name(f"{_TEMPORARY}{draft.sid}-{secrets.token_hex(4)}")
        fd = os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self.size = 0

    def write(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]
        self.size += len(data)

    def commit(self) -> Media:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        try:
            os.replace(self._temporary, self._final)
        except FileNotFoundError:
            raise UploadExpired(f"the temporary file of {self._draft.sid} is gone") from None
        _fsync_directory(self._final.parent)
        try:
            return self._blobs._record(self._draft, self.size)
        except BaseException:
            self._final.unlink(missing_ok=True)
            raise

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        self._temporary.unlink(missing_ok=True)


def _fsync_directory(path: Path) -> None:
    """Make a rename in ``path`` survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_chunks(handle: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        left = None if end is None else end - start
        while left is None or left > 0:
            data = handle.read(CHUNK if left is None else min(CHUNK, left))
            if not data:
                return
            if left is not None:
                left -= len(data)
            yield data


# -- PostgreSQL ------------------------------------------------------------------------------

_chunks = s.media_chunks
# Asked of psycopg itself, for its binary results: in text, a bytea comes as hex, twice its
# size, and decoding it made reads five times slower.
_READ_CHUNK = "SELECT data FROM media_chunks WHERE media_sid = %s AND seq = %s"


def _read_chunk(conn: Connection, sid: str, seq: int) -> bytes | None:
    driver: Any = conn.connection.driver_connection
    row = driver.execute(_READ_CHUNK, (sid, seq), binary=True).fetchone()
    return None if row is None else bytes(row[0])


class DatabaseBlobs:
    """Chunks of at most ``CHUNK`` bytes in ``media_chunks``, on PostgreSQL."""

    kind: StoreKind = "database"

    def __init__(
        self,
        url: str,
        clock: Clock = utc_now,
        *,
        spool: str | os.PathLike[str] | None = None,
        connections: int = 8,
        pool_timeout: float = 30,
    ) -> None:
        """``spool``: the directory uploads are written to while they arrive (default: the
        system's temporary directory). ``connections``: how many commits and chunk reads of
        this process may use the database at once; more wait up to ``pool_timeout`` seconds
        for one, then fail with SQLAlchemy's ``TimeoutError``."""
        parsed = make_url(url)
        if parsed.drivername.partition("+")[0] not in ("postgresql", "postgres"):
            raise ValueError(
                "the database media store needs PostgreSQL: on SQLite a long upload would hold "
                "its one write lock (use the disk media store)"
            )
        self.engine: Engine = create_engine(
            parsed.set(drivername="postgresql+psycopg"),
            pool_size=1,
            max_overflow=connections - 1,
            pool_timeout=pool_timeout,
            hide_parameters=True,  # errors must not carry the bytes of someone's file
            connect_args={"application_name": APPLICATION_NAME},
        )
        self.spool: Path | None = None
        if spool is not None:
            self.spool = Path(spool)
            self.spool.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._clock = clock

    def begin(self, draft: Draft) -> Upload:
        return _DatabaseUpload(self, draft)

    def read(self, sid: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        # The first chunk is read here, not in the generator: a full pool or missing bytes
        # fail now, before any answer has been sent.
        if end is not None and end <= start:
            return iter(())
        seq, skip = divmod(start, CHUNK)
        first = self._chunk(sid, seq)
        if first is None:
            if end is None:  # an empty file has no chunk; a caller who knows the size says so
                return iter(())
            raise FileNotFoundError(f"no chunk {seq} of media {sid}")
        return self._chunks(sid, first, seq, skip, None if end is None else end - start)

    def _chunk(self, sid: str, seq: int) -> bytes | None:
        # One short transaction per chunk: a slow reader holds no connection.
        with self.engine.connect() as conn:
            return _read_chunk(conn, sid, seq)

    def _chunks(
        self, sid: str, data: bytes, seq: int, skip: int, left: int | None
    ) -> Iterator[bytes]:
        while True:
            piece = data[skip:] if skip else data
            skip = 0
            if left is not None:
                piece = piece[:left]
                left -= len(piece)
            yield piece
            if left is not None and left <= 0:
                return
            seq += 1
            found = self._chunk(sid, seq)
            if found is None:
                if left is not None:  # fewer bytes than the row says: cut the answer short
                    raise OSError(f"media {sid} lacks chunk {seq}")
                return
            data = found

    def delete(self, sid: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(_chunks).where(_chunks.c.media_sid == sid))

    def leftovers(self, existing: Existing, older_than: float) -> int:
        # Chunks are written with their row in one transaction: any chunk visible without a
        # row is garbage, whatever its age.
        orphan = ~exists().where(s.media.c.sid == _chunks.c.media_sid)
        with self.engine.begin() as conn:
            sids = conn.execute(
                select(_chunks.c.media_sid).where(orphan).distinct().limit(1000)
            ).scalars()
            found = list(sids)
            for sid in found:
                conn.execute(delete(_chunks).where(_chunks.c.media_sid == sid))
        return len(found)

    def close(self) -> None:
        self.engine.dispose()


class _DatabaseUpload:
    """Spooled to an unnamed temporary file while the client sends (no connection held, and
    the file vanishes with its descriptor, even if the process is killed), then written in
    one short transaction by ``commit``."""

    def __init__(self, blobs: DatabaseBlobs, draft: Draft) -> None:
        self._blobs = blobs
        self._draft = draft
        # Closed by commit or abort, which the door always calls.
        spooled = tempfile.TemporaryFile(dir=blobs.spool, buffering=0)  # noqa: SIM115
        self._file: BinaryIO | None = spooled
        self.size = 0

    def _spooled(self) -> BinaryIO:
        if self._file is None:
            raise RuntimeError("the upload is over")
        return self._file

    def write(self, data: bytes | bytearray) -> None:
        spooled = self._spooled()
        view = memoryview(data)
        while view:
            written = spooled.write(view)
            view = view[written or 0 :]
        self.size += len(data)

    def commit(self) -> Media:
        spooled = self._spooled()
        spooled.seek(0)
        media = _media(self._draft, self.size, self._blobs._clock)
        try:
            # All or nothing: a failure or a killed process rolls the chunks back with the row.
            with self._blobs.engine.begin() as conn:
                seq = 0
                while data := _read_full(spooled, CHUNK):
                    conn.execute(
                        _chunks.insert().values(media_sid=self._draft.sid, seq=seq, data=data)
                    )
                    seq += 1
                insert_media(conn, media)
        finally:
            self.abort()
        return media

    def abort(self) -> None:
        spooled, self._file = self._file, None
        if spooled is not None:
            with contextlib.suppress(OSError):
                spooled.close()


def _read_full(handle: BinaryIO, size: int) -> bytes:
    """``size`` bytes of ``handle`` (fewer only at its end): reads assume every chunk but the
    last is whole."""
    parts: list[bytes] = []
    left = size
    while left > 0:
        data = handle.read(left)
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def open_blobs(
    kind: StoreKind,
    *,
    db_url: str,
    directory: str | os.PathLike[str],
    record: Record,
    clock: Clock = utc_now,
) -> Blobs:
    """The blob store ``kind`` names: files in ``directory``, or chunks in the PostgreSQL
    database at ``db_url``. ``record`` writes a disk upload's row."""
    if kind == "database":
        return DatabaseBlobs(db_url, clock, spool=Path(directory) / SPOOL)
    return DiskBlobs(directory, record)
