"""Bare-ASGI plumbing for the token server: reading a capped body, replaying it, parsing fields
and ``ttl``, sending responses and Twilio-shaped errors, lifespan.

The token server answers without Starlette's ``Request``/``Response`` on its busy path, so what
those would do is written out here, once, with no more work per request than needed.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from hubbub.auth.policy import parse_ttl
from hubbub.auth.sessions import header
from hubbub.chat.errors import (
    INVALID_PARAMETER,
    REQUEST_TOO_LARGE,
    TOO_MANY_REQUESTS,
    ApiError,
)

#: The Twilio code of a refused (403) request: authenticated, but not allowed this.
REFUSED = 20403
MAX_BODY = 16 * 1024
JSON = (b"content-type", b"application/json")
NO_STORE = (b"cache-control", b"no-store")


def get_route_path(scope: Scope) -> str:
    """The path below where the app is mounted (``root_path`` is the mount point)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def rate_limited(retry_after: int, message: str = "Too many requests; slow down") -> None:
    if retry_after:
        raise TooMany(retry_after, message)


class RetryLater(ApiError):
    """An error answered with ``Retry-After``."""

    def __init__(self, status: int, code: int, message: str, retry_after: int) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class TooMany(RetryLater):
    def __init__(self, retry_after: int, message: str) -> None:
        super().__init__(429, TOO_MANY_REQUESTS, message, retry_after)


def has_body(scope: Scope) -> bool:
    """Whether the request announces a body (wrk and most token fetches send none)."""
    declared = header(scope, b"content-length")
    if declared is None:
        return header(scope, b"transfer-encoding") is not None
    return declared.strip() not in ("", "0")


async def read_body(scope: Scope, receive: Receive) -> bytes:
    """The request body, at most ``MAX_BODY`` bytes."""
    if not has_body(scope):
        return b""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, REQUEST_TOO_LARGE, f"The request body is larger than {MAX_BODY}")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, REQUEST_TOO_LARGE, f"The request body is larger than {MAX_BODY}")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes) -> Receive:
    """A ``receive`` that hands ``body`` to whoever reads the request again (a hook)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def parse_fields(scope: Scope, body: bytes) -> dict[str, Any]:
    """A JSON object or form body as a dict (form values as strings); 400 if malformed."""
    if not body:
        return {}
    content_type = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if content_type == "application/json" or (not content_type and body[:1] == b"{"):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, INVALID_PARAMETER, "The body is not valid JSON") from None
        except RecursionError:  # arrays or objects nested thousands deep
            raise ApiError(400, INVALID_PARAMETER, "The body is nested too deeply") from None
        if not isinstance(data, dict):
            raise ApiError(400, INVALID_PARAMETER, "The body must be a JSON object")
        return data
    if content_type in ("application/x-www-form-urlencoded", ""):
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise ApiError(400, INVALID_PARAMETER, "The form is not UTF-8") from None
    raise ApiError(400, INVALID_PARAMETER, f"Unsupported Content-Type {content_type!r}")


def text_field(fields: dict[str, Any], name: str) -> str:
    """A required, non-empty string field; 400 when it is missing or is not text (JSON may
    carry lone surrogates, which no database or password hash can take)."""
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError(400, INVALID_PARAMETER, f"Missing required parameter {name}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, INVALID_PARAMETER, f"Invalid parameter {name}: not text") from None
    return value


def requested_ttl(scope: Scope, body: bytes) -> int | None:
    value: object = None
    query = scope.get("query_string", b"")
    if b"ttl" in query:
        value = dict(parse_qsl(query.decode("latin-1"))).get("ttl")
    if value is None and body:
        value = parse_fields(scope, body).get("ttl")
    if value is None:
        return None
    try:
        return parse_ttl(value)
    except ValueError as exc:
        raise ApiError(400, INVALID_PARAMETER, f"Invalid ttl: {exc}") from None


async def no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send_response(
    send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: ApiError) -> None:
    headers: list[tuple[bytes, bytes]] = [JSON, NO_STORE]
    if isinstance(error, RetryLater):
        headers.append((b"retry-after", str(error.retry_after).encode()))
    if error.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="hubbub"'))
    body = json.dumps(error.to_dict(), separators=(",", ":")).encode()
    await send_response(send, error.status, body, tuple(headers))


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
