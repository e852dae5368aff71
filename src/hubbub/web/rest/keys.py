"""API keys under Twilio's 2010-04-01 API: ``/2010-04-01/Accounts/{AccountSid}/Keys``.

This is the path the official clients use (``client.new_keys.create()``, ``client.keys``). Keys
are managed with the account's auth token only: a key that could mint keys would outlive its
own revocation. The secret is shown once, on creation, and stored encrypted.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from hubbub.chat import render
from hubbub.chat.errors import AUTHENTICATION_FAILED, ApiError, not_found
from hubbub.chat.provision import new_api_secret
from hubbub.store.errors import NotFound
from hubbub.store.records import ApiKey
from hubbub.web.endpoint import Call, Result, Table
from hubbub.web.paging import page_request

MAX_NAME = 64


def _account(call: Call) -> str:
    """The account in the path, which must be the caller's, reached with its auth token."""
    principal = call.principal
    if call.path("AccountSid") != principal.account_sid:
        raise not_found(call.request.url.path)
    if principal.key_sid is not None:
        raise ApiError(
            403, AUTHENTICATION_FAILED, "API keys are managed with the account's auth token"
        )
    return principal.account_sid


def _key(call: Call, account_sid: str) -> ApiKey:
    try:
        key: ApiKey | None = call.ctx.store.get_api_key(call.path("Sid"))
    except NotFound:
        key = None
    if key is None or key.account_sid != account_sid or key.revoked:
        raise not_found(call.request.url.path)
    return key


def create_key(call: Call) -> Result:
    ctx = call.ctx
    account_sid = _account(call)
    name = call.form.text("FriendlyName", max_length=MAX_NAME) or ""
    secret = new_api_secret()
    key = ctx.store.create_api_key(
        account_sid, friendly_name=name, encrypted_secret=ctx.box.encrypt(secret)
    )
    ctx.keys.forget(key.sid)
    return 201, render.api_key(key, secret=secret)


def fetch_key(call: Call) -> Result:
    return 200, render.api_key(_key(call, _account(call)))


def update_key(call: Call) -> Result:
    account_sid = _account(call)
    key = _key(call, account_sid)
    name = call.form.text("FriendlyName", max_length=MAX_NAME)
    if name is not None:
        key = call.ctx.store.update_api_key(account_sid, key.sid, friendly_name=name)
    return 200, render.api_key(key)


def revoke_key(call: Call) -> Result:
    ctx = call.ctx
    account_sid = _account(call)
    key = _key(call, account_sid)
    ctx.store.update_api_key(account_sid, key.sid, revoked=True)
    ctx.keys.forget(key.sid)
    ctx.auth.forget(key.sid)
    return 204, None


def list_keys(call: Call) -> Result:
    account_sid = _account(call)
    page = page_request(call.query)
    keys: list[dict[str, Any]] = []
    cursor = page.token
    # Revoked keys are kept for the record but never listed; fill the page past them.
    while len(keys) < page.size:
        found = call.ctx.store.list_api_keys(
            account_sid, limit=page.size - len(keys), cursor=cursor
        )
        keys += [render.api_key(key) for key in found.items if not key.revoked]
        cursor = found.next_cursor
        if cursor is None:
            break
    path = call.request.url.path

    def uri(number: int, token: str | None) -> str:
        query: dict[str, Any] = {"PageSize": page.size, "Page": number}
        if token is not None:
            query["PageToken"] = token
        return f"{path}?{urlencode(query)}"

    start = page.number * page.size
    return 200, {
        "keys": keys,
        "end": start + max(len(keys) - 1, 0),
        "first_page_uri": uri(0, None),
        "next_page_uri": uri(page.number + 1, cursor) if cursor else None,
        "page": page.number,
        "page_size": page.size,
        "previous_page_uri": None,
        "start": start,
        "uri": uri(page.number, page.token),
    }


_KEYS = "/2010-04-01/Accounts/{AccountSid}/Keys"
TABLE: Table = [
    (_KEYS + ".json", "GET", list_keys),
    (_KEYS + ".json", "POST", create_key),
    (_KEYS + "/{Sid}.json", "GET", fetch_key),
    (_KEYS + "/{Sid}.json", "POST", update_key),
    (_KEYS + "/{Sid}.json", "DELETE", revoke_key),
]
