"""The token server itself: ``POST /login``, ``POST /logout``, ``GET|POST /token``.

``TokenServer`` is a bare ASGI app (no router, no middleware): the token endpoint is the
busiest path a chat deployment has, and Starlette's machinery costs more per request than the
work. A token request costs a cookie HMAC, one session lookup, one ``Minter.chat_token`` and a
hand-written response.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from hubbub.auth.apitokens import ApiTokenAuthenticator
from hubbub.auth.base import Authenticator, Chain, Refused, Unavailable
from hubbub.auth.cookies import SessionCookies, clear_cookie, same_origin, set_cookie
from hubbub.auth.hook import AuthorizeHook, HookAuthenticator
from hubbub.auth.limits import LoginLimits, RateLimit
from hubbub.auth.passwords import Passwords
from hubbub.auth.policy import MAX_USERNAME, grant_ttl
from hubbub.auth.sessions import (
    SessionAuthenticator,
    header,
    session_cookie_values,
    session_lookup,
    signed_hashes,
)
from hubbub.auth.upstream import UpstreamAuthenticator
from hubbub.chat.errors import (
    AUTHENTICATION_FAILED,
    INTERNAL_ERROR,
    INVALID_PARAMETER,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    SERVICE_UNAVAILABLE,
    ApiError,
)
from hubbub.crypto import SecretBox
from hubbub.identities import user_flaw
from hubbub.metrics import Metrics
from hubbub.store import NotFound, Store
from hubbub.tokens.encoding import json_escape
from hubbub.tokens.errors import InvalidGrants
from hubbub.web.tokenserver.asgi import (
    JSON,
    NO_STORE,
    REFUSED,
    RetryLater,
    client_address,
    get_route_path,
    has_body,
    lifespan,
    no_body,
    parse_fields,
    rate_limited,
    read_body,
    replay,
    requested_ttl,
    send_error,
    send_response,
    text_field,
)
from hubbub.web.tokenserver.minting import MINTING_REFRESH, Minting, RoleKeeper, resolve_minting
from hubbub.web.tokenserver.settings import TokenSettings

log = logging.getLogger("hubbub.tokenserver")

PATHS = frozenset({"/token", "/login", "/logout"})


def _limit(rate: tuple[int, float] | None, clock: Callable[[], float]) -> RateLimit | None:
    return None if rate is None else RateLimit(rate[0], rate[1], clock=clock)


class TokenServer:
    """The bare-ASGI token server. Serves ``/token``, ``/login`` and ``/logout`` under wherever
    it is mounted; anything else is a 404."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        settings: TokenSettings | None = None,
        *,
        authorize: AuthorizeHook | None = None,
        authenticators: Sequence[Authenticator] | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = settings or TokenSettings()
        settings.check()
        self.settings = settings
        self.store = store
        self.box = box
        self.metrics = metrics
        self._tally = metrics.tally() if metrics is not None else None
        self._clock = clock
        self._monotonic = monotonic
        # SQLite work is local and short: doing it on the loop is cheaper than a thread hop.
        self._inline = store.backend == "sqlite"
        self.cookies = SessionCookies(settings.session_keys or [os.urandom(32)])
        self.passwords = settings.passwords or Passwords()
        self._sessions = session_lookup(store)
        chain: list[Authenticator] = []
        self.upstream: UpstreamAuthenticator | None = None
        if authenticators is not None:
            chain.extend(authenticators)
        else:
            for name in settings.auth:
                if name == "users":
                    chain.append(SessionAuthenticator(self.cookies, self._sessions, clock=clock))
                elif name == "apitokens":
                    # The server's clock, so that a test can age the lookup cache.
                    chain.append(ApiTokenAuthenticator(store, inline=self._inline, clock=monotonic))
                elif name == "upstream" and settings.upstream_url:
                    self.upstream = UpstreamAuthenticator(
                        settings.upstream_url,
                        timeout=settings.upstream_timeout,
                        cache_ttl=settings.upstream_cache,
                        clock=monotonic,
                    )
                    chain.append(self.upstream)
        if authorize is not None:
            chain.append(HookAuthenticator(authorize))
        self.chain = Chain(chain)
        # A synchronous session check first is decided on the raw scope; the rest of the chain
        # only runs (with a Request) when it does not recognise the request.
        first = chain[0] if chain else None
        if isinstance(first, SessionAuthenticator) and first.synchronous:
            self._session_first: SessionAuthenticator | None = first
            self._rest = Chain(chain[1:])
        else:
            self._session_first = None
            self._rest = self.chain
        self.users_enabled = "users" in settings.auth
        self._rate_identity = _limit(settings.token_rate_identity, monotonic)
        self._rate_address = _limit(settings.token_rate_address, monotonic)
        self._login_limits = LoginLimits(
            settings.login_rate_username,
            settings.login_rate_address,
            settings.login_rate_username_total,
            remember=float(settings.session_lifetime),
            clock=monotonic,
        )
        checks = settings.password_checks or min(4, os.cpu_count() or 1)
        self._password_slots = asyncio.Semaphore(checks)
        self._minting: Minting | None = None
        self._refreshing: asyncio.Future[None] | None = None
        self._roles = RoleKeeper(store)
        self._purged = 0.0

    # Plumbing ------------------------------------------------------------------------------------

    async def _store_call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._inline:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":  # when served on its own
                await lifespan(receive, send)
            return
        started = self._monotonic()
        path = get_route_path(scope)
        method = scope["method"]
        try:
            if path == "/token":
                if method not in ("GET", "POST"):
                    raise ApiError(405, METHOD_NOT_ALLOWED, f"Method {method} not allowed here")
                status = await self.token(scope, receive, send)
            elif path in ("/login", "/logout"):
                if method != "POST":
                    raise ApiError(405, METHOD_NOT_ALLOWED, f"Method {method} not allowed here")
                if path == "/login":
                    status = await self.login(scope, receive, send)
                else:
                    status = await self.logout(scope, receive, send)
            else:
                raise ApiError(404, NOT_FOUND, f"The requested resource {path} was not found")
        except ApiError as error:
            status = error.status
            await send_error(send, error)
        except Exception:
            # The path only: query strings and bodies may carry credentials.
            log.exception("unexpected error serving %s %s", method, path)
            status = 500
            await send_error(send, ApiError(500, INTERNAL_ERROR, "Internal error; see the log"))
        if self._tally is not None:
            now = self._monotonic()
            self._tally.note(method, path, status, now - started, now)

    # /token --------------------------------------------------------------------------------------

    async def token(self, scope: Scope, receive: Receive, send: Send) -> int:
        body = await read_body(scope, receive) if has_body(scope) else b""
        if self._rate_address is not None:
            rate_limited(self._rate_address.take(client_address(scope)))
        try:
            authorization = None
            if self._session_first is not None:
                authorization = self._session_first.check(scope)
            if authorization is None and self._rest.authenticators:
                request = Request(scope, replay(body) if body else no_body)
                authorization = await self._rest.authenticate(request)
        except Refused as refusal:
            raise ApiError(403, REFUSED, str(refusal) or "Refused") from None
        except Unavailable as down:
            raise ApiError(503, SERVICE_UNAVAILABLE, str(down)) from None
        if authorization is None:
            raise ApiError(401, AUTHENTICATION_FAILED, "Sign in first: no valid credentials")
        # Before anything keeps or stores it: an identity no session would take is refused.
        if (flaw := user_flaw(authorization.identity)) is not None:
            message = flaw.message("the identity")
            raise ApiError(403, InvalidGrants.code, f"Cannot mint a token: {message}")
        if self._rate_identity is not None:
            rate_limited(self._rate_identity.take(authorization.identity))
        requested = requested_ttl(scope, body)
        ttl = grant_ttl(
            requested,
            authorization.ttl,
            default=self.settings.ttl,
            maximum=self.settings.max_ttl,
        )
        minting = self._minting
        if minting is None:
            minting = await self._refresh_minting()
        elif self._refreshing is None and self._monotonic() - minting.checked > MINTING_REFRESH:
            # Keep minting with what we have while a thread looks again: no request waits.
            self._refreshing = asyncio.ensure_future(self._refresh_in_background())
        if authorization.role is not None:
            await self._apply_role(minting.service_sid, authorization.identity, authorization.role)
        now = int(self._clock())
        try:
            token = minting.minter.chat_token(
                authorization.identity, minting.service_sid, ttl=ttl, now=now
            )
        except ValueError as exc:  # an identity no Chat Service accepts
            raise ApiError(403, REFUSED, f"Cannot mint a token for this identity: {exc}") from None
        expires = _timestamp(now + ttl)
        payload = (
            f'{{"identity":{json_escape(authorization.identity)},"token":"{token}",'
            f'"ttl":{ttl},"expires_at":"{expires}","chat_service_sid":"{minting.service_sid}"}}'
        ).encode()
        await send_response(send, 200, payload, (JSON, NO_STORE))
        return 200

    async def _refresh_minting(self) -> Minting:
        """Look up the Chat Service and API key again (a key may have been revoked)."""
        now = self._monotonic()
        try:
            minter, service_sid = await self._store_call(
                resolve_minting,
                self.store,
                self.box,
                self.settings.service_sid,
                self.settings.key_sid,
            )
        except ApiError:
            self._minting = None
            raise
        minting = self._minting = Minting(minter, service_sid, now)
        return minting

    async def _refresh_in_background(self) -> None:
        try:
            minter, service_sid = await run_in_threadpool(
                resolve_minting,
                self.store,
                self.box,
                self.settings.service_sid,
                self.settings.key_sid,
            )
            self._minting = Minting(minter, service_sid, self._monotonic())
        except ApiError:
            self._minting = None  # the next request looks again and answers why it cannot mint
        except Exception:
            log.exception("looking up the Chat Service and API key to mint with failed")
        finally:
            self._refreshing = None

    async def _apply_role(self, service_sid: str, identity: str, role: str) -> None:
        now = self._monotonic()
        if self._roles.needed(service_sid, identity, role, now):
            try:
                await self._store_call(self._roles.apply, service_sid, identity, role, now)
            except ValueError as exc:
                raise ApiError(403, REFUSED, f"Cannot give this identity a role: {exc}") from None

    # /login and /logout --------------------------------------------------------------------------

    def _check_origin(self, scope: Scope) -> None:
        if not same_origin(
            header(scope, b"origin"), scope.get("scheme", "http"), header(scope, b"host")
        ):
            raise ApiError(
                403, REFUSED, "cross-site request refused: the Origin is not this server"
            )

    async def login(self, scope: Scope, receive: Receive, send: Send) -> int:
        if not self.users_enabled:
            raise ApiError(404, NOT_FOUND, "Built-in users are not enabled on this server")
        self._check_origin(scope)
        fields = parse_fields(scope, await read_body(scope, receive))
        username = text_field(fields, "username")
        password = text_field(fields, "password")
        if "\x00" in username:  # PostgreSQL text cannot hold it, and no username has one
            raise ApiError(400, INVALID_PARAMETER, "Invalid parameter username: not text")
        if len(username) > MAX_USERNAME:  # refused before the limits keep anything of it
            raise ApiError(
                400,
                INVALID_PARAMETER,
                f"Invalid parameter username: longer than {MAX_USERNAME} characters",
            )
        address = client_address(scope)
        # Counted before the check, so that guesses sent at once are limited too.
        wait, counted = self._login_limits.begin(username, address)
        rate_limited(wait, "Too many failed sign-ins; try again later")
        try:
            try:
                user = await run_in_threadpool(self.store.get_login_user, username)
            except NotFound:
                user = None
            stored = user.password_hash if user is not None else None
            right, new_hash = await self._check_password(stored, password)
        except Exception:
            self._login_limits.forgive(counted)  # never checked: it does not count
            raise
        if not right or user is None:
            raise ApiError(401, AUTHENTICATION_FAILED, "Wrong username or password")
        self._login_limits.succeeded(username, address, counted)
        if new_hash is not None:
            await self._rehash(username, user.password_hash, new_hash)
        value, secret_hash = self.cookies.new()
        now = self._clock()
        lifetime = self.settings.session_lifetime
        await run_in_threadpool(
            self.store.create_login_session,
            username,
            secret_hash=secret_hash,
            expires_at=datetime.fromtimestamp(int(now) + lifetime, UTC),
        )
        if now - self._purged > 3600:
            self._purged = now
            await run_in_threadpool(
                self.store.delete_expired_login_sessions, datetime.fromtimestamp(now, UTC)
            )
        secure = scope.get("scheme") == "https"
        cookie = set_cookie(value, max_age=lifetime, secure=secure).encode("latin-1")
        payload = f'{{"identity":{json_escape(user.identity)}}}'.encode()
        await send_response(send, 200, payload, (JSON, NO_STORE, (b"set-cookie", cookie)))
        return 200

    async def _check_password(self, stored: str | None, password: str) -> tuple[bool, str | None]:
        """Whether the password is right, and a new hash of it when the stored one was made
        with older argon2 settings. A few at a time: each takes argon2's memory (64 MiB by
        default) on a thread of its own, and hundreds at once would exhaust the machine."""
        try:
            async with asyncio.timeout(self.settings.password_wait):
                await self._password_slots.acquire()
        except TimeoutError:
            raise RetryLater(
                503, SERVICE_UNAVAILABLE, "Too many sign-ins at once; try again in a moment", 1
            ) from None
        try:
            # argon2 takes tens of milliseconds on purpose: never on the event loop.
            right = await run_in_threadpool(self.passwords.check, stored, password)
            if right and stored is not None and self.passwords.needs_rehash(stored):
                return True, await run_in_threadpool(self.passwords.hash, password)
            return right, None
        finally:
            self._password_slots.release()

    async def _rehash(self, username: str, old_hash: str, new_hash: str) -> None:
        # Not update_login_user: that is a password change and ends every session. This
        # keeps them, and writes nothing if the password was changed meanwhile.
        try:
            await run_in_threadpool(
                self.store.rehash_login_user, username, old_hash=old_hash, new_hash=new_hash
            )
        except Exception as exc:
            # The sign-in stands; the next one tries again. Only the type: the message of a
            # database error may quote the hashes.
            log.warning("storing a rehashed password failed: %s", type(exc).__name__)

    async def logout(self, scope: Scope, receive: Receive, send: Send) -> int:
        self._check_origin(scope)
        await read_body(scope, receive)
        # Every session the request carries ends, a tossed one included: signing out is meant
        # to leave this browser signed in as nobody.
        for secret_hash in signed_hashes(self.cookies, session_cookie_values(scope)):
            await run_in_threadpool(self.store.delete_login_session, secret_hash)
        secure = scope.get("scheme") == "https"
        cookie = clear_cookie(secure=secure).encode("latin-1")
        await send_response(send, 204, b"", (NO_STORE, (b"set-cookie", cookie)))
        return 204

    async def aclose(self) -> None:
        """Close the upstream HTTP client, if any."""
        if self.upstream is not None:
            await self.upstream.aclose()


_last_timestamp: tuple[int, str] = (0, "1970-01-01T00:00:00Z")


def _timestamp(seconds: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``; remembered for the second, as a burst asks for the same one."""
    global _last_timestamp
    if _last_timestamp[0] != seconds:
        _last_timestamp = (seconds, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds)))
    return _last_timestamp[1]
