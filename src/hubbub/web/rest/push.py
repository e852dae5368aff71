"""Push over REST: the account's ``/v2/Credentials``, and a service's ``/Bindings`` (also per
user, ``/Users/{US}/Bindings``).

Credentials take Twilio's parameters (``Type``, ``FriendlyName``, ``Certificate``,
``PrivateKey``, ``Sandbox``, ``ApiKey``, ``Secret``) and hubbub's own for what Twilio kept to
itself: ``KeyId``, ``TeamId``, ``Topic`` (APNs token auth) and ``Subject`` (Web Push). No answer
carries a secret. Bindings are made by the clients' registrations (``hubbub.chat.push``); REST
reads and deletes them, as at Twilio.
"""

from __future__ import annotations

from typing import cast

from hubbub.chat import credentials, render
from hubbub.chat.errors import PAGE_SIZE_TOO_LARGE, ApiError, invalid, not_found
from hubbub.chat.fields import MAX_NAME
from hubbub.chat.push import BINDING_TYPES
from hubbub.store import NotFound
from hubbub.store.records import UNSET, Binding, CredentialType, Unset, User
from hubbub.web.endpoint import Call, Result, Table
from hubbub.web.paging import envelope, page_request
from hubbub.web.params import Params

#: The largest key parameter: a service account's JSON is about 2.4 KB, a PEM certificate chain
#: a few KB.
MAX_KEY = 64 * 1024
MAX_BINDINGS_PAGE = 50


def _material(form: Params) -> credentials.KeyMaterial:
    def text(name: str, limit: int = MAX_KEY) -> str | None:
        return form.text(name, max_length=limit)

    return credentials.KeyMaterial(
        certificate=text("Certificate"),
        private_key=text("PrivateKey"),
        api_key=text("ApiKey", 4096),
        secret=text("Secret"),
        key_id=text("KeyId", 64),
        team_id=text("TeamId", 64),
        topic=text("Topic", 256),
        subject=text("Subject", 1024),
    )


# -- credentials --------------------------------------------------------------------------------
def create_credential(call: Call) -> Result:
    form = call.form
    if "Type" not in form:
        raise invalid("Missing required parameter Type in the post body")
    kind = cast(CredentialType, form.choice("Type", credentials.TYPES))
    found = credentials.create(
        call.ctx.store,
        call.ctx.box,
        call.account_sid,
        kind,
        _material(form),
        friendly_name=form.text("FriendlyName", max_length=MAX_NAME),
        sandbox=bool(form.boolean("Sandbox")),
    )
    return 201, render.credential(found, call.urls)


def list_credentials(call: Call) -> Result:
    page = page_request(call.query)
    found = call.ctx.store.list_credentials(call.account_sid, limit=page.size, cursor=page.token)
    items = [render.credential(item, call.urls) for item in found.items]
    return 200, envelope("credentials", items, page, call.url, found.next_cursor)


def fetch_credential(call: Call) -> Result:
    found = call.ctx.store.get_credential(call.account_sid, call.path("Sid"))
    return 200, render.credential(found, call.urls)


def update_credential(call: Call) -> Result:
    form = call.form
    if "Type" in form:
        raise invalid("Type cannot be changed: create a credential of the other type")
    friendly_name: str | Unset | None = UNSET
    if "FriendlyName" in form:
        friendly_name = form.text("FriendlyName", max_length=MAX_NAME) or None
    sandbox = form.boolean("Sandbox")
    found = credentials.update(
        call.ctx.store,
        call.ctx.box,
        call.account_sid,
        call.path("Sid"),
        _material(form),
        friendly_name=friendly_name,
        sandbox=UNSET if sandbox is None else sandbox,
    )
    return 200, render.credential(found, call.urls)


def delete_credential(call: Call) -> Result:
    call.ctx.store.delete_credential(call.account_sid, call.path("Sid"))
    return 204, None


# -- bindings ----------------------------------------------------------------------------------
def _binding_page(call: Call, identities: list[str], user: User | None) -> Result:
    page = page_request(
        call.query, ("BindingType", "Identity") if user is None else ("BindingType",)
    )
    if page.size > MAX_BINDINGS_PAGE:
        raise invalid(
            f"PageSize is {page.size}; the maximum for bindings is {MAX_BINDINGS_PAGE}",
            PAGE_SIZE_TOO_LARGE,
        )
    types = page.filters.get("BindingType", [])
    for kind in types:
        if kind not in BINDING_TYPES:
            raise invalid(f"BindingType must be one of {', '.join(BINDING_TYPES)}, not {kind!r}")
    found = call.ctx.store.list_bindings(
        call.service_sid(),
        identities=identities,
        binding_types=types,
        limit=page.size,
        cursor=page.token,
    )
    user_sid = None if user is None else user.sid
    items = [render.binding(item, call.urls, user_sid=user_sid) for item in found.items]
    return 200, envelope("bindings", items, page, call.url, found.next_cursor)


def list_bindings(call: Call) -> Result:
    identities = call.query.repeated("Identity", max_length=1024)
    return _binding_page(call, identities, None)


def fetch_binding(call: Call) -> Result:
    found = call.ctx.store.get_binding(call.service_sid(), call.path("Sid"))
    return 200, render.binding(found, call.urls)


def delete_binding(call: Call) -> Result:
    call.ctx.store.delete_binding(call.service_sid(), call.path("Sid"))
    return 204, None


def _user(call: Call) -> User:
    return call.ctx.store.get_user(call.service_sid(), call.path("UserSid"))


def _user_binding(call: Call, user: User) -> Binding:
    found = call.ctx.store.get_binding(user.service_sid, call.path("Sid"))
    if found.identity != user.identity:
        raise not_found(call.request.url.path)
    return found


def list_user_bindings(call: Call) -> Result:
    user = _user(call)
    return _binding_page(call, [user.identity], user)


def fetch_user_binding(call: Call) -> Result:
    user = _user(call)
    return 200, render.binding(_user_binding(call, user), call.urls, user_sid=user.sid)


def delete_user_binding(call: Call) -> Result:
    user = _user(call)
    found = _user_binding(call, user)
    try:
        call.ctx.store.delete_binding(user.service_sid, found.sid)
    except NotFound:
        raise not_found(call.request.url.path) from None
    return 204, None


def _no_create(call: Call) -> Result:
    call.principal  # noqa: B018 - authenticates the caller
    raise ApiError(
        405, 20004, "Bindings are made by the clients' push registrations, not over REST"
    )


_CREDENTIALS = "/v2/Credentials"
_BINDINGS = "/v2/Services/{ServiceSid}/Bindings"
_USER_BINDINGS = "/v2/Services/{ServiceSid}/Users/{UserSid}/Bindings"
TABLE: Table = [
    (_CREDENTIALS, "GET", list_credentials),
    (_CREDENTIALS, "POST", create_credential),
    (_CREDENTIALS + "/{Sid}", "GET", fetch_credential),
    (_CREDENTIALS + "/{Sid}", "POST", update_credential),
    (_CREDENTIALS + "/{Sid}", "DELETE", delete_credential),
    (_BINDINGS, "GET", list_bindings),
    (_BINDINGS, "POST", _no_create),
    (_BINDINGS + "/{Sid}", "GET", fetch_binding),
    (_BINDINGS + "/{Sid}", "DELETE", delete_binding),
    (_USER_BINDINGS, "GET", list_user_bindings),
    (_USER_BINDINGS, "POST", _no_create),
    (_USER_BINDINGS + "/{Sid}", "GET", fetch_user_binding),
    (_USER_BINDINGS + "/{Sid}", "DELETE", delete_user_binding),
]
