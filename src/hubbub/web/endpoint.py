"""The shape every REST handler shares.

A handler is a plain function of a ``Call`` that returns ``(status, body)``. The wrapper reads
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

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hubbub.web.auth import BasicAuth, Principal
from hubbub.web.errors import REQUEST_TOO_LARGE, ApiError, invalid, not_found
from hubbub.web.params import Params, header_flag
from hubbub.web.render import Urls

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
    auth: BasicAuth

    @cached_property
    def principal(self) -> Principal:
        return self.auth.authenticate(self.request.headers.get("authorization"))

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
        return Urls(str(self.request.base_url).rstrip("/"))

    @property
    def url(self) -> str:
        """This request's absolute URL without its query string."""
        return f"{self.urls.base}{self.request.url.path}"

    @cached_property
    def webhooks_enabled(self) -> bool:
        """``X-Twilio-Webhook-Enabled`` (default true): whether post-event webhooks fire."""
        flag = header_flag(
            self.request.headers.get("x-twilio-webhook-enabled"), "X-Twilio-Webhook-Enabled"
        )
        return True if flag is None else flag


Handler = Callable[[Call], tuple[int, dict[str, Any] | None]]


def endpoint(handler: Handler, auth: BasicAuth, *, inline: bool) -> Callable[[Request], Any]:
    """A Starlette endpoint running ``handler`` with its ``Call``.

    ``inline`` runs it on the event loop itself: right for SQLite, whose transactions are local
    and take a fraction of a millisecond, where a hop to the thread pool costs more than the
    work and forty threads fighting over the GIL stretch the tail. A networked database
    (PostgreSQL) goes to the thread pool so a slow query never stalls the loop.
    """

    def checked(call: Call) -> tuple[int, dict[str, Any] | None]:
        if call.request.method != "GET":
            # Who asks comes first; then a malformed header is refused before anything is written.
            _ = call.principal
            _ = call.webhooks_enabled
        return handler(call)

    async def run(request: Request) -> Response:
        call = Call(request, await read_body(request), auth)
        if inline:
            status, payload = checked(call)
        else:
            status, payload = await run_in_threadpool(checked, call)
        if payload is None:
            return Response(status_code=status)
        return Response(
            json.dumps(payload, separators=(",", ":")), status_code=status, media_type=JSON
        )

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def error_response(error: ApiError) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="hubbub"'} if error.status == 401 else None
    return Response(
        json.dumps(error.to_dict(), separators=(",", ":")),
        status_code=error.status,
        media_type=JSON,
        headers=headers,
    )
