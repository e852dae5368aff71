"""API keys under Twilio's 2010-04-01 API: ``/2010-04-01/Accounts/{AccountSid}/Keys``.

This is the path the official clients use (``client.new_keys.create()``, ``client.keys``). Keys
are managed with the account's auth token only: a key that could mint keys would outlive its
own revocation. The secret is shown once, on creation, and stored encrypted.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.routing import Route

from hubbub.service.provision import new_api_secret
from hubbub.store.errors import NotFound
from hubbub.web import render
from hubbub.web.context import Context
from hubbub.web.endpoint import Call
from hubbub.web.errors import AUTHENTICATION_FAILED, ApiError, not_found
from hubbub.web.paging import page_request

Result = tuple[int, dict[str, Any] | None]
MAX_NAME = 64


def routes(ctx: Context) -> list[Route]:
    store = ctx.store

    def account(call: Call) -> str:
        """The account in the path, which must be the caller's, reached with its auth token."""
        principal = call.principal
        if call.path("AccountSid") != principal.account_sid:
            raise not_found(call.request.url.path)
        if principal.key_sid is not None:
            raise ApiError(
                403, AUTHENTICATION_FAILED, "API keys are managed with the account's auth token"
            )
        return principal.account_sid

    def key_of(call: Call, account_sid: str) -> Any:
        try:
            key = store.get_api_key(call.path("Sid"))
        except NotFound:
            key = None
        if key is None or key.account_sid != account_sid or key.revoked:
            raise not_found(call.request.url.path)
        return key

    def create(call: Call) -> Result:
        account_sid = account(call)
        name = call.form.text("FriendlyName", max_length=MAX_NAME) or ""
        secret = new_api_secret()
        key = store.create_api_key(
            account_sid, friendly_name=name, encrypted_secret=ctx.box.encrypt(secret)
        )
        ctx.keys.forget(key.sid)
        return 201, render.api_key(key, secret=secret)

    def fetch(call: Call) -> Result:
        return 200, render.api_key(key_of(call, account(call)))

    def update(call: Call) -> Result:
        account_sid = account(call)
        key = key_of(call, account_sid)
        name = call.form.text("FriendlyName", max_length=MAX_NAME)
        if name is not None:
            key = store.update_api_key(account_sid, key.sid, friendly_name=name)
        return 200, render.api_key(key)

    def revoke(call: Call) -> Result:
        account_sid = account(call)
        key = key_of(call, account_sid)
        store.update_api_key(account_sid, key.sid, revoked=True)
        ctx.keys.forget(key.sid)
        ctx.auth.forget(key.sid)
        return 204, None

    def listing(call: Call) -> Result:
        account_sid = account(call)
        page = page_request(call.query)
        keys: list[dict[str, Any]] = []
        cursor = page.token
        # Revoked keys are kept for the record but never listed; fill the page past them.
        while len(keys) < page.size:
            found = store.list_api_keys(account_sid, limit=page.size - len(keys), cursor=cursor)
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

    keys = "/2010-04-01/Accounts/{AccountSid}/Keys"
    return [
        Route(keys + ".json", ctx.endpoint(listing), methods=["GET"]),
        Route(keys + ".json", ctx.endpoint(create), methods=["POST"]),
        Route(keys + "/{Sid}.json", ctx.endpoint(fetch), methods=["GET"]),
        Route(keys + "/{Sid}.json", ctx.endpoint(update), methods=["POST"]),
        Route(keys + "/{Sid}.json", ctx.endpoint(revoke), methods=["DELETE"]),
    ]
