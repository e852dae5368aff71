"""The ASGI application: REST API v2, API keys, ``/healthz`` and ``/metrics``.

``create_app`` wires a store and a secret box into routes; ``app_from_environment`` is the
factory ``hubbub serve`` hands to uvicorn, so every worker process builds its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from hubbub.auth.hook import AuthorizeHook
from hubbub.crypto import SecretBox, check_auth_token, load_master_key
from hubbub.realtime.hub import Broker, Hub, MemoryBroker
from hubbub.realtime.session import DEFAULT_WARNING
from hubbub.service.keys import KeyRing
from hubbub.store import open_store
from hubbub.store.errors import NotFound, StoreError
from hubbub.web import gateway, page
from hubbub.web.auth import BasicAuth
from hubbub.web.context import Context
from hubbub.web.endpoint import error_response
from hubbub.web.errors import INTERNAL_ERROR, METHOD_NOT_ALLOWED, NOT_FOUND, ApiError, from_store
from hubbub.web.gateway import Realtime
from hubbub.web.metrics import Metrics, MetricsMiddleware
from hubbub.web.rest import channels, keys, services, unsupported, users
from hubbub.web.tokenserver import (
    FrontedStarlette,
    TokenServer,
    TokenSettings,
    settings_from_environment,
)

log = logging.getLogger("hubbub.web")


def create_app(
    store: Any,
    box: SecretBox,
    *,
    metrics: Metrics | None = None,
    broker: Broker | None = None,
    token_warning: float = DEFAULT_WARNING,
    token_settings: TokenSettings | None = None,
    authorize: AuthorizeHook | None = None,
) -> Starlette:
    """The whole HTTP side of hubbub over ``store``: REST API, WebSocket gateway, operations.

    ``token_warning`` is how long before a token's expiry sessions are told to renew it.
    ``token_settings`` and ``authorize`` configure the token server (``/login``, ``/logout``,
    ``/token``; see ``hubbub.web.tokenserver``), answered ahead of the router.
    """
    metrics = metrics or Metrics()

    def account_token_hash(account_sid: str) -> str | None:
        try:
            account = store.get_account(account_sid)
        except NotFound:
            return None
        return account.auth_token_hash if account.status == "active" else None

    keyring = KeyRing(store, box)
    auth = BasicAuth(account_token_hash, keyring.lookup, check_auth_token)
    ctx = Context(store, box, auth, keyring, inline=store.backend == "sqlite")

    hub = Hub()
    broker = broker or MemoryBroker()
    broker.subscribe(hub.deliver)
    realtime = Realtime(store, keyring, hub, broker, inline=ctx.inline, warning=token_warning)
    ctx.publish = broker.publish if ctx.inline else realtime.publish_from_any_thread

    async def websocket(socket: WebSocket) -> None:
        await gateway.serve(socket, realtime)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def metrics_text(request: Request) -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
        WebSocketRoute("/v1/ws", websocket),
        *page.routes(),
        # Starlette tries routes in order: the busiest paths (messages, under channels) first.
        *channels.routes(ctx),
        *users.routes(ctx),
        *services.routes(ctx),
        *unsupported.routes(ctx),
        *keys.routes(ctx),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        realtime.loop = asyncio.get_running_loop()
        await broker.start()  # a broker with background work (Redis) runs while the app does
        try:
            yield
        finally:
            await broker.close()

    app = FrontedStarlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        exception_handlers={
            ApiError: _api_error,
            StoreError: _store_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.tokens = TokenServer(store, box, token_settings, authorize=authorize, metrics=metrics)
    app.state.ctx = ctx
    app.state.tokens = app.tokens
    app.state.realtime = realtime
    app.state.metrics = metrics
    return app


# Starlette picks each handler by the exception's type, hence the casts.
async def _api_error(request: Request, exc: Exception) -> Response:
    return error_response(cast(ApiError, exc))


async def _store_error(request: Request, exc: Exception) -> Response:
    return error_response(from_store(cast(StoreError, exc), request.url.path))


async def _http_error(request: Request, exc: Exception) -> Response:
    exc = cast(HTTPException, exc)
    if exc.status_code == 405:
        error = ApiError(405, METHOD_NOT_ALLOWED, f"Method {request.method} not allowed here")
    elif exc.status_code == 404:
        error = ApiError(404, NOT_FOUND, f"The requested resource {request.url.path} was not found")
    else:
        error = ApiError(exc.status_code, exc.status_code * 100, str(exc.detail))
    return error_response(error)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The path only: query strings and bodies may carry secrets, and tokens are never logged.
    log.exception("unexpected error serving %s %s", request.method, request.url.path)
    return error_response(ApiError(500, INTERNAL_ERROR, "Internal error; see the server log"))


def app_from_environment() -> Starlette:
    """The app for ``hubbub serve``: database URL, master key and the token warning (seconds
    before expiry, ``HUBBUB_TOKEN_WARNING``, 180 by default) from the environment; with
    ``HUBBUB_REDIS_URL`` events travel between processes through that Redis server."""
    url = os.environ.get("HUBBUB_DB", "sqlite:///hubbub.db")
    key_file = Path(os.environ.get("HUBBUB_MASTER_KEY_FILE", "hubbub-master.key"))
    master_key = load_master_key(key_file)
    box = SecretBox(master_key)
    warning = float(os.environ.get("HUBBUB_TOKEN_WARNING", DEFAULT_WARNING))
    broker: Broker | None = None
    redis_url = os.environ.get("HUBBUB_REDIS_URL")
    if redis_url:
        from hubbub.realtime.redis_broker import RedisBroker

        broker = RedisBroker(redis_url)
    app = create_app(
        open_store(url),
        box,
        broker=broker,
        token_warning=warning,
        token_settings=settings_from_environment(master_key),
    )
    # permessage-deflate is opt-in: its zlib state costs ~35 KiB per idle connection.
    app.state.realtime.compression = os.environ.get("HUBBUB_WS_COMPRESSION") == "1"
    gateway.settle_gc()
    return app
