"""Channels of a Chat Service, addressed by SID or unique name."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from hubbub import sids
from hubbub.store import schema as s
from hubbub.store.codec import channel_of
from hubbub.store.db import (
    Base,
    by_ref,
    channel_sid,
    find,
    page_by_created,
    ref_key,
    refuse_sid_shape,
    require_service,
    whole_seconds,
)
from hubbub.store.errors import Conflict, NotFound
from hubbub.store.records import CHANNEL, UNSET, Channel, ChannelType, Page, Unset

_TYPES = ("public", "private")


def _check_unique_name(unique_name: str | None) -> None:
    if unique_name is not None:
        if not unique_name:
            raise ValueError("a unique name may not be empty (pass None for no unique name)")
        refuse_sid_shape(unique_name, CHANNEL, "unique name")


def _name_taken(unique_name: str | None) -> Conflict:
    return Conflict("Channel", "unique_name", unique_name or "")


class ChannelOps(Base):
    def create_channel(
        self,
        service_sid: str,
        *,
        friendly_name: str | None = None,
        unique_name: str | None = None,
        attributes: str = "{}",
        type: ChannelType = "public",
        created_by: str = "system",
        date_created: datetime | None = None,
        date_updated: datetime | None = None,
    ) -> Channel:
        if type not in _TYPES:
            raise ValueError(f"a channel type is 'public' or 'private', not {type!r}")
        _check_unique_name(unique_name)
        now = self._now()
        created = now if date_created is None else whole_seconds(date_created)
        updated = now if date_updated is None else whole_seconds(date_updated)
        channel = Channel(
            sids.new_sid(CHANNEL),
            service_sid,
            unique_name,
            friendly_name,
            attributes,
            type,
            created_by,
            0,
            0,
            0,
            created,
            updated,
        )
        with self._write() as conn, self._unique(_name_taken(unique_name)):
            require_service(conn, service_sid)
            conn.execute(
                insert(s.channels).values(
                    sid=channel.sid,
                    service_sid=service_sid,
                    unique_name=unique_name,
                    friendly_name=friendly_name,
                    attributes=attributes,
                    type=type,
                    created_by=created_by,
                    members_count=0,
                    messages_count=0,
                    next_message_index=0,
                    date_created=created,
                    date_updated=updated,
                )
            )
        return channel

    def get_channel(self, service_sid: str, ref: str) -> Channel:
        key = ref_key(ref, CHANNEL, "unique_name")
        stmt = find(s.channels, "service_sid", key)
        with self._read() as conn:
            row = conn.execute(stmt, {"service_sid": service_sid, key: ref}).first()
        if row is None:
            raise NotFound("Channel", ref)
        return channel_of(row)

    def get_channels(self, sids: Collection[str]) -> list[Channel]:
        if not sids:
            return []
        stmt = select(s.channels).where(s.channels.c.sid.in_(list(sids)))
        with self._read() as conn:
            return [channel_of(row) for row in conn.execute(stmt)]

    def list_channels(
        self,
        service_sid: str,
        *,
        types: Collection[ChannelType] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Channel]:
        t = s.channels
        stmt = select(t).where(t.c.service_sid == service_sid)
        if types:
            stmt = stmt.where(t.c.type.in_(list(types)))
        with self._read() as conn:
            require_service(conn, service_sid)
            return page_by_created(conn, stmt, t, channel_of, limit, cursor)

    def update_channel(
        self,
        service_sid: str,
        ref: str,
        *,
        friendly_name: str | Unset | None = UNSET,
        unique_name: str | Unset | None = UNSET,
        attributes: str | Unset = UNSET,
        created_by: str | Unset = UNSET,
        date_created: datetime | Unset = UNSET,
        date_updated: datetime | Unset = UNSET,
    ) -> Channel:
        changes: dict[str, Any] = {
            "date_updated": self._now() if date_updated is UNSET else whole_seconds(date_updated)
        }
        if friendly_name is not UNSET:
            changes["friendly_name"] = friendly_name
        if unique_name is not UNSET:
            _check_unique_name(unique_name)
            changes["unique_name"] = unique_name
        if attributes is not UNSET:
            changes["attributes"] = attributes
        if created_by is not UNSET:
            changes["created_by"] = created_by
        if date_created is not UNSET:
            changes["date_created"] = whole_seconds(date_created)
        t = s.channels
        stmt = update(t).where(
            t.c.service_sid == service_sid, by_ref(t, ref, CHANNEL, "unique_name")
        )
        conflict = _name_taken(None if unique_name is UNSET else unique_name)
        with self._write() as conn, self._unique(conflict):
            row = conn.execute(stmt.values(changes).returning(t)).first()
        if row is None:
            raise NotFound("Channel", ref)
        return channel_of(row)

    def delete_channel(self, service_sid: str, ref: str) -> None:
        """Deletes the channel with its members, messages and invites."""
        m = s.members
        with self._write() as conn:
            sid = channel_sid(conn, service_sid, ref, lock=True)
            members_here = select(m.c.identity).where(m.c.channel_sid == sid)
            conn.execute(
                update(s.users)
                .where(s.users.c.service_sid == service_sid, s.users.c.identity.in_(members_here))
                .values(joined_channels_count=s.users.c.joined_channels_count - 1)
            )
            conn.execute(delete(s.channels).where(s.channels.c.sid == sid))
