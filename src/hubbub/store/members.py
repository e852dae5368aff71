"""Members of a channel (by SID or identity), and the same memberships seen from a user.

Adding or removing a member keeps ``channels.members_count`` and ``users.joined_channels_count`` in
step in the same transaction, and enforces the service's ``limits``. Writers lock the channel row
before any user row, so concurrent joins and leaves cannot deadlock on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, delete, func, insert, select, update

from hubbub import sids
from hubbub.store import schema as s
from hubbub.store.codec import limits_of, member_of
from hubbub.store.db import (
    Base,
    by_ref,
    channel_sid,
    find,
    page_by_created,
    pick_role,
    ref_key,
    require_role,
    service_row,
    whole_seconds,
)
from hubbub.store.errors import MEMBER_EXISTS_CODE, Conflict, LimitExceeded, NotFound
from hubbub.store.records import (
    CHANNEL,
    MEMBER,
    UNSET,
    USER,
    Member,
    NotificationLevel,
    Page,
    Unset,
    UserChannel,
)
from hubbub.store.users import check_identity

_LEVELS = ("default", "muted")


class MemberOps(Base):
    def create_member(
        self,
        service_sid: str,
        channel: str,
        identity: str,
        *,
        role_sid: str | None = None,
        last_consumed_message_index: int | None = None,
        last_consumption_timestamp: datetime | None = None,
        attributes: str = "{}",
        date_created: datetime | None = None,
        date_updated: datetime | None = None,
    ) -> Member:
        check_identity(identity)
        now = self._now()
        created = now if date_created is None else whole_seconds(date_created)
        updated = now if date_updated is None else whole_seconds(date_updated)
        consumed_at = (
            None
            if last_consumption_timestamp is None
            else whole_seconds(last_consumption_timestamp)
        )
        c = s.channels
        sid = sids.new_sid(MEMBER)
        with self._write() as conn:
            service = service_row(conn, service_sid)
            limits = limits_of(service.limits)
            counted = conn.execute(
                update(c)
                .where(c.c.service_sid == service_sid, by_ref(c, channel, CHANNEL, "unique_name"))
                .values(members_count=c.c.members_count + 1)
                .returning(c.c.sid, c.c.members_count)
            ).first()
            if counted is None:
                raise NotFound("Channel", channel)
            role = pick_role(conn, service, role_sid, "default_channel_role_sid")
            exists = Conflict("Member", "identity", identity, code=MEMBER_EXISTS_CODE)
            with self._unique(exists):
                conn.execute(
                    insert(s.members).values(
                        sid=sid,
                        channel_sid=counted.sid,
                        service_sid=service_sid,
                        identity=identity,
                        role_sid=role,
                        last_consumed_message_index=last_consumed_message_index,
                        last_consumption_timestamp=consumed_at,
                        attributes=attributes,
                        notification_level="default",
                        date_created=created,
                        date_updated=updated,
                    )
                )
            if counted.members_count > limits.channel_members:
                raise LimitExceeded("Channel", "channel_members", limits.channel_members)
            joined = self._join_user(conn, service, identity, now)
            if joined > limits.user_channels:
                raise LimitExceeded("User", "user_channels", limits.user_channels)
        return Member(
            sid,
            counted.sid,
            service_sid,
            identity,
            role,
            last_consumed_message_index,
            consumed_at,
            attributes,
            "default",
            created,
            updated,
        )

    def get_member(self, service_sid: str, channel: str, ref: str) -> Member:
        m = s.members
        with self._read() as conn:
            sid = channel_sid(conn, service_sid, channel)
            key = ref_key(ref, MEMBER, "identity")
            row = conn.execute(find(m, "channel_sid", key), {"channel_sid": sid, key: ref}).first()
        if row is None:
            raise NotFound("Member", ref)
        return member_of(row)

    def list_members(
        self,
        service_sid: str,
        channel: str,
        *,
        identities: Collection[str] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Member]:
        m = s.members
        with self._read() as conn:
            sid = channel_sid(conn, service_sid, channel)
            stmt = select(m).where(m.c.channel_sid == sid)
            if identities:
                stmt = stmt.where(m.c.identity.in_(list(identities)))
            return page_by_created(conn, stmt, m, member_of, limit, cursor)

    def update_member(
        self,
        service_sid: str,
        channel: str,
        ref: str,
        *,
        role_sid: str | Unset = UNSET,
        last_consumed_message_index: int | Unset | None = UNSET,
        last_consumption_timestamp: datetime | Unset | None = UNSET,
        attributes: str | Unset = UNSET,
        notification_level: NotificationLevel | Unset = UNSET,
        date_created: datetime | Unset = UNSET,
        date_updated: datetime | Unset = UNSET,
    ) -> Member:
        """Setting ``last_consumed_message_index`` without a timestamp stamps it with now."""
        now = self._now()
        changes: dict[str, Any] = {
            "date_updated": now if date_updated is UNSET else whole_seconds(date_updated)
        }
        if role_sid is not UNSET:
            changes["role_sid"] = role_sid
        if last_consumed_message_index is not UNSET:
            changes["last_consumed_message_index"] = last_consumed_message_index
            if last_consumption_timestamp is UNSET and last_consumed_message_index is not None:
                changes["last_consumption_timestamp"] = now
        if isinstance(last_consumption_timestamp, datetime):
            changes["last_consumption_timestamp"] = whole_seconds(last_consumption_timestamp)
        elif last_consumption_timestamp is None:
            changes["last_consumption_timestamp"] = None
        if attributes is not UNSET:
            changes["attributes"] = attributes
        if notification_level is not UNSET:
            if notification_level not in _LEVELS:
                raise ValueError(
                    f"a notification level is 'default' or 'muted', not {notification_level!r}"
                )
            changes["notification_level"] = notification_level
        if date_created is not UNSET:
            changes["date_created"] = whole_seconds(date_created)
        m = s.members
        with self._write() as conn:
            sid = channel_sid(conn, service_sid, channel)
            if isinstance(role_sid, str):
                require_role(conn, service_sid, role_sid)
            stmt = update(m).where(m.c.channel_sid == sid, by_ref(m, ref, MEMBER, "identity"))
            row = conn.execute(stmt.values(changes).returning(m)).first()
        if row is None:
            raise NotFound("Member", ref)
        return member_of(row)

    def delete_member(self, service_sid: str, channel: str, ref: str) -> None:
        m = s.members
        c = s.channels
        u = s.users
        with self._write() as conn:
            sid = channel_sid(conn, service_sid, channel, lock=True)
            gone = conn.execute(
                delete(m)
                .where(m.c.channel_sid == sid, by_ref(m, ref, MEMBER, "identity"))
                .returning(m.c.identity)
            ).first()
            if gone is None:
                raise NotFound("Member", ref)
            conn.execute(
                update(c).where(c.c.sid == sid).values(members_count=c.c.members_count - 1)
            )
            conn.execute(
                update(u)
                .where(u.c.service_sid == service_sid, u.c.identity == gone.identity)
                .values(joined_channels_count=u.c.joined_channels_count - 1)
            )

    def list_user_channels(
        self, service_sid: str, user: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[UserChannel]:
        """The channels ``user`` (SID or identity) is a member of, oldest membership first."""
        m = s.members
        with self._read() as conn:
            user_sid, identity = _user_key(conn, service_sid, user)
            stmt = _user_channel_select().where(
                m.c.service_sid == service_sid, m.c.identity == identity
            )
            return page_by_created(
                conn, stmt, m, lambda row: _user_channel_of(row, user_sid), limit, cursor
            )

    def get_user_channel(self, service_sid: str, user: str, channel: str) -> UserChannel:
        m = s.members
        with self._read() as conn:
            user_sid, identity = _user_key(conn, service_sid, user)
            sid = channel_sid(conn, service_sid, channel)
            stmt = _user_channel_select().where(m.c.channel_sid == sid, m.c.identity == identity)
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFound("UserChannel", channel)
        return _user_channel_of(row, user_sid)

    def _join_user(self, conn: Connection, service: Row[Any], identity: str, now: datetime) -> int:
        """Count one more channel for ``identity``; create its user on first sight (as Twilio)."""
        u = s.users
        conn.execute(
            self._backend.insert_ignore(u, ("service_sid", "identity")).values(
                sid=sids.new_sid(USER),
                service_sid=service.sid,
                identity=identity,
                friendly_name=None,
                attributes="{}",
                role_sid=service.default_service_role_sid,
                is_online=False,
                is_notifiable=False,
                joined_channels_count=0,
                date_created=now,
                date_updated=now,
            )
        )
        joined = conn.execute(
            update(u)
            .where(u.c.service_sid == service.sid, u.c.identity == identity)
            .values(joined_channels_count=u.c.joined_channels_count + 1)
            .returning(u.c.joined_channels_count)
        ).scalar_one()
        return int(joined)


def _user_key(conn: Connection, service_sid: str, ref: str) -> tuple[str, str]:
    key = ref_key(ref, USER, "identity")
    row = conn.execute(
        find(s.users, "service_sid", key), {"service_sid": service_sid, key: ref}
    ).first()
    if row is None:
        raise NotFound("User", ref)
    return row.sid, row.identity


def _user_channel_select() -> Select[Any]:
    m = s.members
    msg = s.messages
    unread = (
        select(func.count())
        .where(
            msg.c.channel_sid == m.c.channel_sid,
            msg.c.message_index > m.c.last_consumed_message_index,
        )
        .scalar_subquery()
    )
    return select(
        m.c.sid,
        m.c.channel_sid,
        m.c.service_sid,
        m.c.last_consumed_message_index,
        m.c.notification_level,
        m.c.date_created,
        unread.label("unread"),
    )


def _user_channel_of(row: Row[Any], user_sid: str) -> UserChannel:
    consumed = row.last_consumed_message_index
    return UserChannel(
        service_sid=row.service_sid,
        channel_sid=row.channel_sid,
        user_sid=user_sid,
        member_sid=row.sid,
        status="joined",
        last_consumed_message_index=consumed,
        unread_messages_count=None if consumed is None else int(row.unread),
        notification_level=row.notification_level,
    )
