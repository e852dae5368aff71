"""Where the bytes of uploads live: files on disk (the default) or chunks in PostgreSQL.

One small interface, :class:`Blobs`. An upload is an :class:`Upload`: bytes are written as they
arrive, then ``commit`` stores them for good *and* writes the ``media`` row, or ``abort``
leaves nothing behind. Reads stream the bytes in chunks, from any offset. Every method blocks:
the HTTP door calls them on worker threads.

- :class:`DiskBlobs` writes each upload to a temporary file in the directory where it will
  live, fsyncs it and renames it into place, then writes the row. A server killed half way
  leaves a temporary file (or, between the rename and the row, a file without a row); the
  sweep removes those once they are older than an hour (``leftovers``).
- :class:`DatabaseBlobs` writes the chunks and the row in one transaction on one connection
  of its own pool, so a client that goes, a limit exceeded or a server killed rolls it all
  back: PostgreSQL discards an open transaction whose connection is lost. Its pool is apart
  from the store's, so slow uploads cannot take the connections chat needs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    RootTransaction,
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
#: A temporary file's name starts so; nothing else in the directory does.
_TEMPORARY = ".upload-"
StoreKind = Literal["disk", "database"]
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


class Upload(Protocol):
    """One upload under way."""

    #: Bytes written so far.
    size: int

    def write(self, data: bytes | bytearray) -> None: ...

    def commit(self) -> Media:
        """Store the bytes for good and write the media row; ``NotFound`` if its service went
        meanwhile (nothing is left then)."""
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
        os.replace(self._temporary, self._final)
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

    def __init__(self, url: str, clock: Clock = utc_now, *, connections: int = 8) -> None:
        """``connections``: how many uploads and chunk reads of this process may use the
        database at once; more wait for one."""
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
            pool_timeout=60,
            hide_parameters=True,  # errors must not carry the bytes of someone's file
        )
        self._clock = clock

    def begin(self, draft: Draft) -> Upload:
        return _DatabaseUpload(self, draft)

    def read(self, sid: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self._chunks(sid, start, end)

    def _chunks(self, sid: str, start: int, end: int | None) -> Iterator[bytes]:
        seq, skip = divmod(start, CHUNK)
        left = None if end is None else end - start
        while left is None or left > 0:
            # One short transaction per chunk: a slow reader holds no connection.
            with self.engine.connect() as conn:
                data = _read_chunk(conn, sid, seq)
            if data is None:
                return
            piece = bytes(data[skip:]) if skip else bytes(data)
            skip = 0
            if left is not None:
                piece = piece[:left]
                left -= len(piece)
            yield piece
            seq += 1

    def delete(self, sid: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(_chunks).where(_chunks.c.media_sid == sid))

    def leftovers(self, existing: Existing, older_than: float) -> int:
        # Chunks of an upload under way are not visible outside its transaction, and commit
        # with its row: any chunk visible without a row is garbage, whatever its age.
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
    def __init__(self, blobs: DatabaseBlobs, draft: Draft) -> None:
        self._blobs = blobs
        self._draft = draft
        self._conn: Connection | None = blobs.engine.connect()
        self._tx: RootTransaction | None = self._conn.begin()
        self._pending = bytearray()
        self._seq = 0
        self.size = 0

    def write(self, data: bytes | bytearray) -> None:
        self.size += len(data)
        self._pending += data
        while len(self._pending) >= CHUNK:
            self._insert(bytes(self._pending[:CHUNK]))
            del self._pending[:CHUNK]

    def _connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the upload is over")
        return self._conn

    def _insert(self, data: bytes) -> None:
        self._connection().execute(
            _chunks.insert().values(media_sid=self._draft.sid, seq=self._seq, data=data)
        )
        self._seq += 1

    def commit(self) -> Media:
        if self._pending:
            self._insert(bytes(self._pending))
            self._pending.clear()
        conn = self._connection()
        media = _media(self._draft, self.size, self._blobs._clock)
        insert_media(conn, media)
        conn.commit()
        self._finish()
        return media

    def abort(self) -> None:
        if self._tx is not None:
            with contextlib.suppress(Exception):
                self._tx.rollback()
        self._finish()

    def _finish(self) -> None:
        self._tx = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._pending = bytearray()


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
        return DatabaseBlobs(db_url, clock)
    return DiskBlobs(directory, record)
