"""A Python function as an authenticator, for apps that embed hubbub's ASGI app."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from starlette.requests import Request

from hubbub.auth.base import Authorization

#: ``authorize(request)``: an ``Authorization`` (or just the identity), ``None`` when the
#: request is not signed in, or raise ``Refused``. May be sync or async; a sync one runs on
#: the event loop, so it must be quick.
AuthorizeHook = Callable[
    [Request], "Authorization | str | Awaitable[Authorization | str | None] | None"
]


class HookAuthenticator:
    def __init__(self, authorize: AuthorizeHook) -> None:
        self._authorize = authorize

    async def authenticate(self, request: Request) -> Authorization | None:
        result = self._authorize(request)
        if inspect.isawaitable(result):
            result = await result
        if result is None or isinstance(result, Authorization):
            return result
        if isinstance(result, str) and result:
            return Authorization(result)
        raise TypeError(
            f"authorize() must return an Authorization, an identity or None: {result!r}"
        )
