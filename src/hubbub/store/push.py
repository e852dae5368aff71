"""Push credentials (an account's) and bindings (a service's users' devices).

A device registers once per service and provider: registering its address again (after a new
login, another user on the same phone) updates that binding rather than adding one, so a device
is never told twice, nor told of the previous user's messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, text, update

from hubbub import sids
from hubbub.store import schema as s
from hubbub.store.codec import strings_json
from hubbub.store.db import Base, find, page_by_created
from hubbub.store.errors import NotFound
from hubbub.store.records import (
    BINDING,
    CREDENTIAL,
    UNSET,
    Binding,
    Credential,
    CredentialType,
    Page,
    Unset,
)

_c = s.credentials
_b = s.bindings
_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:key))")


def credential_of(row: Any) -> Credential:
    return Credential(
        row.sid,
        row.account_sid,
        row.friendly_name,
        row.type,
        row.sandbox,
        json.loads(row.settings),
        row.sealed,
        row.date_created,
        row.date_updated,
    )


def binding_of(row: Any) -> Binding:
    return Binding(
        row.sid,
        row.account_sid,
        row.service_sid,
        row.identity,
        row.credential_sid,
        row.binding_type,
        row.endpoint,
        row.address,
        tuple(json.loads(row.message_types)),
        row.date_created,
        row.date_updated,
    )


def _settings_json(settings: Mapping[str, Any]) -> str:
    return json.dumps(dict(settings), separators=(",", ":"), sort_keys=True)


class PushOps(Base):
    # -- credentials ---------------------------------------------------------------------------
    def create_credential(
        self,
        account_sid: str,
        *,
        type: CredentialType,
        sealed: str,
        friendly_name: str | None = None,
        sandbox: bool = False,
        settings: Mapping[str, Any] | None = None,
    ) -> Credential:
        now = self._now()
        credential = Credential(
            sids.new_sid(CREDENTIAL), account_sid, friendly_name, type, sandbox,
            dict(settings or {}), sealed, now, now,
        )  # fmt: skip
        with self._write() as conn:
            if conn.execute(find(s.accounts, "sid"), {"sid": account_sid}).first() is None:
                raise NotFound("Account", account_sid)
            conn.execute(
                insert(_c).values(
                    sid=credential.sid,
                    account_sid=account_sid,
                    friendly_name=friendly_name,
                    type=type,
                    sandbox=sandbox,
                    settings=_settings_json(credential.settings),
                    sealed=sealed,
                    date_created=now,
                    date_updated=now,
                )
            )
        return credential

    def get_credential(self, account_sid: str, sid: str) -> Credential:
        with self._read() as conn:
            params = {"sid": sid, "account_sid": account_sid}
            row = conn.execute(find(_c, "sid", "account_sid"), params).first()
        if row is None:
            raise NotFound("Credential", sid)
        return credential_of(row)

    def list_credentials(
        self, account_sid: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Credential]:
        with self._read() as conn:
            stmt = select(_c).where(_c.c.account_sid == account_sid)
            return page_by_created(conn, stmt, _c, credential_of, limit, cursor)

    def update_credential(
        self,
        account_sid: str,
        sid: str,
        *,
        friendly_name: str | Unset | None = UNSET,
        sandbox: bool | Unset = UNSET,
        settings: Mapping[str, Any] | Unset = UNSET,
        sealed: str | Unset = UNSET,
    ) -> Credential:
        changes: dict[str, Any] = {"date_updated": self._now()}
        if friendly_name is not UNSET:
            changes["friendly_name"] = friendly_name
        if sandbox is not UNSET:
            changes["sandbox"] = sandbox
        if settings is not UNSET:
            changes["settings"] = _settings_json(settings)
        if sealed is not UNSET:
            changes["sealed"] = sealed
        stmt = update(_c).where(_c.c.sid == sid, _c.c.account_sid == account_sid)
        with self._write() as conn:
            if conn.execute(stmt.values(**changes)).rowcount == 0:
                raise NotFound("Credential", sid)
            row = conn.execute(find(_c, "sid"), {"sid": sid}).one()
        return credential_of(row)

    def delete_credential(self, account_sid: str, sid: str) -> None:
        with self._write() as conn:
            stmt = delete(_c).where(_c.c.sid == sid, _c.c.account_sid == account_sid)
            if conn.execute(stmt).rowcount == 0:
                raise NotFound("Credential", sid)

    # -- bindings ------------------------------------------------------------------------------
    def register_binding(
        self,
        account_sid: str,
        service_sid: str,
        *,
        identity: str,
        binding_type: CredentialType,
        address: str,
        endpoint: str,
        message_types: Sequence[str],
        credential_sid: str | None = None,
    ) -> Binding:
        """The device's binding in the service: a new one, or the one of its address, now the
        user's and with these values."""
        now = self._now()
        values = {
            "identity": identity,
            "credential_sid": credential_sid,
            "endpoint": endpoint,
            "message_types": strings_json(message_types),
            "date_updated": now,
        }
        key = (_b.c.service_sid == service_sid, _b.c.binding_type == binding_type)
        with self._write() as conn:
            if self._backend.name == "postgresql":
                # One registration of an address at a time, so two first ones cannot both
                # insert (SQLite's write transaction already keeps every other writer out).
                lock = f"{service_sid}:{binding_type}:{address}"
                conn.execute(_LOCK, {"key": lock})
            found = update(_b).where(*key, _b.c.address == address).values(**values)
            if conn.execute(found).rowcount == 0:
                if conn.execute(find(s.services, "sid"), {"sid": service_sid}).first() is None:
                    raise NotFound("Service", service_sid)
                conn.execute(
                    insert(_b).values(
                        sid=sids.new_sid(BINDING),
                        account_sid=account_sid,
                        service_sid=service_sid,
                        binding_type=binding_type,
                        address=address,
                        date_created=now,
                        **values,
                    )
                )
            row = conn.execute(select(_b).where(*key, _b.c.address == address)).one()
        return binding_of(row)

    def get_binding(self, service_sid: str, sid: str) -> Binding:
        with self._read() as conn:
            params = {"sid": sid, "service_sid": service_sid}
            row = conn.execute(find(_b, "sid", "service_sid"), params).first()
        if row is None:
            raise NotFound("Binding", sid)
        return binding_of(row)

    def list_bindings(
        self,
        service_sid: str,
        *,
        identities: Sequence[str] = (),
        binding_types: Sequence[str] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Binding]:
        stmt = select(_b).where(_b.c.service_sid == service_sid)
        if identities:
            stmt = stmt.where(_b.c.identity.in_(list(identities)))
        if binding_types:
            stmt = stmt.where(_b.c.binding_type.in_(list(binding_types)))
        with self._read() as conn:
            return page_by_created(conn, stmt, _b, binding_of, limit, cursor)

    def bindings_for(
        self, service_sid: str, identities: Sequence[str], message_type: str
    ) -> list[Binding]:
        """The bindings of these users that take ``message_type``."""
        if not identities:
            return []
        stmt = select(_b).where(
            _b.c.service_sid == service_sid, _b.c.identity.in_(list(identities))
        )
        with self._read() as conn:
            found = [binding_of(row) for row in conn.execute(stmt)]
        return [b for b in found if message_type in b.message_types]

    def delete_binding(self, service_sid: str, sid: str) -> None:
        with self._write() as conn:
            stmt = delete(_b).where(_b.c.sid == sid, _b.c.service_sid == service_sid)
            if conn.execute(stmt).rowcount == 0:
                raise NotFound("Binding", sid)

    def forget_address(self, service_sid: str, binding_type: str, address: str) -> int:
        """Delete the service's binding of a dead address (the provider said it is gone); how
        many. Only that service's: another service (or account) may reach the same address
        through its own credential, and one provider's answer says nothing about that."""
        stmt = delete(_b).where(
            _b.c.service_sid == service_sid,
            _b.c.binding_type == binding_type,
            _b.c.address == address,
        )
        with self._write() as conn:
            return int(conn.execute(stmt).rowcount)
