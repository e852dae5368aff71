"""Resources hubbub does not serve yet: push Bindings, Credentials and channel Webhooks.

Their paths answer as Twilio would for an account that has none: empty lists, 404 for any one
of them, and a Twilio-shaped 405 for writes, so a client learns why instead of meeting a bare
404 page.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from hubbub.web.context import Context
from hubbub.web.endpoint import Call
from hubbub.web.errors import METHOD_NOT_ALLOWED, ApiError, not_found
from hubbub.web.paging import envelope, page_request

Result = tuple[int, dict[str, Any] | None]

_RESOURCES = [
    # (list path, key in the list envelope, what to call it, needs a service)
    ("/v2/Services/{ServiceSid}/Bindings", "bindings", "push bindings", True),
    ("/v2/Services/{ServiceSid}/Users/{UserSid}/Bindings", "bindings", "push bindings", True),
    (
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks",
        "webhooks",
        "channel webhooks",
        True,
    ),
    ("/v2/Credentials", "credentials", "push credentials", False),
]


def routes(ctx: Context) -> list[Route]:
    result: list[Route] = []
    for path, key, what, scoped in _RESOURCES:

        def listing(call: Call, key: str = key, scoped: bool = scoped) -> Result:
            if scoped:
                ctx.service_sid(call)
            else:
                call.principal  # noqa: B018 - authenticates the caller
            return 200, envelope(key, [], page_request(call.query), call.url, None)

        def missing(call: Call, scoped: bool = scoped) -> Result:
            if scoped:
                ctx.service_sid(call)
            else:
                call.principal  # noqa: B018 - authenticates the caller
            raise not_found(call.request.url.path)

        def refuse(call: Call, what: str = what) -> Result:
            call.principal  # noqa: B018 - authenticates the caller
            raise ApiError(405, METHOD_NOT_ALLOWED, f"hubbub does not support {what} yet")

        result += [
            Route(path, ctx.endpoint(listing), methods=["GET"]),
            Route(path, ctx.endpoint(refuse), methods=["POST"]),
            Route(path + "/{Sid}", ctx.endpoint(missing), methods=["GET", "DELETE"]),
            Route(path + "/{Sid}", ctx.endpoint(refuse), methods=["POST"]),
        ]
    return result
