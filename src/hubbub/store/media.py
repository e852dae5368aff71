"""Media records: written once their bytes are stored, attached to at most one message.

The bytes themselves are not here but in a blob store (``hubbub.media.blobs``): a file on disk,
or chunks in PostgreSQL. Attaching is a conditional update, so two messages racing for the same
upload cannot both carry it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from hubbub.store import schema as s
from hubbub.store.db import Base, find, require_service
from hubbub.store.errors import Conflict, NotFound
from hubbub.store.records import Media, MediaCategory

_t = s.media
# Media that no message carries yet, or whose message still exists: a deleted message's media
# are gone from the media service at once, though the sweep frees their bytes only later.
_live = or_(
    _t.c.message_sid.is_(None),
    select(s.messages.c.sid).where(s.messages.c.sid == _t.c.message_sid).exists(),
)


def media_of(row: Any) -> Media:
    return Media(
        row.sid,
        row.account_sid,
        row.service_sid,
        row.channel_sid,
        row.message_sid,
        row.author,
        row.category,
        row.filename,
        row.content_type,
        row.size,
        row.date_created,
        row.date_updated,
    )


def insert_media(conn: Connection, media: Media) -> None:
    """Write ``media``'s row on ``conn``; ``NotFound`` if its service is gone. The blob store on
    PostgreSQL calls this in the transaction that wrote the bytes, so both commit together."""
    require_service(conn, media.service_sid)
    conn.execute(
        insert(_t).values(
            sid=media.sid,
            account_sid=media.account_sid,
            service_sid=media.service_sid,
            author=media.author,
            category=media.category,
            filename=media.filename,
            content_type=media.content_type,
            size=media.size,
            date_created=media.date_created,
            date_updated=media.date_updated,
        )
    )


class MediaOps(Base):
    def create_media(
        self,
        account_sid: str,
        service_sid: str,
        sid: str,
        *,
        content_type: str,
        size: int,
        author: str | None = None,
        category: MediaCategory = "media",
        filename: str | None = None,
    ) -> Media:
        now = self._now()
        media = Media(
            sid, account_sid, service_sid, None, None, author, category, filename,
            content_type, size, now, now,
        )  # fmt: skip
        with self._write() as conn:
            insert_media(conn, media)
        return media

    def get_media(self, service_sid: str, sid: str, *, live: bool = False) -> Media:
        """The media; with ``live``, ``NotFound`` also once the message that carried it is
        deleted (what the media service serves: the sweep frees the bytes later)."""
        stmt = select(_t).where(_t.c.sid == sid, _t.c.service_sid == service_sid)
        if live:
            stmt = stmt.where(_live)
        with self._read() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFound("Media", sid)
        return media_of(row)

    def get_media_many(
        self, service_sid: str, sids: Sequence[str], *, live: bool = False
    ) -> list[Media]:
        """Those of ``sids`` that exist in the service (with ``live``, but for media of
        deleted messages), in no particular order."""
        if not sids:
            return []
        stmt = select(_t).where(_t.c.service_sid == service_sid, _t.c.sid.in_(list(sids)))
        if live:
            stmt = stmt.where(_live)
        with self._read() as conn:
            return [media_of(row) for row in conn.execute(stmt)]

    def attach_media(
        self, service_sid: str, sid: str, *, channel_sid: str, message_sid: str
    ) -> Media:
        """Record that a message carries the media; ``Conflict`` if another message already
        does."""
        now = self._now()
        stmt = (
            update(_t)
            .where(_t.c.sid == sid, _t.c.service_sid == service_sid, _t.c.message_sid.is_(None))
            .values(channel_sid=channel_sid, message_sid=message_sid, date_updated=now)
        )
        with self._write() as conn:
            if conn.execute(stmt).rowcount == 0:
                row = conn.execute(
                    find(_t, "sid", "service_sid"), {"sid": sid, "service_sid": service_sid}
                ).first()
                if row is None:
                    raise NotFound("Media", sid)
                raise Conflict(
                    "Media", "sid", sid, reason=f"media {sid} is already carried by a message"
                )
            row = conn.execute(find(_t, "sid"), {"sid": sid}).one()
        return media_of(row)

    def delete_media(self, service_sid: str, sid: str, *, unattached: bool = False) -> None:
        """Delete the row; with ``unattached``, only while no message carries it (else
        ``Conflict``), so an upload attached meanwhile is kept."""
        with self._write() as conn:
            stmt = delete(_t).where(_t.c.sid == sid, _t.c.service_sid == service_sid)
            if unattached:
                stmt = stmt.where(_t.c.message_sid.is_(None))
            if conn.execute(stmt).rowcount == 0:
                if unattached and conn.execute(find(_t, "sid"), {"sid": sid}).first() is not None:
                    raise Conflict("Media", "sid", sid, reason=f"a message carries media {sid}")
                raise NotFound("Media", sid)

    def unattached_media(self, before: datetime, *, limit: int = 1000) -> list[Media]:
        """Uploads no message carried, made before ``before``: what a sweep may delete."""
        stmt = (
            select(_t)
            .where(_t.c.message_sid.is_(None), _t.c.date_created < before)
            .order_by(_t.c.date_created)
            .limit(limit)
        )
        with self._read() as conn:
            return [media_of(row) for row in conn.execute(stmt)]

    def media_of_deleted_messages(self, *, limit: int = 1000) -> list[Media]:
        """Media whose message is gone (deleted, or its channel): what a sweep may delete."""
        carried = select(s.messages.c.sid).where(s.messages.c.sid == _t.c.message_sid)
        stmt = (
            select(_t)
            .where(_t.c.message_sid.is_not(None), ~carried.exists())
            .order_by(_t.c.date_created)
            .limit(limit)
        )
        with self._read() as conn:
            return [media_of(row) for row in conn.execute(stmt)]

    def existing_media(self, sids: Sequence[str]) -> set[str]:
        """Those of ``sids`` that have a media row, in any service."""
        if not sids:
            return set()
        stmt = select(_t.c.sid).where(_t.c.sid.in_(list(sids)))
        with self._read() as conn:
            return {str(sid) for sid in conn.execute(stmt).scalars()}
