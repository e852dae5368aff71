"""The shape every REST handler shares.

A handler is a plain module-level function of a ``Call`` that returns ``(status, body)``;
each REST module lists its handlers in a route table. The wrapper reads
the request body on the event loop, then runs authentication, the store work and rendering in
one go, on the loop or in one trip to the thread pool (see ``endpoint``). Errors are raised,
never returned; the app's exception handlers render them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub.chat.core import Actor, Outcome
from hubbub.chat.errors import REQUEST_TOO_LARGE, ApiError, invalid, not_found
from hubbub.chat.render import Urls
from hubbub.store.records import Service
from hubbub.web.auth import Principal
from hubbub.web.context import Context
from hubbub.web.params import Params, header_flag

JSON = "application/json"
#: The largest request body read: a 32 KiB message with 16 KiB of attributes, form-encoded.
MAX_BODY = 256 * 1024


async def read_body(request: Request) -> bytes:
    """The request body, refusing (413) any larger than ``MAX_BODY`` before it is all read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def too_large() -> ApiError:
    return ApiError(413, REQUEST_TOO_LARGE, f"The request body is larger than {MAX_BODY} bytes")


@dataclass
class Call:
    """One REST request as handlers see it: who, what, and where the answer's URLs point."""

    request: Request
    body: bytes
    ctx: Context

    @cached_property
    def principal(self) -> Principal:
        return self.ctx.auth.authenticate(self.request.headers.get("authorization"))

    @property
    def account_sid(self) -> str:
        return self.principal.account_sid

    def path(self, name: str) -> str:
        value: str = self.request.path_params[name]
        if "\x00" in value:  # no name holds it, and PostgreSQL refuses to compare with it
            raise not_found(self.request.url.path)
        return value

    @cached_property
    def form(self) -> Params:
        content_type = self.request.headers.get("content-type", "")
        if self.body and not content_type.startswith("application/x-www-form-urlencoded"):
            raise invalid(
                f"Content-Type must be application/x-www-form-urlencoded, not {content_type!r}"
            )
        return Params.from_body(self.body)

    @cached_property
    def query(self) -> Params:
        return Params(self.request.query_params.multi_items())

    @cached_property
    def urls(self) -> Urls:
        public = self.ctx.public_urls
        return public if public is not None else Urls(str(self.request.base_url).rstrip("/"))

    @property
    def url(self) -> str:
        """This request's absolute URL without its query string."""
        return f"{self.urls.base}{self.request.url.path}"

    @cached_property
    def webhooks_enabled(self) -> bool:
        """``X-Twilio-Webhook-Enabled``: whether this write is followed by post-event
        webhooks. As at Twilio, a REST write is not, unless the header says ``true``."""
        flag = header_flag(
            self.request.headers.get("x-twilio-webhook-enabled"), "X-Twilio-Webhook-Enabled"
        )
        return flag is True

    def service(self, name: str = "ServiceSid") -> Service:
        """The Chat Service named in the path, if it belongs to the caller's account."""
        return self.ctx.service(self.account_sid, self.path(name), self.request.url.path)

    def service_sid(self) -> str:
        """The SID of the Chat Service in the path, once it is known to be the caller's."""
        sid = self.path("ServiceSid")
        if self.ctx.owns(self.account_sid, sid):
            return sid
        return self.service().sid

    def actor(self) -> Actor:
        """The application's server acting in the Chat Service of the path."""
        return Actor(
            self.account_sid, self.service_sid(), self.urls, webhooks=self.webhooks_enabled
        )

    def publish(self, outcome: Outcome) -> dict[str, Any] | None:
        """Hand the events of ``outcome`` to the real-time side; its resource, to answer with."""
        for event in outcome.events:
            self.ctx.publish(event)
        return outcome.resource


Result = tuple[int, dict[str, Any] | None]
Handler = Callable[[Call], Result]
#: A REST module's routes: path, method, handler.
Table = list[tuple[str, str, Handler]]


def routes(table: Table, ctx: Context) -> list[Route]:
    """Starlette routes for ``table``, each handler bound to ``ctx``."""
    return [
        Route(path, endpoint(handler, ctx), methods=[method]) for path, method, handler in table
    ]


def endpoint(handler: Handler, ctx: Context) -> Callable[[Request], Any]:
    """A Starlette endpoint running ``handler`` with its ``Call``, through the context's
    executor: on the event loop for SQLite, in the thread pool for PostgreSQL (see
    ``realtime.executor``)."""

    def checked(call: Call) -> Result:
        if call.request.method != "GET":
            # Who asks comes first; then a malformed header is refused before anything is written.
            _ = call.principal
            _ = call.webhooks_enabled
        return handler(call)

    async def run(request: Request) -> Response:
        call = Call(request, await read_body(request), ctx)
        status, payload = await ctx.executor.run(checked, call)
        if payload is None:
            return Response(status_code=status)
        return Response(
            json.dumps(payload, separators=(",", ":")), status_code=status, media_type=JSON
        )

    # A handler bound to its resource (functools.partial) is named by its function.
    named = getattr(handler, "func", handler)
    run.__name__ = named.__name__
    run.__doc__ = named.__doc__
    return run


def error_response(error: ApiError) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="hubbub"'} if error.status == 401 else None
    return Response(
        json.dumps(error.to_dict(), separators=(",", ":")),
        status_code=error.status,
        media_type=JSON,
        headers=headers,
    )
