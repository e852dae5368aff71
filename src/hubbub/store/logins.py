"""The token server's records: login users, their sessions, and operator API tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from hubbub import sids
from hubbub.store import schema as s
from hubbub.store.db import Base, find, page_by_created
from hubbub.store.errors import Conflict, NotFound
from hubbub.store.records import (
    API_TOKEN,
    LOGIN_USER,
    UNSET,
    ApiToken,
    LoginSession,
    LoginUser,
    Page,
    Unset,
)


def login_user_of(row: Row[Any]) -> LoginUser:
    return LoginUser(
        row.sid, row.username, row.identity, row.password_hash, row.date_created, row.date_updated
    )


def api_token_of(row: Row[Any]) -> ApiToken:
    return ApiToken(
        row.sid,
        row.identity,
        row.friendly_name,
        row.token_hash,
        row.revoked,
        row.date_created,
        row.date_updated,
    )


def _check_hash(value: str) -> None:
    if len(value) != 64 or value.strip("0123456789abcdef"):
        raise ValueError("expected a SHA-256 digest in lowercase hex")


def _epoch(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
    return int(value.timestamp())


class LoginOps(Base):
    # Login users ---------------------------------------------------------------------------------

    def create_login_user(self, username: str, *, identity: str, password_hash: str) -> LoginUser:
        if not username:
            raise ValueError("a username may not be empty")
        if not identity:
            raise ValueError("an identity may not be empty")
        now = self._now()
        user = LoginUser(sids.new_sid(LOGIN_USER), username, identity, password_hash, now, now)
        with self._write() as conn, self._unique(Conflict("LoginUser", "username", username)):
            conn.execute(
                insert(s.login_users).values(
                    sid=user.sid,
                    username=username,
                    identity=identity,
                    password_hash=password_hash,
                    date_created=now,
                    date_updated=now,
                )
            )
        return user

    def get_login_user(self, username: str) -> LoginUser:
        with self._read() as conn:
            row = conn.execute(find(s.login_users, "username"), {"username": username}).first()
        if row is None:
            raise NotFound("LoginUser", username)
        return login_user_of(row)

    def list_login_users(self, *, limit: int = 50, cursor: str | None = None) -> Page[LoginUser]:
        t = s.login_users
        with self._read() as conn:
            return page_by_created(conn, select(t), t, login_user_of, limit, cursor)

    def update_login_user(
        self,
        username: str,
        *,
        identity: str | Unset = UNSET,
        password_hash: str | Unset = UNSET,
    ) -> LoginUser:
        changes: dict[str, Any] = {"date_updated": self._now()}
        if identity is not UNSET:
            if not identity:
                raise ValueError("an identity may not be empty")
            changes["identity"] = identity
        if password_hash is not UNSET:
            changes["password_hash"] = password_hash
        t = s.login_users
        with self._write() as conn:
            stmt = update(t).where(t.c.username == username).values(changes).returning(t)
            row = conn.execute(stmt).first()
            if row is None:
                raise NotFound("LoginUser", username)
            if password_hash is not UNSET:
                # A new password ends the sessions the old one opened.
                conn.execute(delete(s.login_sessions).where(s.login_sessions.c.user_sid == row.sid))
        return login_user_of(row)

    def rehash_login_user(self, username: str, *, old_hash: str, new_hash: str) -> bool:
        """Store a new hash of the same password (made with newer settings) in place of
        ``old_hash``. Sessions are kept, as the password did not change; nothing is written if
        the hash is no longer ``old_hash`` (the password changed meanwhile). Whether it was."""
        t = s.login_users
        stmt = (
            update(t)
            .where(t.c.username == username, t.c.password_hash == old_hash)
            .values(password_hash=new_hash)
        )
        with self._write() as conn:
            return bool(conn.execute(stmt).rowcount)

    def delete_login_user(self, username: str) -> None:
        t = s.login_users
        with self._write() as conn:
            # Sessions go with the user (ON DELETE CASCADE).
            if conn.execute(delete(t).where(t.c.username == username)).rowcount == 0:
                raise NotFound("LoginUser", username)

    # Sessions ------------------------------------------------------------------------------------

    def create_login_session(
        self, username: str, *, secret_hash: str, expires_at: datetime
    ) -> LoginSession:
        _check_hash(secret_hash)
        expires = _epoch(expires_at)
        now = self._now()
        with self._write() as conn, self._unique(Conflict("LoginSession", "secret_hash", "…")):
            row = conn.execute(find(s.login_users, "username"), {"username": username}).first()
            if row is None:
                raise NotFound("LoginUser", username)
            conn.execute(
                insert(s.login_sessions).values(
                    secret_hash=secret_hash, user_sid=row.sid, expires=expires, date_created=now
                )
            )
        return LoginSession(
            secret_hash, username, row.identity, datetime.fromtimestamp(expires, UTC), now
        )

    def get_login_session(self, secret_hash: str) -> LoginSession:
        ls, lu = s.login_sessions, s.login_users
        stmt = (
            select(ls.c.secret_hash, ls.c.expires, ls.c.date_created, lu.c.username, lu.c.identity)
            .join(lu, lu.c.sid == ls.c.user_sid)
            .where(ls.c.secret_hash == secret_hash)
        )
        with self._read() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFound("LoginSession", "…")  # never echo a credential, even hashed
        return LoginSession(
            row.secret_hash,
            row.username,
            row.identity,
            datetime.fromtimestamp(row.expires, UTC),
            row.date_created,
        )

    def delete_login_session(self, secret_hash: str) -> bool:
        t = s.login_sessions
        with self._write() as conn:
            return bool(conn.execute(delete(t).where(t.c.secret_hash == secret_hash)).rowcount)

    def delete_expired_login_sessions(self, now: datetime) -> int:
        t = s.login_sessions
        with self._write() as conn:
            return int(conn.execute(delete(t).where(t.c.expires <= _epoch(now))).rowcount)

    # API tokens ----------------------------------------------------------------------------------

    def create_api_token(self, *, identity: str, friendly_name: str, token_hash: str) -> ApiToken:
        _check_hash(token_hash)
        if not identity:
            raise ValueError("an identity may not be empty")
        now = self._now()
        token = ApiToken(
            sids.new_sid(API_TOKEN), identity, friendly_name, token_hash, False, now, now
        )
        with self._write() as conn, self._unique(Conflict("ApiToken", "token_hash", "…")):
            conn.execute(
                insert(s.api_tokens).values(
                    sid=token.sid,
                    identity=identity,
                    friendly_name=friendly_name,
                    token_hash=token_hash,
                    revoked=False,
                    date_created=now,
                    date_updated=now,
                )
            )
        return token

    def get_api_token(self, sid: str) -> ApiToken:
        with self._read() as conn:
            row = conn.execute(find(s.api_tokens, "sid"), {"sid": sid}).first()
        if row is None:
            raise NotFound("ApiToken", sid)
        return api_token_of(row)

    def find_api_token(self, token_hash: str) -> ApiToken:
        with self._read() as conn:
            row = conn.execute(find(s.api_tokens, "token_hash"), {"token_hash": token_hash}).first()
        if row is None:
            raise NotFound("ApiToken", "…")
        return api_token_of(row)

    def list_api_tokens(self, *, limit: int = 50, cursor: str | None = None) -> Page[ApiToken]:
        t = s.api_tokens
        with self._read() as conn:
            return page_by_created(conn, select(t), t, api_token_of, limit, cursor)

    def update_api_token(
        self,
        sid: str,
        *,
        friendly_name: str | Unset = UNSET,
        revoked: bool | Unset = UNSET,
    ) -> ApiToken:
        changes: dict[str, Any] = {"date_updated": self._now()}
        if friendly_name is not UNSET:
            changes["friendly_name"] = friendly_name
        if revoked is not UNSET:
            changes["revoked"] = revoked
        t = s.api_tokens
        with self._write() as conn:
            row = conn.execute(update(t).where(t.c.sid == sid).values(changes).returning(t)).first()
        if row is None:
            raise NotFound("ApiToken", sid)
        return api_token_of(row)
