"""Chat Services and their roles."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from hubbub import sids
from hubbub.store import schema as s
from hubbub.store.codec import config_columns, permissions_json, role_of, service_of
from hubbub.store.db import Base, find, find_sid, page_by_created, require_service, service_row
from hubbub.store.defaults import DEFAULT_ROLES
from hubbub.store.errors import Conflict, NotFound
from hubbub.store.records import (
    ROLE,
    UNSET,
    Page,
    Role,
    RoleType,
    Service,
    ServiceConfig,
    Unset,
)

_ROLE_TYPES = ("channel", "deployment")


def _require_account(conn: Connection, account_sid: str) -> None:
    found = conn.execute(find_sid(s.accounts, "sid"), {"sid": account_sid}).first()
    if found is None:
        raise NotFound("Account", account_sid)


class ServiceOps(Base):
    def create_service(self, account_sid: str, *, friendly_name: str) -> Service:
        now = self._now()
        sid = sids.new_sid(sids.CHAT_SERVICE)
        role_rows: list[dict[str, Any]] = []
        defaults: dict[str, Any] = {}
        for role in DEFAULT_ROLES:
            role_sid = sids.new_sid(ROLE)
            defaults.update(dict.fromkeys(role.defaults_for, role_sid))
            role_rows.append(
                {
                    "sid": role_sid,
                    "service_sid": sid,
                    "friendly_name": role.friendly_name,
                    "type": role.type,
                    "permissions": permissions_json(role.permissions),
                    "date_created": now,
                    "date_updated": now,
                }
            )
        config = dataclasses.replace(ServiceConfig(), **defaults)
        with self._write() as conn:
            _require_account(conn, account_sid)
            conn.execute(
                insert(s.services).values(
                    sid=sid,
                    account_sid=account_sid,
                    friendly_name=friendly_name,
                    date_created=now,
                    date_updated=now,
                    **config_columns(config),
                )
            )
            conn.execute(insert(s.roles), role_rows)
        return Service(sid, account_sid, friendly_name, config, now, now)

    def get_service(self, account_sid: str, sid: str) -> Service:
        t = s.services
        with self._read() as conn:
            stmt = find(t, "sid", "account_sid")
            row = conn.execute(stmt, {"sid": sid, "account_sid": account_sid}).first()
        if row is None:
            raise NotFound("Service", sid)
        return service_of(row)

    def list_services(
        self, account_sid: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Service]:
        t = s.services
        with self._read() as conn:
            _require_account(conn, account_sid)
            stmt = select(t).where(t.c.account_sid == account_sid)
            return page_by_created(conn, stmt, t, service_of, limit, cursor)

    def update_service(
        self,
        account_sid: str,
        sid: str,
        *,
        friendly_name: str | Unset = UNSET,
        config: ServiceConfig | Unset = UNSET,
    ) -> Service:
        changes: dict[str, Any] = {"date_updated": self._now()}
        if friendly_name is not UNSET:
            changes["friendly_name"] = friendly_name
        t = s.services
        scope = (t.c.sid == sid, t.c.account_sid == account_sid)
        with self._write() as conn:
            if conn.execute(select(t.c.sid).where(*scope).with_for_update()).first() is None:
                raise NotFound("Service", sid)
            if config is not UNSET:
                _check_default_roles(conn, sid, config)
                changes.update(config_columns(config))
            row = conn.execute(update(t).where(*scope).values(changes).returning(t)).one()
        return service_of(row)

    def delete_service(self, account_sid: str, sid: str) -> None:
        t = s.services
        with self._write() as conn:
            result = conn.execute(delete(t).where(t.c.sid == sid, t.c.account_sid == account_sid))
            if result.rowcount == 0:
                raise NotFound("Service", sid)

    def create_role(
        self,
        service_sid: str,
        *,
        friendly_name: str,
        type: RoleType,
        permissions: Sequence[str],
    ) -> Role:
        if type not in _ROLE_TYPES:
            raise ValueError(f"a role type is 'channel' or 'deployment', not {type!r}")
        now = self._now()
        role = Role(
            sids.new_sid(ROLE), service_sid, friendly_name, type, tuple(permissions), now, now
        )
        with self._write() as conn:
            require_service(conn, service_sid)
            conn.execute(
                insert(s.roles).values(
                    sid=role.sid,
                    service_sid=service_sid,
                    friendly_name=friendly_name,
                    type=type,
                    permissions=permissions_json(role.permissions),
                    date_created=now,
                    date_updated=now,
                )
            )
        return role

    def get_role(self, service_sid: str, sid: str) -> Role:
        t = s.roles
        with self._read() as conn:
            stmt = find(t, "sid", "service_sid")
            row = conn.execute(stmt, {"sid": sid, "service_sid": service_sid}).first()
        if row is None:
            raise NotFound("Role", sid)
        return role_of(row)

    def list_roles(
        self, service_sid: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Role]:
        t = s.roles
        with self._read() as conn:
            require_service(conn, service_sid)
            stmt = select(t).where(t.c.service_sid == service_sid)
            return page_by_created(conn, stmt, t, role_of, limit, cursor)

    def update_role(
        self,
        service_sid: str,
        sid: str,
        *,
        friendly_name: str | Unset = UNSET,
        permissions: Sequence[str] | Unset = UNSET,
    ) -> Role:
        changes: dict[str, Any] = {"date_updated": self._now()}
        if friendly_name is not UNSET:
            changes["friendly_name"] = friendly_name
        if permissions is not UNSET:
            changes["permissions"] = permissions_json(list(permissions))
        t = s.roles
        with self._write() as conn:
            stmt = update(t).where(t.c.sid == sid, t.c.service_sid == service_sid)
            row = conn.execute(stmt.values(changes).returning(t)).first()
        if row is None:
            raise NotFound("Role", sid)
        return role_of(row)

    def delete_role(self, service_sid: str, sid: str) -> None:
        in_use = Conflict("Role", "sid", sid, reason=f"role {sid} is still in use")
        with self._write() as conn:
            service = service_of(service_row(conn, service_sid))
            config = service.config
            defaults = (
                config.default_service_role_sid,
                config.default_channel_role_sid,
                config.default_channel_creator_role_sid,
            )
            if sid in defaults:
                raise Conflict("Role", "sid", sid, reason=f"role {sid} is a default of its service")
            holders = [exists().where(t.c.role_sid == sid) for t in (s.users, s.members, s.invites)]
            if conn.execute(select(or_(*holders))).scalar():
                raise in_use
            t = s.roles
            try:
                result = conn.execute(
                    delete(t).where(t.c.sid == sid, t.c.service_sid == service_sid)
                )
            except IntegrityError:
                # Someone took the role between the check and the delete.
                raise in_use from None
            if result.rowcount == 0:
                raise NotFound("Role", sid)


def _check_default_roles(conn: Connection, service_sid: str, config: ServiceConfig) -> None:
    """Every default role the config names must be a role of this service."""
    wanted = {
        value
        for field in dataclasses.fields(config)
        if field.name.endswith("_role_sid") and (value := getattr(config, field.name)) is not None
    }
    if not wanted:
        return
    t = s.roles
    stmt = select(t.c.sid).where(t.c.service_sid == service_sid, t.c.sid.in_(wanted))
    found = set(conn.execute(stmt).scalars())
    for missing in sorted(wanted - found):
        raise NotFound("Role", missing)
