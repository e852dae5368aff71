"""What tokens are minted with and for: the Chat Service and API key, and the service role an
authorization names.

Both are store work that must stay off the per-request path: the server keeps a ``Minting``
and looks it up again now and then, and ``RoleKeeper`` only touches the store when a role
changes.
"""

from __future__ import annotations

import contextlib

from hubbub.chat.errors import SERVICE_UNAVAILABLE, ApiError
from hubbub.crypto import SecretBox
from hubbub.store import Conflict, NotFound, Store
from hubbub.tokens.minter import Minter
from hubbub.web.tokenserver.asgi import REFUSED

#: How often the Chat Service and API key used for minting are looked up again.
MINTING_REFRESH = 30.0


class Minting:
    """The Chat Service and signing key tokens are minted for, looked up again now and then."""

    def __init__(self, minter: Minter, service_sid: str, checked: float) -> None:
        self.minter = minter
        self.service_sid = service_sid
        self.checked = checked


def resolve_minting(
    store: Store, box: SecretBox, service_sid: str | None, key_sid: str | None
) -> tuple[Minter, str]:
    """The ``Minter`` and Chat Service to mint with, or ``ApiError`` 503 saying what is
    missing."""
    services = []
    cursor: str | None = None
    while True:
        page = store.list_accounts(limit=100, cursor=cursor)
        for account in page.items:
            if account.status != "active":
                continue
            if service_sid is not None:
                with contextlib.suppress(NotFound):
                    services.append(store.get_service(account.sid, service_sid))
            else:
                services.extend(store.list_services(account.sid, limit=2).items)
        cursor = page.next_cursor
        if cursor is None:
            break
    if len(services) != 1:
        if service_sid is not None:
            reason = f"no Chat Service {service_sid} in an active account"
        elif services:
            reason = "several Chat Services: choose one with --token-service"
        else:
            reason = "no Chat Service yet: run hubbub init"
        raise ApiError(503, SERVICE_UNAVAILABLE, f"The token server cannot mint: {reason}")
    service = services[0]
    key = None
    if key_sid is not None:
        try:
            found = store.get_api_key(key_sid)
        except NotFound:
            found = None
        if found is not None and found.account_sid == service.account_sid and not found.revoked:
            key = found
    else:
        cursor = None
        while key is None:
            keys = store.list_api_keys(service.account_sid, limit=50, cursor=cursor)
            key = next((k for k in keys.items if not k.revoked), None)
            cursor = keys.next_cursor
            if cursor is None:
                break
    if key is None:
        raise ApiError(
            503,
            SERVICE_UNAVAILABLE,
            "The token server cannot mint: no active API key "
            + (key_sid or f"in account {service.account_sid}"),
        )
    secret = box.decrypt(key.encrypted_secret)
    return Minter(service.account_sid, key.sid, secret), service.sid


class RoleKeeper:
    """Gives users the Chat Service role their authorization names, off the hot path: what was
    applied is remembered, so only a change costs store work."""

    def __init__(self, store: Store, *, ttl: float = 60.0) -> None:
        self._store = store
        self._ttl = ttl
        self._applied: dict[tuple[str, str], tuple[str, float]] = {}

    def needed(self, service_sid: str, identity: str, role: str, now: float) -> bool:
        found = self._applied.get((service_sid, identity))
        return found is None or found[0] != role or found[1] <= now

    def apply(self, service_sid: str, identity: str, role: str, now: float) -> None:
        """Make the user ``identity`` hold ``role`` (a role SID or friendly name)."""
        role_sid = self._role_sid(service_sid, role)
        try:
            user = self._store.get_user(service_sid, identity)
        except NotFound:
            try:
                self._store.create_user(service_sid, identity, role_sid=role_sid)
            except Conflict:  # created meanwhile by another request or worker
                self._store.update_user(service_sid, identity, role_sid=role_sid)
        else:
            if user.role_sid != role_sid:
                self._store.update_user(service_sid, identity, role_sid=role_sid)
        if len(self._applied) > 100_000:
            self._applied.clear()
        self._applied[(service_sid, identity)] = (role, now + self._ttl)

    def _role_sid(self, service_sid: str, role: str) -> str:
        cursor: str | None = None
        while True:
            page = self._store.list_roles(service_sid, limit=100, cursor=cursor)
            for found in page.items:
                if found.type == "deployment" and role in (found.sid, found.friendly_name):
                    return found.sid
            cursor = page.next_cursor
            if cursor is None:
                raise ApiError(403, REFUSED, f"Role {role!r} is not a service role of this service")
