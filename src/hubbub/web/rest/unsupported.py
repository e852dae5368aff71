"""Resources hubbub does not serve yet: push Bindings and Credentials.

Their paths answer as Twilio would for an account that has none: empty lists, 404 for any one
of them, and a Twilio-shaped 405 for writes, so a client learns why instead of meeting a bare
404 page.
"""

from __future__ import annotations

from functools import partial

from hubbub.chat.errors import METHOD_NOT_ALLOWED, ApiError, not_found
from hubbub.web.endpoint import Call, Result, Table
from hubbub.web.paging import envelope, page_request

_RESOURCES = [
    # (list path, key in the list envelope, what to call it, needs a service)
    ("/v2/Services/{ServiceSid}/Bindings", "bindings", "push bindings", True),
    ("/v2/Services/{ServiceSid}/Users/{UserSid}/Bindings", "bindings", "push bindings", True),
    ("/v2/Credentials", "credentials", "push credentials", False),
]


def _authenticate(call: Call, scoped: bool) -> None:
    if scoped:
        call.service_sid()
    else:
        call.principal  # noqa: B018 - authenticates the caller


def list_none(call: Call, *, key: str, scoped: bool) -> Result:
    _authenticate(call, scoped)
    return 200, envelope(key, [], page_request(call.query), call.url, None)


def fetch_none(call: Call, *, scoped: bool) -> Result:
    _authenticate(call, scoped)
    raise not_found(call.request.url.path)


def refuse(call: Call, *, what: str) -> Result:
    call.principal  # noqa: B018 - authenticates the caller
    raise ApiError(405, METHOD_NOT_ALLOWED, f"hubbub does not support {what} yet")


TABLE: Table = []
for _path, _key, _what, _scoped in _RESOURCES:
    TABLE += [
        (_path, "GET", partial(list_none, key=_key, scoped=_scoped)),
        (_path, "POST", partial(refuse, what=_what)),
        (_path + "/{Sid}", "GET", partial(fetch_none, scoped=_scoped)),
        (_path + "/{Sid}", "DELETE", partial(fetch_none, scoped=_scoped)),
        (_path + "/{Sid}", "POST", partial(refuse, what=_what)),
    ]
