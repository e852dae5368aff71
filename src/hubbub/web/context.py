"""What every REST handler works with: the store, the chat core, the secret box, the
authenticator, and the way to hand events to the real-time side."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hubbub.chat.core import Core
from hubbub.chat.errors import not_found
from hubbub.chat.events import Event
from hubbub.chat.keys import KeyRing
from hubbub.chat.render import Urls
from hubbub.crypto import SecretBox
from hubbub.realtime.executor import Executor, Inline
from hubbub.store import Store
from hubbub.store.errors import NotFound
from hubbub.store.records import Service
from hubbub.web.auth import BasicAuth

#: How long a service is known to belong to an account without asking the store again.
OWNERSHIP_TTL = 2.0


@dataclass(slots=True)
class Context:
    store: Store
    box: SecretBox
    auth: BasicAuth
    keys: KeyRing
    core: Core
    #: Runs handlers on the event loop (SQLite) or in the thread pool (PostgreSQL).
    executor: Executor = field(default_factory=Inline)
    #: Hands an event to the real-time side, so REST writes reach connected clients.
    publish: Callable[[Event], None] = field(default=lambda event: None)
    clock: Callable[[], float] = time.monotonic
    #: Where the URLs in answers point; ``None``: the request's own base URL (its Host).
    public_urls: Urls | None = None
    _owned: dict[tuple[str, str], float] = field(default_factory=dict)

    def service(self, account_sid: str, service_sid: str, path: str) -> Service:
        """The Chat Service, if it belongs to the account; else ``path`` is not found."""
        try:
            service = self.store.get_service(account_sid, service_sid)
        except NotFound:
            raise not_found(path) from None
        self._owned[(service.account_sid, service.sid)] = self.clock() + OWNERSHIP_TTL
        return service

    def owns(self, account_sid: str, service_sid: str) -> bool:
        """Whether the account was seen to own the service a moment ago.

        Every request under a service asks this, so a yes is remembered for a moment; the store
        refuses work on a service deleted meanwhile, since its channels and users go with it.
        """
        if self._owned.get((account_sid, service_sid), 0.0) > self.clock():
            return True
        if len(self._owned) > 10_000:
            self._owned.clear()
        return False

    def forget_service(self, account_sid: str, service_sid: str) -> None:
        self._owned.pop((account_sid, service_sid), None)
