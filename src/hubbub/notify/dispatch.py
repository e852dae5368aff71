"""What the courier sends its rows through: webhooks as before, notifications by their kind.

The courier knows nothing of what a row is: it hands each to ``Dispatcher.attempt``, which
picks the sender by the row's ``method`` (``NOTIFY`` to expand, ``PUSH`` to push, any HTTP
method to the webhook ``Sender``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from hubbub.crypto import SecretBox
from hubbub.notify.deliver import PushSender
from hubbub.notify.expand import Expander
from hubbub.notify.notifier import NOTIFY
from hubbub.notify.rows import PUSH
from hubbub.push import Pusher
from hubbub.store import Store
from hubbub.webhooks.params import Params
from hubbub.webhooks.sender import Attempt, Sender


class Route(Protocol):
    def attempt(
        self, account_sid: str, url: str, method: str, params: Params, retry: int
    ) -> Attempt: ...

    def close(self) -> None: ...


class Dispatcher:
    """A courier's sender: ``routes`` by method, else ``webhooks``."""

    def __init__(self, webhooks: Sender, routes: Mapping[str, Route]) -> None:
        self.webhooks = webhooks
        self.routes = dict(routes)

    def attempt(
        self, account_sid: str, url: str, method: str, params: Params, retry: int
    ) -> Attempt:
        route = self.routes.get(method)
        if route is None:
            return self.webhooks.attempt(account_sid, url, method, params, retry)
        return route.attempt(account_sid, url, method, params, retry)

    def close(self) -> None:
        self.webhooks.close()
        for route in self.routes.values():
            route.close()


def dispatcher(store: Store, box: SecretBox, webhooks: Sender, pusher: Pusher) -> Dispatcher:
    """The courier's sender: ``webhooks``, and notifications pushed through ``pusher``."""
    return Dispatcher(webhooks, {NOTIFY: Expander(store), PUSH: PushSender(store, box, pusher)})
