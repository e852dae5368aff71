"""The shared machinery under every resource module: transactions, the clock, paging, lookups.

A :class:`Backend` holds the few things that truly differ between SQLite and PostgreSQL; every SQL
statement is written once against the tables in :mod:`hubbub.store.schema`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Row,
    Select,
    Table,
    bindparam,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from hubbub.sids import is_sid
from hubbub.store import schema as s
from hubbub.store.cursor import after_created, created_cursor
from hubbub.store.errors import Conflict, NotFound
from hubbub.store.records import CHANNEL, Page

T = TypeVar("T")

Clock = Callable[[], datetime]


class Collector(Protocol):
    """Work gathered over an ``atomic`` block and done once at its end (``Base.collector``)."""

    def flush(self) -> None: ...


C = TypeVar("C", bound=Collector)


@dataclass(frozen=True, slots=True)
class Backend:
    """What differs between SQL backends."""

    name: str
    engine: Engine
    #: Called on a fresh connection before SQLAlchemy begins its transaction; ``write`` says whether
    #: the transaction will write (SQLite then takes the write lock up front).
    begin: Callable[[Connection, bool], None]
    #: ``INSERT ... ON CONFLICT (columns) DO NOTHING`` for ``table``.
    insert_ignore: Callable[[Table, Sequence[str]], Insert]
    #: Whether an IntegrityError is a unique-key violation (not a foreign key or NOT NULL one).
    is_unique_violation: Callable[[IntegrityError], bool]
    #: Held around every write transaction, where the database needs writers queued (SQLite).
    write_lock: Callable[[], AbstractContextManager[None]] = nullcontext


@contextmanager
def transaction(backend: Backend, *, write: bool) -> Iterator[Connection]:
    """A pooled connection inside one transaction, committed when the block ends without error."""
    with backend.write_lock() if write else nullcontext(), backend.engine.connect() as conn:
        backend.begin(conn, write)
        with conn.begin():
            yield conn


def utc_now() -> datetime:
    return datetime.now(UTC)


def whole_seconds(value: datetime) -> datetime:
    """``value`` in UTC without its fraction of a second; naive datetimes are refused."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
    return value.astimezone(UTC).replace(microsecond=0)


class Base:
    """Transactions, the clock and helpers every resource mixin uses."""

    def __init__(self, backend: Backend, clock: Clock = utc_now) -> None:
        self._backend = backend
        self._clock = clock
        #: The connection of this thread's ``atomic`` block, if one is open.
        self._ambient = threading.local()

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._backend.name

    def close(self) -> None:
        """Close every pooled connection."""
        self._backend.engine.dispose()

    def _now(self) -> datetime:
        return whole_seconds(self._clock())

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One write transaction for every store call this thread makes inside the block:
        all of them are committed when it ends, or none if it raises. Blocks nest; each write
        inside is a savepoint, so one that raises undoes only its own changes."""
        if getattr(self._ambient, "conn", None) is not None:
            yield
            return
        with transaction(self._backend, write=True) as conn:
            self._ambient.conn = conn
            appended: list[tuple[Table, list[dict[str, Any]]]] = []
            self._ambient.appended = appended
            collectors: dict[Hashable, Collector] = {}
            self._ambient.collectors = collectors
            try:
                yield
                for collector in collectors.values():
                    collector.flush()
                for table, rows in appended:
                    conn.execute(insert(table), rows)
            finally:
                self._ambient.conn = None
                self._ambient.appended = []
                self._ambient.collectors = None

    def collector(self, key: Hashable, make: Callable[[], C]) -> C | None:
        """Inside an ``atomic`` block: the block's collector for ``key``, made by ``make`` the
        first time, whose ``flush`` runs once the block's work is done (before its appended
        rows are inserted and it commits); ``None`` outside a block. What many actions of one
        block (a group commit) need done once is done there."""
        collectors: dict[Hashable, Any] | None = getattr(self._ambient, "collectors", None)
        if collectors is None:
            return None
        found = collectors.get(key)
        if found is None:
            found = collectors[key] = make()
        return found

    def _append(self, table: Table, rows: list[dict[str, Any]]) -> bool:
        """Rows for ``table`` to insert when this thread's ``atomic`` block ends (one
        statement for all that came of a kind: a batch of messages queues one webhook each),
        if a block is open; whether they were taken."""
        appended: list[tuple[Table, list[dict[str, Any]]]] | None = getattr(
            self._ambient, "appended", None
        )
        if getattr(self._ambient, "conn", None) is None or appended is None:
            return False
        if appended and appended[-1][0] is table:
            appended[-1][1].extend(rows)
        else:
            appended.append((table, list(rows)))
        return True

    def _read(self) -> AbstractContextManager[Connection]:
        conn: Connection | None = getattr(self._ambient, "conn", None)
        return transaction(self._backend, write=False) if conn is None else nullcontext(conn)

    def _write(self) -> AbstractContextManager[Connection]:
        conn: Connection | None = getattr(self._ambient, "conn", None)
        return transaction(self._backend, write=True) if conn is None else _savepoint(conn)

    @contextmanager
    def _unique(self, conflict: Conflict) -> Iterator[None]:
        """Turn a unique-key violation inside the block into ``conflict``."""
        try:
            yield
        except IntegrityError as exc:
            if self._backend.is_unique_violation(exc):
                raise conflict from None
            raise


@contextmanager
def _savepoint(conn: Connection) -> Iterator[Connection]:
    """A write joining an ``atomic`` block: undone alone if it raises (PostgreSQL would
    otherwise refuse every later statement of the transaction)."""
    with conn.begin_nested():
        yield conn


def ref_key(ref: str, prefix: str, natural: str) -> str:
    """The column ``ref`` names: ``sid`` if it is shaped like a ``prefix`` SID, else ``natural``."""
    return "sid" if is_sid(ref, prefix) else natural


def by_ref(table: Table, ref: str, prefix: str, natural: str) -> ColumnElement[bool]:
    """Match ``ref`` as a SID when it looks like one with ``prefix``, else as the natural key."""
    return table.c[ref_key(ref, prefix, natural)] == ref


# Lookups run on every request: building and hashing a fresh statement each time costs more than
# running it, so each shape is built once, with one bound parameter per column, named after it.
@functools.cache
def find(table: Table, *columns: str) -> Select[Any]:
    """``SELECT * FROM table WHERE column = :column AND ...``."""
    return select(table).where(*(table.c[name] == bindparam(name) for name in columns))


@functools.cache
def find_sid(table: Table, *columns: str, lock: bool = False) -> Select[Any]:
    """``SELECT sid FROM table WHERE column = :column AND ...``, ``FOR UPDATE`` with ``lock``."""
    stmt = select(table.c.sid).where(*(table.c[name] == bindparam(name) for name in columns))
    return stmt.with_for_update() if lock else stmt


def page_by_created(
    conn: Connection,
    stmt: Select[Any],
    table: Table,
    convert: Callable[[Row[Any]], T],
    limit: int,
    cursor: str | None,
) -> Page[T]:
    """Run ``stmt`` as one page ordered by ``(date_created, sid)`` of ``table``."""
    check_limit(limit)
    if cursor is not None:
        stmt = stmt.where(after_created(table, cursor))
    stmt = stmt.order_by(table.c.date_created, table.c.sid).limit(limit + 1)
    rows = conn.execute(stmt).all()
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = created_cursor(last.date_created, last.sid)
    return Page(tuple(convert(row) for row in rows[:limit]), next_cursor)


def check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"a page holds at least one item, not {limit}")


def service_row(conn: Connection, service_sid: str) -> Row[Any]:
    """The service's row, or NotFound."""
    row = conn.execute(find(s.services, "sid"), {"sid": service_sid}).first()
    if row is None:
        raise NotFound("Service", service_sid)
    return row


def require_service(conn: Connection, service_sid: str) -> None:
    found = conn.execute(find_sid(s.services, "sid"), {"sid": service_sid}).first()
    if found is None:
        raise NotFound("Service", service_sid)


def channel_sid(conn: Connection, service_sid: str, ref: str, *, lock: bool = False) -> str:
    """The SID of the channel ``ref`` (SID or unique name) in the service, or NotFound.

    ``lock`` takes the channel's row lock first (PostgreSQL), so that writers touching a channel and
    then its users always lock in that order.
    """
    key = ref_key(ref, CHANNEL, "unique_name")
    stmt = find_sid(s.channels, "service_sid", key, lock=lock)
    found = conn.execute(stmt, {"service_sid": service_sid, key: ref}).scalar()
    if found is None:
        raise NotFound("Channel", ref)
    return str(found)


def require_role(conn: Connection, service_sid: str, role_sid: str) -> None:
    stmt = find_sid(s.roles, "sid", "service_sid")
    if conn.execute(stmt, {"sid": role_sid, "service_sid": service_sid}).first() is None:
        raise NotFound("Role", role_sid)


def pick_role(conn: Connection, service: Row[Any], role_sid: str | None, default: str) -> str:
    """``role_sid`` once checked to be a role of ``service``, or the service's role named
    ``default``."""
    if role_sid is None:
        chosen = getattr(service, default)
        if chosen is None:
            raise NotFound("Role", default)
        return str(chosen)
    require_role(conn, service.sid, role_sid)
    return role_sid


def refuse_sid_shape(value: str, prefix: str, what: str) -> None:
    """Natural keys may not look like SIDs, or lookups by SID-or-key would be ambiguous.

    Twilio refuses these too (error 50206 for identities shaped like a user SID).
    """
    if is_sid(value, prefix):
        raise ValueError(f"{what} {value!r} must not look like a {prefix} SID")
