"""Ask the operator's existing app who the user is.

The request's ``Cookie`` and ``Authorization`` headers are forwarded to a configured URL,
which answers 200 ``{"identity", "ttl"?, "role"?}``, or 401 (not signed in) or 403 (refused).
Answers are cached for a few seconds under a hash of those headers; an upstream that is down
or slow makes the request fail cleanly with 503 instead of hanging.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable

import httpx
from starlette.requests import Request

from hubbub.auth.base import Authorization, Refused, Unavailable
from hubbub.auth.sessions import header

log = logging.getLogger("hubbub.auth")

_CACHE_LIMIT = 10_000
#: A cached answer: an authorization, ``None`` (401) or the refusal message (403).
_Answer = Authorization | str | None


class UpstreamAuthenticator:
    """Delegates the decision to ``url`` on the operator's app."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 2.0,
        cache_ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self._timeout = timeout
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._cache: dict[bytes, tuple[_Answer, float]] = {}
        self._asking: dict[bytes, asyncio.Future[_Answer]] = {}

    def _http(self) -> httpx.AsyncClient:
        # Made on first use, inside the serving event loop it will belong to.
        if self._client is None:
            # No idle connections are kept: answers are cached, so calls are rare, and a pooled
            # connection would outlive the event loop of a worker that shuts down.
            self._client = httpx.AsyncClient(
                timeout=self._timeout,
                transport=self._transport,
                follow_redirects=False,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def authenticate(self, request: Request) -> Authorization | None:
        # Forwarded as the bytes that came: a header that is not ASCII is the upstream's to
        # judge, and re-encoding it here would fail.
        forwarded = {
            name: value.encode("latin-1")
            for name, value in (
                (b"cookie", header(request.scope, b"cookie")),
                (b"authorization", header(request.scope, b"authorization")),
            )
            if value is not None
        }
        if not forwarded:
            return None
        key = hashlib.sha256(
            forwarded.get(b"cookie", b"") + b"\x00" + forwarded.get(b"authorization", b"")
        ).digest()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > self._clock():
            answer = cached[0]
        else:
            # Requests that miss at the same time (a page opening many tabs) share one ask.
            asking = self._asking.get(key)
            if asking is None:
                asking = self._asking[key] = asyncio.ensure_future(self._fetch(key, forwarded))
                asking.add_done_callback(lambda done: self._asked(key, done))
            # Shielded: one waiter going away must not cancel the ask for the others.
            answer = await asyncio.shield(asking)
        if isinstance(answer, str):
            raise Refused(answer)
        return answer

    def _asked(self, key: bytes, done: asyncio.Future[_Answer]) -> None:
        self._asking.pop(key, None)
        if not done.cancelled():
            done.exception()  # seen here, so that waiters who left cause no "never retrieved"

    async def _fetch(self, key: bytes, headers: dict[bytes, bytes]) -> _Answer:
        answer = await self._ask(headers)
        if self._cache_ttl > 0:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = (answer, self._clock() + self._cache_ttl)
        return answer

    async def _ask(self, headers: dict[bytes, bytes]) -> _Answer:
        try:
            # httpx's timeout is per read: an upstream sending a byte now and then would never
            # meet it. This is a deadline for the whole answer.
            async with asyncio.timeout(self._timeout):
                response = await self._http().get(self.url, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            log.warning("the upstream authenticator did not answer within %.1f s", self._timeout)
            raise Unavailable("the upstream authenticator did not answer in time") from None
        except httpx.HTTPError as exc:
            log.warning("the upstream authenticator is unreachable: %s", type(exc).__name__)
            raise Unavailable("the upstream authenticator is unreachable") from None
        if response.status_code == 401:
            return None
        if response.status_code == 403:
            return "refused by the upstream authenticator"
        if response.status_code != 200:
            log.warning("the upstream authenticator answered %d", response.status_code)
            raise Unavailable(f"the upstream authenticator answered {response.status_code}")
        try:
            return parse_answer(response.json())
        except ValueError as exc:
            log.warning("the upstream authenticator answered nonsense: %s", exc)
            raise Unavailable("the upstream authenticator gave an invalid answer") from None


def parse_answer(data: object) -> Authorization:
    """An upstream's 200 body as an ``Authorization``; ValueError when malformed."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    identity, ttl, role = data.get("identity"), data.get("ttl"), data.get("role")
    if not isinstance(identity, str) or not identity:
        raise ValueError("identity must be a non-empty string")
    if ttl is not None and (type(ttl) is not int or ttl < 1):
        raise ValueError("ttl must be a positive whole number")
    if role is not None and (not isinstance(role, str) or not role):
        raise ValueError("role must be a non-empty string")
    return Authorization(identity, ttl, role)
