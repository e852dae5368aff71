"""Two ways to put the token server in an app: alone (``token_app``, to mount in an existing
Starlette or FastAPI app) or in front of hubbub's own Starlette app (``FrontedStarlette``).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from hubbub.auth.base import Authenticator
from hubbub.auth.hook import AuthorizeHook
from hubbub.crypto import SecretBox
from hubbub.store import Store
from hubbub.web.tokenserver.asgi import get_route_path
from hubbub.web.tokenserver.server import PATHS, TokenServer
from hubbub.web.tokenserver.settings import TokenSettings


def token_app(
    store: Store,
    box: SecretBox,
    settings: TokenSettings | None = None,
    *,
    authorize: AuthorizeHook | None = None,
    authenticators: Sequence[Authenticator] | None = None,
) -> TokenServer:
    """The token endpoint alone, an ASGI app to mount in an existing Starlette or FastAPI app
    (``Mount("/auth", app=token_app(...))`` serves ``/auth/token``, ``/auth/login``,
    ``/auth/logout``)."""
    return TokenServer(store, box, settings, authorize=authorize, authenticators=authenticators)


class FrontedStarlette(Starlette):
    """A Starlette app with the token server's paths answered before any routing or middleware
    (a bare-ASGI fast path: the busiest endpoint skips ~30 µs of framework per request)."""

    tokens: TokenServer | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tokens = self.tokens
        if tokens is not None and scope["type"] == "http" and get_route_path(scope) in PATHS:
            await tokens(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
