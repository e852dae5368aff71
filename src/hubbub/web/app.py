"""The ASGI application: REST API v2, API keys, ``/healthz`` and ``/metrics``.

``create_app`` wires a store and a secret box into routes; ``app_from_environment`` is the
factory ``hubbub serve`` hands to uvicorn, so every worker process builds its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from hubbub.auth.cookies import derive_key
from hubbub.auth.hook import AuthorizeHook
from hubbub.chat.errors import INTERNAL_ERROR, METHOD_NOT_ALLOWED, NOT_FOUND, ApiError, from_store
from hubbub.chat.keys import KeyRing
from hubbub.chat.render import Urls
from hubbub.crypto import SecretBox, check_auth_token, load_master_key
from hubbub.masterkey import key_path
from hubbub.media.blobs import Blobs
from hubbub.media.setup import blobs_for, signer_for
from hubbub.media.signing import Signer
from hubbub.metrics import CONTENT_TYPE, Metrics
from hubbub.realtime.hub import Broker
from hubbub.realtime.node import Node, settle_gc
from hubbub.realtime.session import DEFAULT_WARNING
from hubbub.settings import ServeSettings
from hubbub.store import Store, open_store
from hubbub.store.errors import NotFound, StoreError
from hubbub.web import page, ws_asgi
from hubbub.web.auth import BasicAuth
from hubbub.web.context import Context
from hubbub.web.endpoint import error_response
from hubbub.web.endpoint import routes as bind
from hubbub.web.media import MediaService
from hubbub.web.metrics import MetricsMiddleware
from hubbub.web.rest import channels, keys, push, services, users, webhooks
from hubbub.web.tokenserver import FrontedStarlette, TokenServer, TokenSettings
from hubbub.webhooks.addresses import Guard
from hubbub.webhooks.hooks import WebhookHooks
from hubbub.webhooks.http import Client
from hubbub.webhooks.process import sender_for
from hubbub.webhooks.sender import Sender
from hubbub.webhooks.targets import Targets

log = logging.getLogger("hubbub.web")


def create_app(
    store: Store,
    box: SecretBox,
    *,
    metrics: Metrics | None = None,
    broker: Broker | None = None,
    token_warning: float = DEFAULT_WARNING,
    token_settings: TokenSettings | None = None,
    authorize: AuthorizeHook | None = None,
    public_url: str | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    webhook_sender: Sender | None = None,
    media: tuple[Blobs, Signer] | None = None,
) -> Starlette:
    """The whole HTTP side of hubbub over ``store``: REST API, WebSocket gateway, operations.

    ``token_warning`` is how long before a token's expiry sessions are told to renew it.
    ``token_settings`` and ``authorize`` configure the token server (``/login``, ``/logout``,
    ``/token``; see ``hubbub.web.tokenserver``), answered ahead of the router.
    ``public_url`` (``https://chat.example.com``) is where the URLs in every answer and push
    point; without it they follow each request's Host header, which is the client's to choose.
    ``monotonic`` is the token server's clock (its caches, limits and metrics); tests move it.
    ``webhook_sender`` calls pre-event webhooks; without one, only public addresses are
    reached. Post-event webhooks are queued in the store for the courier, which runs apart.
    ``media`` (a blob store and the signer of temporary links) serves the media service
    (``hubbub.web.media``); without it, it is not served.
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
    public_url = public_url.rstrip("/") if public_url else None
    targets = Targets(store)
    sender = webhook_sender or Sender(store, box, Client(Guard()))
    node = Node(
        store,
        keyring,
        broker=broker,
        warning=token_warning,
        public_url=public_url,
        metrics=metrics,
        hooks=WebhookHooks(store, sender, targets),
    )
    node.broker.subscribe(targets.observe)
    publish = node.publish_from_any_thread if node.executor.threaded else node.broker.publish
    ctx = Context(store, box, auth, keyring, node.core, node.executor, publish)
    ctx.public_urls = Urls(public_url) if public_url else None

    async def websocket(socket: WebSocket) -> None:
        await ws_asgi.serve(socket, node)

    async def twilsock(socket: WebSocket) -> None:
        await ws_asgi.serve(socket, node, twilsock=True)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def metrics_text(request: Request) -> Response:
        return Response(metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    media_service = MediaService(ctx, node, *media) if media is not None else None
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
        WebSocketRoute("/v1/ws", websocket),
        WebSocketRoute("/v3/wsconnect", twilsock),
        *page.routes(),
        # Starlette tries routes in order: the busiest paths (messages, under channels) first.
        *bind(channels.TABLE, ctx),
        *bind(users.TABLE, ctx),
        *bind(services.TABLE, ctx),
        *bind(webhooks.TABLE, ctx),
        *bind(push.TABLE, ctx),
        *bind(keys.TABLE, ctx),
        *(media_service.routes() if media_service is not None else ()),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        node.loop = asyncio.get_running_loop()
        await node.broker.start()  # a broker with background work (Redis) runs meanwhile
        try:
            yield
        finally:
            await node.stop()
            await node.broker.close()
            if media_service is not None:
                media_service.close()
            Metrics.process_ended()

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
    # A redirect to add or drop a slash would name the client's Host; Twilio's API has none.
    app.router.redirect_slashes = False
    app.tokens = TokenServer(
        store, box, token_settings, authorize=authorize, metrics=metrics, monotonic=monotonic
    )
    app.state.ctx = ctx
    app.state.tokens = app.tokens
    app.state.node = node
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
    """The app of one ``hubbub serve`` worker, from the settings it was handed (see
    ``hubbub.settings``)."""
    settings = ServeSettings.from_environment()
    master_key = load_master_key(key_path(settings.db, settings.master_key_file, settings.data_dir))
    broker: Broker | None = None
    if settings.redis_url:
        from hubbub.realtime.redis_broker import RedisBroker

        broker = RedisBroker(settings.redis_url)
    # Every worker derives the same cookie key from the master key.
    tokens = dataclasses.replace(settings.tokens, session_keys=[derive_key(master_key)])
    store = open_store(settings.db)
    box = SecretBox(master_key)
    app = create_app(
        store,
        box,
        broker=broker,
        token_warning=settings.token_warning,
        token_settings=tokens,
        public_url=settings.base_url,
        webhook_sender=sender_for(settings, store, box),
        media=(blobs_for(settings, store), signer_for(master_key)),
    )
    app.state.node.compression = settings.ws_compression
    settle_gc()
    return app
