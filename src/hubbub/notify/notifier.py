"""The chat core's push hook: one ``NOTIFY`` row in the outbox per event that should notify.

Called from ``Core.done`` inside the action's transaction, for every door. It decides only
whether the event notifies at all (the service's setting for its type, and for membership
events, that someone else did it to the user), and queues one row naming the event: who is
told, of what, and with which text, is worked out by the courier (``notify.expand``), so a
message to a channel of a thousand members costs its sender one small insert.

A service's settings are kept ``ttl`` seconds; an update over REST is announced with the
``webhooks_changed`` event every process hears, which drops them at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from hubbub.chat.core import Actor, Outcome
from hubbub.notify.templates import clip
from hubbub.store import Store
from hubbub.store.errors import NotFound
from hubbub.store.records import NewDelivery, ServiceNotifications

#: The ``method`` of a queued notification, which the courier routes to the expander.
NOTIFY = "NOTIFY"
#: Attempts after the first at expanding a notification (the store failing for a moment).
RETRIES = 4
TTL = 5.0
LIMIT = 100_000
#: The chat core's actions that may notify, with their notification type.
ACTIONS = {
    "send_message": "new_message",
    "add_member": "added_to_channel",
    "remove_member": "removed_from_channel",
    "invite": "invited_to_channel",
}
_OFF = ServiceNotifications()


class PushNotifier:
    """Queues a ``NOTIFY`` delivery for each action that should send push notifications."""

    def __init__(
        self, store: Store, *, ttl: float = TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.ttl = ttl
        self._clock = clock
        self._settings: dict[str, tuple[ServiceNotifications, float]] = {}
        #: Bumped by each ``observe`` that drops settings: a read that began before it may
        #: have seen the old row, and must not store what it read.
        self._generation = 0
        self._lock = threading.Lock()

    def after(self, action: str, actor: Actor, outcome: Outcome) -> None:
        """Inside the action's transaction: queue its notification, if it has one."""
        kind = ACTIONS.get(action)
        resource = outcome.resource
        if kind is None or resource is None:
            return
        if not getattr(self.settings(actor.account_sid, actor.service_sid), kind).enabled:
            return
        params = _params(kind, actor, resource)
        if params is None:
            return
        channel_sid = str(resource["channel_sid"])
        self.store.queue_deliveries(
            [
                NewDelivery(
                    f"notify:{channel_sid}",
                    actor.account_sid,
                    f"notify://{actor.service_sid}/{channel_sid}",
                    NOTIFY,
                    params,
                    RETRIES,
                )
            ]
        )

    def settings(self, account_sid: str, service_sid: str) -> ServiceNotifications:
        """The service's push settings, read at most every ``ttl`` seconds."""
        now = self._clock()
        with self._lock:
            found = self._settings.get(service_sid)
            generation = self._generation
        if found is not None and found[1] > now:
            return found[0]
        try:
            settings = self.store.get_service(account_sid, service_sid).config.notifications
        except NotFound:
            settings = _OFF
        with self._lock:
            if generation != self._generation:
                return settings  # used once, not kept: an update came while it was read
            if len(self._settings) >= LIMIT:
                self._settings.clear()
            self._settings[service_sid] = (settings, now + self.ttl)
        return settings

    def observe(self, event: Any) -> None:
        """Forget a service's settings when a ``webhooks_changed`` event (any update of the
        service over REST, from the broker) names it."""
        frame = event.frame
        if frame.get("type") == "webhooks_changed":
            with self._lock:
                self._generation += 1
                self._settings.pop(frame.get("service_sid", ""), None)


def _params(
    kind: str, actor: Actor, resource: dict[str, Any]
) -> tuple[tuple[str, str], ...] | None:
    """What the expander needs of the event, as the row's parameters; ``None``: it notifies
    nobody (a user who joins, leaves or invites themselves knows it already)."""
    common = (
        ("EventType", f"notify {kind}"),
        ("kind", kind),
        ("service_sid", actor.service_sid),
        ("channel_sid", str(resource["channel_sid"])),
    )
    if kind == "new_message":
        body = resource.get("body") or ""
        media = resource.get("media")
        extra: tuple[tuple[str, str], ...] = (
            ("author", str(resource.get("from") or "")),
            ("message_sid", str(resource["sid"])),
            ("message_index", str(resource["index"])),
            # Cut here already: the row stays small whatever the message's size.
            ("body", clip(body)),
        )
        if resource.get("type") == "media" or media:
            extra += (("media", str((media or {}).get("filename") or "")),)
        return common + extra
    identity = str(resource["identity"])
    if identity == actor.identity:
        return None
    return (*common, ("author", actor.identity or ""), ("identity", identity))
