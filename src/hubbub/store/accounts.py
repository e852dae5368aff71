"""Accounts and their API keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, insert, select, text, update

from hubbub import sids
from hubbub.store import schema as s
from hubbub.store.codec import account_of, api_key_of
from hubbub.store.db import Base, find, find_sid, page_by_created
from hubbub.store.errors import Conflict, NotFound
from hubbub.store.records import UNSET, Account, AccountStatus, ApiKey, Page, Unset


class AccountOps(Base):
    def create_account(
        self,
        *,
        friendly_name: str,
        auth_token_hash: str,
        status: AccountStatus = "active",
        sid: str | None = None,
        sealed_auth_token: str | None = None,
    ) -> Account:
        sid = sid or sids.new_sid(sids.ACCOUNT)
        if not sids.is_sid(sid, sids.ACCOUNT):
            raise ValueError(f"not an account SID: {sid!r}")
        now = self._now()
        account = Account(sid, friendly_name, auth_token_hash, status, now, now, sealed_auth_token)
        with self._write() as conn, self._unique(Conflict("Account", "sid", sid)):
            conn.execute(
                insert(s.accounts).values(
                    sid=sid,
                    friendly_name=friendly_name,
                    auth_token_hash=auth_token_hash,
                    sealed_auth_token=sealed_auth_token,
                    status=status,
                    date_created=now,
                    date_updated=now,
                )
            )
        return account

    def get_account(self, sid: str) -> Account:
        with self._read() as conn:
            row = conn.execute(find(s.accounts, "sid"), {"sid": sid}).first()
        if row is None:
            raise NotFound("Account", sid)
        return account_of(row)

    def list_accounts(self, *, limit: int = 50, cursor: str | None = None) -> Page[Account]:
        with self._read() as conn:
            return page_by_created(conn, select(s.accounts), s.accounts, account_of, limit, cursor)

    def update_account(
        self,
        sid: str,
        *,
        friendly_name: str | Unset = UNSET,
        auth_token_hash: str | Unset = UNSET,
        status: AccountStatus | Unset = UNSET,
        sealed_auth_token: str | Unset | None = UNSET,
    ) -> Account:
        changes: dict[str, Any] = {"date_updated": self._now()}
        if friendly_name is not UNSET:
            changes["friendly_name"] = friendly_name
        if auth_token_hash is not UNSET:
            changes["auth_token_hash"] = auth_token_hash
        if sealed_auth_token is not UNSET:
            changes["sealed_auth_token"] = sealed_auth_token
        if status is not UNSET:
            changes["status"] = status
        t = s.accounts
        with self._write() as conn:
            row = conn.execute(update(t).where(t.c.sid == sid).values(changes).returning(t)).first()
        if row is None:
            raise NotFound("Account", sid)
        return account_of(row)

    def delete_account(self, sid: str) -> None:
        with self._write() as conn:
            if conn.execute(delete(s.accounts).where(s.accounts.c.sid == sid)).rowcount == 0:
                raise NotFound("Account", sid)

    def create_api_key(
        self,
        account_sid: str,
        *,
        friendly_name: str,
        encrypted_secret: str,
        sid: str | None = None,
    ) -> ApiKey:
        sid = sid or sids.new_sid(sids.API_KEY)
        if not sids.is_sid(sid, sids.API_KEY):
            raise ValueError(f"not an API key SID: {sid!r}")
        now = self._now()
        with self._write() as conn, self._unique(Conflict("ApiKey", "sid", sid)):
            found = conn.execute(find_sid(s.accounts, "sid"), {"sid": account_sid})
            if found.first() is None:
                raise NotFound("Account", account_sid)
            conn.execute(
                insert(s.api_keys).values(
                    sid=sid,
                    account_sid=account_sid,
                    friendly_name=friendly_name,
                    encrypted_secret=encrypted_secret,
                    revoked=False,
                    date_created=now,
                    date_updated=now,
                )
            )
        return ApiKey(sid, account_sid, friendly_name, encrypted_secret, False, now, now)

    def get_api_key(self, sid: str) -> ApiKey:
        with self._read() as conn:
            row = conn.execute(find(s.api_keys, "sid"), {"sid": sid}).first()
        if row is None:
            raise NotFound("ApiKey", sid)
        return api_key_of(row)

    def list_api_keys(
        self, account_sid: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[ApiKey]:
        t = s.api_keys
        with self._read() as conn:
            found = conn.execute(find_sid(s.accounts, "sid"), {"sid": account_sid})
            if found.first() is None:
                raise NotFound("Account", account_sid)
            stmt = select(t).where(t.c.account_sid == account_sid)
            return page_by_created(conn, stmt, t, api_key_of, limit, cursor)

    def update_api_key(
        self,
        account_sid: str,
        sid: str,
        *,
        friendly_name: str | Unset = UNSET,
        revoked: bool | Unset = UNSET,
    ) -> ApiKey:
        changes: dict[str, Any] = {"date_updated": self._now()}
        if friendly_name is not UNSET:
            changes["friendly_name"] = friendly_name
        if revoked is not UNSET:
            changes["revoked"] = revoked
        t = s.api_keys
        stmt = update(t).where(t.c.sid == sid, t.c.account_sid == account_sid)
        with self._write() as conn:
            row = conn.execute(stmt.values(changes).returning(t)).first()
        if row is None:
            raise NotFound("ApiKey", sid)
        return api_key_of(row)

    def delete_api_key(self, account_sid: str, sid: str) -> None:
        t = s.api_keys
        with self._write() as conn:
            result = conn.execute(delete(t).where(t.c.sid == sid, t.c.account_sid == account_sid))
            if result.rowcount == 0:
                raise NotFound("ApiKey", sid)

    def sealed_secret(self) -> str | None:
        keys, accounts = s.api_keys, s.accounts
        with self._read() as conn:
            found = conn.execute(select(keys.c.encrypted_secret).limit(1)).scalar()
            if found is None:
                column = accounts.c.sealed_auth_token
                found = conn.execute(select(column).where(column.is_not(None)).limit(1)).scalar()
        return None if found is None else str(found)

    def reseal_secrets(self, reseal: Callable[[str], str]) -> int:
        keys, accounts = s.api_keys, s.accounts
        count = 0
        with self._write() as conn:
            if self._backend.name == "postgresql":
                # A key or token created or changed meanwhile waits for the commit instead of
                # being missed (SQLite's write transaction already keeps every other writer out).
                tables = f"{keys.name}, {accounts.name}, {s.credentials.name}"
                conn.execute(text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))
            for row in conn.execute(select(keys.c.sid, keys.c.encrypted_secret)).all():
                sealed = reseal(row.encrypted_secret)
                conn.execute(
                    update(keys).where(keys.c.sid == row.sid).values(encrypted_secret=sealed)
                )
                count += 1
            column = accounts.c.sealed_auth_token
            found = select(accounts.c.sid, column).where(column.is_not(None))
            for row in conn.execute(found).all():
                sealed = reseal(row.sealed_auth_token)
                conn.execute(
                    update(accounts)
                    .where(accounts.c.sid == row.sid)
                    .values(sealed_auth_token=sealed)
                )
                count += 1
            creds = s.credentials
            for row in conn.execute(select(creds.c.sid, creds.c.sealed)).all():
                sealed = reseal(row.sealed)
                conn.execute(update(creds).where(creds.c.sid == row.sid).values(sealed=sealed))
                count += 1
        return count
