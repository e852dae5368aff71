"""Messages of a channel, indexed from 0 in the order they were accepted.

The index comes from ``channels.next_message_index``, bumped by the same ``UPDATE ... RETURNING``
that counts the message, inside the transaction that inserts it. On PostgreSQL that UPDATE holds the
channel's row lock until commit, so concurrent senders queue on it; on SQLite the write transaction
starts with ``BEGIN IMMEDIATE``, so writers are serialized before they read anything. Either way no
two messages share an index, and a deleted message's index is never handed out again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, delete, insert, select, update

from hubbub import sids
from hubbub.store import schema as s
from hubbub.store.codec import media_json, message_of
from hubbub.store.cursor import after_index, index_cursor
from hubbub.store.db import Base, channel_sid, check_limit, find, whole_seconds
from hubbub.store.errors import NotFound
from hubbub.store.records import (
    CHANNEL,
    MESSAGE,
    UNSET,
    Message,
    MessageMedia,
    MessageType,
    NewMessage,
    Order,
    Page,
    Unset,
)


def _bump(key: str) -> Any:
    c = s.channels
    return (
        update(c)
        .where(c.c.service_sid == bindparam("service"), c.c[key] == bindparam("ref"))
        .values(
            next_message_index=c.c.next_message_index + 1,
            messages_count=c.c.messages_count + 1,
        )
        .returning(c.c.sid, c.c.next_message_index)
    )


# Built once: sending a message is the hot path, and a reused statement skips compilation.
_BUMP_BY_SID = _bump("sid")
_BUMP_BY_NAME = _bump("unique_name")
_INSERT = insert(s.messages)


def _bump_many(key: str) -> Any:
    c = s.channels
    count = bindparam("count", type_=Integer)
    return (
        update(c)
        .where(c.c.service_sid == bindparam("service"), c.c[key] == bindparam("ref"))
        .values(
            next_message_index=c.c.next_message_index + count,
            messages_count=c.c.messages_count + count,
        )
        .returning(c.c.sid, c.c.next_message_index)
    )


_BUMP_MANY_BY_SID = _bump_many("sid")
_BUMP_MANY_BY_NAME = _bump_many("unique_name")

# The same statements for sqlite3 itself; dates as SQLAlchemy stores them on SQLite (UTC text).
_RAW_BUMP = (
    "UPDATE channels SET next_message_index = next_message_index + ?, "
    "messages_count = messages_count + ? WHERE service_sid = ? AND {} = ? "
    "RETURNING sid, next_message_index"
)
_RAW_BUMP_BY_SID = _RAW_BUMP.format("sid")
_RAW_BUMP_BY_NAME = _RAW_BUMP.format("unique_name")
_RAW_INSERT = (
    "INSERT INTO messages (sid, channel_sid, service_sid, message_index, author, body, "
    "attributes, type, media, was_edited, last_updated_by, date_created, date_updated) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 'text', NULL, 0, NULL, ?, ?)"
)
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


class MessageOps(Base):
    def create_message(
        self,
        service_sid: str,
        channel: str,
        *,
        body: str = "",
        from_: str = "system",
        attributes: str = "{}",
        media: MessageMedia | None = None,
        last_updated_by: str | None = None,
        date_created: datetime | None = None,
        date_updated: datetime | None = None,
    ) -> Message:
        now = self._now()
        created = now if date_created is None else whole_seconds(date_created)
        updated = now if date_updated is None else whole_seconds(date_updated)
        kind: MessageType = "text" if media is None else "media"
        sid = sids.new_sid(MESSAGE)
        bump = _BUMP_BY_SID if sids.is_sid(channel, CHANNEL) else _BUMP_BY_NAME
        with self._write() as conn:
            counted = conn.execute(bump, {"service": service_sid, "ref": channel}).first()
            if counted is None:
                raise NotFound("Channel", channel)
            index = counted.next_message_index - 1
            conn.execute(
                _INSERT,
                {
                    "sid": sid,
                    "channel_sid": counted.sid,
                    "service_sid": service_sid,
                    "message_index": index,
                    "author": from_,
                    "body": body,
                    "attributes": attributes,
                    "type": kind,
                    "media": media_json(media),
                    "was_edited": False,
                    "last_updated_by": last_updated_by,
                    "date_created": created,
                    "date_updated": updated,
                },
            )
        return Message(
            sid,
            counted.sid,
            service_sid,
            index,
            from_,
            body,
            attributes,
            kind,
            media,
            False,
            last_updated_by,
            created,
            updated,
        )

    def get_message(self, service_sid: str, channel: str, sid: str) -> Message:
        m = s.messages
        with self._read() as conn:
            channel_key = channel_sid(conn, service_sid, channel)
            stmt = find(m, "sid", "channel_sid")
            row = conn.execute(stmt, {"sid": sid, "channel_sid": channel_key}).first()
        if row is None:
            raise NotFound("Message", sid)
        return message_of(row)

    def list_messages(
        self,
        service_sid: str,
        channel: str,
        *,
        order: Order = "asc",
        start_index: int | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Message]:
        check_limit(limit)
        if order not in ("asc", "desc"):
            raise ValueError(f"order is 'asc' or 'desc', not {order!r}")
        m = s.messages
        column = m.c.message_index
        with self._read() as conn:
            stmt = select(m).where(m.c.channel_sid == channel_sid(conn, service_sid, channel))
            if start_index is not None:
                stmt = stmt.where(
                    column >= start_index if order == "asc" else column <= start_index
                )
            if cursor is not None:
                stmt = stmt.where(after_index(m, order, cursor))
            stmt = stmt.order_by(column if order == "asc" else column.desc()).limit(limit + 1)
            rows = conn.execute(stmt).all()
        items = tuple(message_of(row) for row in rows[:limit])
        next_cursor = index_cursor(order, items[-1].index) if len(rows) > limit else None
        return Page(items, next_cursor)

    def update_message(
        self,
        service_sid: str,
        channel: str,
        sid: str,
        *,
        body: str | Unset = UNSET,
        attributes: str | Unset = UNSET,
        from_: str | Unset = UNSET,
        last_updated_by: str | Unset | None = UNSET,
        date_created: datetime | Unset = UNSET,
        date_updated: datetime | Unset = UNSET,
    ) -> Message:
        """Changing ``body`` marks the message ``was_edited``."""
        changes: dict[str, Any] = {
            "date_updated": self._now() if date_updated is UNSET else whole_seconds(date_updated)
        }
        if body is not UNSET:
            changes["body"] = body
            changes["was_edited"] = True
        if attributes is not UNSET:
            changes["attributes"] = attributes
        if from_ is not UNSET:
            changes["author"] = from_
        if last_updated_by is not UNSET:
            changes["last_updated_by"] = last_updated_by
        if date_created is not UNSET:
            changes["date_created"] = whole_seconds(date_created)
        m = s.messages
        with self._write() as conn:
            channel_key = channel_sid(conn, service_sid, channel)
            stmt = update(m).where(m.c.sid == sid, m.c.channel_sid == channel_key)
            row = conn.execute(stmt.values(changes).returning(m)).first()
        if row is None:
            raise NotFound("Message", sid)
        return message_of(row)

    def delete_message(self, service_sid: str, channel: str, sid: str) -> None:
        """Deletes one message; its index stays used."""
        m = s.messages
        c = s.channels
        with self._write() as conn:
            channel_key = channel_sid(conn, service_sid, channel, lock=True)
            result = conn.execute(delete(m).where(m.c.sid == sid, m.c.channel_sid == channel_key))
            if result.rowcount == 0:
                raise NotFound("Message", sid)
            conn.execute(
                update(c)
                .where(c.c.sid == channel_key)
                .values(messages_count=c.c.messages_count - 1)
            )

    def create_messages(self, batch: Sequence[NewMessage]) -> list[Message | NotFound]:
        """Append several text messages in one transaction: group commit for the real-time
        gateway, which acknowledges each only after this returns. Each channel's index is bumped
        once for all its messages, which keep their order in ``batch``; a missing channel gives
        ``NotFound`` in that message's place and the others are stored."""
        now = self._now()
        groups: dict[tuple[str, str], list[int]] = {}
        for position, (service_sid, channel, *_) in enumerate(batch):
            groups.setdefault((service_sid, channel), []).append(position)
        results: list[Message | NotFound | None] = [None] * len(batch)
        rows: list[dict[str, Any]] = []
        with self._write() as conn:
            driver = conn.connection.driver_connection if self.backend == "sqlite" else None
            for (service_sid, channel), positions in groups.items():
                by_sid = sids.is_sid(channel, CHANNEL)
                count = len(positions)
                if driver is not None:
                    # The hot path of the real-time gateway: straight to sqlite3, without
                    # SQLAlchemy's per-statement work (several times the statement's own cost).
                    sql = _RAW_BUMP_BY_SID if by_sid else _RAW_BUMP_BY_NAME
                    counted = driver.execute(sql, (count, count, service_sid, channel)).fetchone()
                else:
                    bump = _BUMP_MANY_BY_SID if by_sid else _BUMP_MANY_BY_NAME
                    params = {"service": service_sid, "ref": channel, "count": count}
                    counted = conn.execute(bump, params).first()
                if counted is None:
                    for position in positions:
                        results[position] = NotFound("Channel", channel)
                    continue
                channel_sid, next_index = counted
                first = next_index - count
                for offset, position in enumerate(positions):
                    _, _, from_, body, attributes = batch[position]
                    sid = sids.new_sid(MESSAGE)
                    index = first + offset
                    rows.append(
                        {
                            "sid": sid,
                            "channel_sid": channel_sid,
                            "service_sid": service_sid,
                            "message_index": index,
                            "author": from_,
                            "body": body,
                            "attributes": attributes,
                            "type": "text",
                            "media": None,
                            "was_edited": False,
                            "last_updated_by": None,
                            "date_created": now,
                            "date_updated": now,
                        }
                    )
                    results[position] = Message(
                        sid, channel_sid, service_sid, index, from_, body, attributes, "text",
                        None, False, None, now, now,
                    )  # fmt: skip
            if rows and driver is not None:
                stamp = now.replace(tzinfo=None).strftime(_SQLITE_DATETIME)
                driver.executemany(
                    _RAW_INSERT,
                    [
                        (r["sid"], r["channel_sid"], r["service_sid"], r["message_index"],
                         r["author"], r["body"], r["attributes"], stamp, stamp)
                        for r in rows
                    ],
                )  # fmt: skip
            elif rows:
                conn.execute(_INSERT, rows)
        return [result or NotFound("Channel", "") for result in results]  # all set above
