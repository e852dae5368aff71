"""Invites to a channel: one per identity and channel, addressed by SID."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, insert, select

from hubbub import sids
from hubbub.store import schema as s
from hubbub.store.codec import invite_of
from hubbub.store.db import Base, channel_sid, find, page_by_created, pick_role, service_row
from hubbub.store.errors import Conflict, NotFound
from hubbub.store.records import INVITE, Invite, Page
from hubbub.store.users import check_identity


class InviteOps(Base):
    def create_invite(
        self,
        service_sid: str,
        channel: str,
        identity: str,
        *,
        role_sid: str | None = None,
        created_by: str | None = None,
    ) -> Invite:
        check_identity(identity)
        now = self._now()
        sid = sids.new_sid(INVITE)
        with self._write() as conn:
            service = service_row(conn, service_sid)
            channel_key = channel_sid(conn, service_sid, channel)
            role = pick_role(conn, service, role_sid, "default_channel_role_sid")
            with self._unique(Conflict("Invite", "identity", identity)):
                conn.execute(
                    insert(s.invites).values(
                        sid=sid,
                        channel_sid=channel_key,
                        service_sid=service_sid,
                        identity=identity,
                        role_sid=role,
                        created_by=created_by,
                        date_created=now,
                        date_updated=now,
                    )
                )
        return Invite(sid, channel_key, service_sid, identity, role, created_by, now, now)

    def get_invite(self, service_sid: str, channel: str, sid: str) -> Invite:
        t = s.invites
        with self._read() as conn:
            channel_key = channel_sid(conn, service_sid, channel)
            stmt = find(t, "sid", "channel_sid")
            row = conn.execute(stmt, {"sid": sid, "channel_sid": channel_key}).first()
        if row is None:
            raise NotFound("Invite", sid)
        return invite_of(row)

    def list_invites(
        self,
        service_sid: str,
        channel: str,
        *,
        identities: Collection[str] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Invite]:
        t = s.invites
        with self._read() as conn:
            stmt = select(t).where(t.c.channel_sid == channel_sid(conn, service_sid, channel))
            if identities:
                stmt = stmt.where(t.c.identity.in_(list(identities)))
            return page_by_created(conn, stmt, t, invite_of, limit, cursor)

    def list_user_invites(
        self, service_sid: str, identity: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Invite]:
        t = s.invites
        with self._read() as conn:
            stmt = select(t).where(t.c.service_sid == service_sid, t.c.identity == identity)
            return page_by_created(conn, stmt, t, invite_of, limit, cursor)

    def delete_invite(self, service_sid: str, channel: str, sid: str) -> None:
        t = s.invites
        with self._write() as conn:
            channel_key = channel_sid(conn, service_sid, channel)
            result = conn.execute(delete(t).where(t.c.sid == sid, t.c.channel_sid == channel_key))
            if result.rowcount == 0:
                raise NotFound("Invite", sid)
