"""What every REST handler works with: the store, the secret box and the authenticator."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from hubbub.crypto import SecretBox
from hubbub.realtime.chat import Event
from hubbub.service.keys import KeyRing
from hubbub.store import Store
from hubbub.store.errors import NotFound
from hubbub.store.records import Service
from hubbub.web.auth import BasicAuth
from hubbub.web.endpoint import Call, Handler, endpoint
from hubbub.web.errors import not_found

#: How long a service is known to belong to an account without asking the store again.
OWNERSHIP_TTL = 2.0


@dataclass(slots=True)
class Context:
    store: Store
    box: SecretBox
    auth: BasicAuth
    keys: KeyRing
    #: Run handlers on the event loop (SQLite) rather than in the thread pool (PostgreSQL).
    inline: bool = False
    #: Hands an event to the real-time side, so REST writes reach connected clients.
    publish: Callable[[Event], None] = field(default=lambda event: None)
    clock: Callable[[], float] = time.monotonic
    _owned: dict[tuple[str, str], float] = field(default_factory=dict)

    def endpoint(self, handler: Handler) -> Callable[[Request], Any]:
        """``handler`` as a Starlette endpoint of this app."""
        return endpoint(handler, self.auth, inline=self.inline)

    def service(self, call: Call, name: str = "ServiceSid") -> Service:
        """The Chat Service named in the path, if it belongs to the caller's account."""
        try:
            service = self.store.get_service(call.account_sid, call.path(name))
        except NotFound:
            raise not_found(call.request.url.path) from None
        self._owned[(service.account_sid, service.sid)] = self.clock() + OWNERSHIP_TTL
        return service

    def service_sid(self, call: Call) -> str:
        """The SID of the Chat Service in the path, once it is known to be the caller's.

        Every request under a service asks this, so a yes is remembered for a moment; the store
        refuses work on a service deleted meanwhile, since its channels and users go with it.
        """
        key = (call.account_sid, call.path("ServiceSid"))
        if self._owned.get(key, 0.0) > self.clock():
            return key[1]
        if len(self._owned) > 10_000:
            self._owned.clear()
        return self.service(call).sid

    def forget_service(self, account_sid: str, service_sid: str) -> None:
        self._owned.pop((account_sid, service_sid), None)
