"""Users of a Chat Service, addressed by SID or identity."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, insert, select, update

from hubbub import sids
from hubbub.store import schema as s
from hubbub.store.codec import user_of
from hubbub.store.db import (
    Base,
    by_ref,
    find,
    page_by_created,
    pick_role,
    ref_key,
    refuse_sid_shape,
    require_role,
    require_service,
    service_row,
)
from hubbub.store.errors import Conflict, NotFound
from hubbub.store.records import MEMBER, UNSET, USER, Page, Unset, User


def check_identity(identity: str) -> None:
    """An identity is non-empty and may not look like the SID of a user or member."""
    if not identity:
        raise ValueError("an identity may not be empty")
    refuse_sid_shape(identity, USER, "identity")
    refuse_sid_shape(identity, MEMBER, "identity")


class UserOps(Base):
    def create_user(
        self,
        service_sid: str,
        identity: str,
        *,
        role_sid: str | None = None,
        friendly_name: str | None = None,
        attributes: str = "{}",
    ) -> User:
        check_identity(identity)
        now = self._now()
        sid = sids.new_sid(USER)
        with self._write() as conn:
            service = service_row(conn, service_sid)
            role = pick_role(conn, service, role_sid, "default_service_role_sid")
            with self._unique(Conflict("User", "identity", identity)):
                conn.execute(
                    insert(s.users).values(
                        sid=sid,
                        service_sid=service_sid,
                        identity=identity,
                        friendly_name=friendly_name,
                        attributes=attributes,
                        role_sid=role,
                        is_online=False,
                        is_notifiable=False,
                        joined_channels_count=0,
                        date_created=now,
                        date_updated=now,
                    )
                )
        return User(
            sid,
            service_sid,
            identity,
            friendly_name,
            attributes,
            role,
            False,
            False,
            0,
            now,
            now,
        )

    def get_user(self, service_sid: str, ref: str) -> User:
        key = ref_key(ref, USER, "identity")
        stmt = find(s.users, "service_sid", key)
        with self._read() as conn:
            row = conn.execute(stmt, {"service_sid": service_sid, key: ref}).first()
        if row is None:
            raise NotFound("User", ref)
        return user_of(row)

    def get_users(self, service_sid: str, identities: Collection[str]) -> list[User]:
        if not identities:
            return []
        t = s.users
        stmt = select(t).where(t.c.service_sid == service_sid, t.c.identity.in_(list(identities)))
        with self._read() as conn:
            return [user_of(row) for row in conn.execute(stmt)]

    def list_users(
        self, service_sid: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[User]:
        t = s.users
        with self._read() as conn:
            require_service(conn, service_sid)
            stmt = select(t).where(t.c.service_sid == service_sid)
            return page_by_created(conn, stmt, t, user_of, limit, cursor)

    def update_user(
        self,
        service_sid: str,
        ref: str,
        *,
        role_sid: str | Unset = UNSET,
        friendly_name: str | Unset | None = UNSET,
        attributes: str | Unset = UNSET,
        is_online: bool | Unset = UNSET,
        is_notifiable: bool | Unset = UNSET,
    ) -> User:
        changes: dict[str, Any] = {"date_updated": self._now()}
        for name, value in (
            ("role_sid", role_sid),
            ("friendly_name", friendly_name),
            ("attributes", attributes),
            ("is_online", is_online),
            ("is_notifiable", is_notifiable),
        ):
            if value is not UNSET:
                changes[name] = value
        t = s.users
        stmt = update(t).where(t.c.service_sid == service_sid, by_ref(t, ref, USER, "identity"))
        with self._write() as conn:
            if isinstance(role_sid, str):
                require_role(conn, service_sid, role_sid)
            row = conn.execute(stmt.values(changes).returning(t)).first()
        if row is None:
            raise NotFound("User", ref)
        return user_of(row)

    def mark_all_offline(self) -> int:
        # date_updated is left alone: nobody changed these users, a server restarted.
        t = s.users
        with self._write() as conn:
            # Nobody is connected anywhere: what nodes recorded is stale too.
            conn.execute(delete(s.presence_nodes))
            return conn.execute(update(t).where(t.c.is_online).values(is_online=False)).rowcount

    def delete_user(self, service_sid: str, ref: str) -> None:
        """Also removes the user from every channel it is a member of (and keeps counters right)."""
        t = s.users
        m = s.members
        with self._write() as conn:
            stmt = select(t.c.sid, t.c.identity).where(
                t.c.service_sid == service_sid, by_ref(t, ref, USER, "identity")
            )
            user = conn.execute(stmt).first()
            if user is None:
                raise NotFound("User", ref)
            mine = (m.c.service_sid == service_sid, m.c.identity == user.identity)
            # Channels first: every writer locks a channel before the users in it.
            conn.execute(
                update(s.channels)
                .where(s.channels.c.sid.in_(select(m.c.channel_sid).where(*mine)))
                .values(members_count=s.channels.c.members_count - 1)
            )
            conn.execute(delete(m).where(*mine))
            conn.execute(delete(t).where(t.c.sid == user.sid))
