"""Ask the operator's existing app who the user is.

The request's ``Cookie`` and ``Authorization`` headers are forwarded to a configured URL,
which answers 200 ``{"identity", "ttl"?, "role"?}``, or 401 (not signed in) or 403 (refused).
Answers are cached for a few seconds under a hash of those headers; an upstream that is down
or slow makes the request fail cleanly with 503 instead of hanging.
"""

from __future__ import annotations

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
        forwarded = {
            name: value
            for name, value in (
                ("cookie", header(request.scope, b"cookie")),
                ("authorization", header(request.scope, b"authorization")),
            )
            if value is not None
        }
        if not forwarded:
            return None
        key = hashlib.sha256(
            f"{forwarded.get('cookie', '')}\x00{forwarded.get('authorization', '')}".encode()
        ).digest()
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            answer = cached[0]
        else:
            answer = await self._ask(forwarded)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = (answer, now + self._cache_ttl)
        if isinstance(answer, str):
            raise Refused(answer)
        return answer

    async def _ask(self, headers: dict[str, str]) -> _Answer:
        try:
            response = await self._http().get(self.url, headers=headers)
        except httpx.TimeoutException:
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
