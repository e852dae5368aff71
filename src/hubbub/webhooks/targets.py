"""Where a service's webhooks go, remembered briefly: read on every action, changed rarely.

A service's settings and a channel's webhooks are kept ``ttl`` seconds; a change made over
REST is announced with a ``webhooks_changed`` event that every process hears (through the
broker), which drops the entry at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hubbub.chat.events import Event
from hubbub.store import Store
from hubbub.store.errors import NotFound
from hubbub.store.records import ChannelWebhook, ServiceConfig

TTL = 5.0
LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class ServiceHooks:
    """A service's webhook settings."""

    pre_url: str | None
    post_url: str | None
    method: str
    filters: frozenset[str]
    pre_retry_count: int
    post_retry_count: int

    @classmethod
    def of(cls, config: ServiceConfig) -> ServiceHooks:
        return cls(
            config.pre_webhook_url,
            config.post_webhook_url,
            config.webhook_method or "POST",
            frozenset(config.webhook_filters),
            config.pre_webhook_retry_count,
            config.post_webhook_retry_count,
        )


_NONE = ServiceHooks(None, None, "POST", frozenset(), 0, 0)


def changed(service_sid: str, channel_sid: str | None = None) -> Event:
    """The event that tells every process a service's (or a channel's) webhooks changed. It
    reaches no client: its audience is nobody."""
    return Event(
        ("nobody",),
        {"type": "webhooks_changed", "service_sid": service_sid, "channel_sid": channel_sid},
    )


class Targets:
    """Short-lived copies of services' webhook settings and channels' webhooks."""

    def __init__(
        self, store: Store, *, ttl: float = TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.ttl = ttl
        self._clock = clock
        self._services: dict[str, tuple[ServiceHooks, float]] = {}
        self._channels: dict[str, tuple[tuple[ChannelWebhook, ...], float]] = {}
        self._lock = threading.Lock()

    def service(self, account_sid: str, service_sid: str) -> ServiceHooks:
        now = self._clock()
        found = self._services.get(service_sid)
        if found is not None and found[1] > now:
            return found[0]
        try:
            hooks = ServiceHooks.of(self.store.get_service(account_sid, service_sid).config)
        except NotFound:
            hooks = _NONE
        self._put(self._services, service_sid, (hooks, now + self.ttl))
        return hooks

    def channel(self, service_sid: str, channel_sid: str) -> tuple[ChannelWebhook, ...]:
        now = self._clock()
        found = self._channels.get(channel_sid)
        if found is not None and found[1] > now:
            return found[0]
        try:
            hooks = tuple(self.store.channel_webhooks(service_sid, channel_sid))
        except NotFound:  # deleted, with its webhooks
            hooks = ()
        self._put(self._channels, channel_sid, (hooks, now + self.ttl))
        return hooks

    def observe(self, event: Event) -> None:
        """Forget what a ``webhooks_changed`` event (from the broker) names."""
        frame = event.frame
        if frame.get("type") != "webhooks_changed":
            return
        with self._lock:
            self._services.pop(frame.get("service_sid", ""), None)
            channel = frame.get("channel_sid")
            if channel is not None:
                self._channels.pop(channel, None)

    def _put(self, table: dict[str, Any], key: str, value: Any) -> None:
        with self._lock:
            if len(table) >= LIMIT:
                table.clear()
            table[key] = value
