"""What ``send_message`` checks on every message — the channel, the sender's membership and its
role's permissions — and the Chat Service, remembered briefly, so that a message costs one
write and no reads.

Channels and memberships live ``ttl`` seconds (5), role permissions and services (looked up
on every authentication) one second, like the API key ring: that bounds how stale a change
made elsewhere (another process, a member's role set over REST) can be. Changes this process
hears of as events (a member joined, left or changed, a channel changed or went) drop their
entries at once, so a client that leaves a channel cannot send to it a moment later. No I/O
beyond the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hubbub.chat.events import Event
from hubbub.store import Store
from hubbub.store.records import Channel, Member, Service

#: Past this many entries a table is emptied rather than grown.
LIMIT = 100_000


class Lookups:
    """Short-lived copies of channels, memberships and role permissions."""

    __slots__ = (
        "_channels",
        "_clock",
        "_members",
        "_roles",
        "_services",
        "role_ttl",
        "store",
        "ttl",
    )

    def __init__(
        self,
        store: Store,
        *,
        ttl: float = 5.0,
        role_ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.role_ttl = role_ttl
        self._clock = clock
        self._channels: dict[tuple[str, str], tuple[Channel, float]] = {}
        self._members: dict[tuple[str, str], tuple[Member, float]] = {}
        self._roles: dict[tuple[str, str], tuple[frozenset[str], float]] = {}
        self._services: dict[tuple[str, str], tuple[Service, float]] = {}

    def channel(self, service_sid: str, ref: str) -> Channel:
        """``store.get_channel``; raises ``NotFound`` likewise (misses are not remembered)."""
        key = (service_sid, ref)
        now = self._clock()
        found = self._channels.get(key)
        if found is not None and found[1] > now:
            return found[0]
        channel = self.store.get_channel(service_sid, ref)
        _put(self._channels, key, (channel, now + self.ttl))
        return channel

    def member(self, service_sid: str, channel_sid: str, identity: str) -> Member:
        key = (channel_sid, identity)
        now = self._clock()
        found = self._members.get(key)
        if found is not None and found[1] > now:
            return found[0]
        member = self.store.get_member(service_sid, channel_sid, identity)
        _put(self._members, key, (member, now + self.ttl))
        return member

    def permissions(self, service_sid: str, role_sid: str) -> frozenset[str]:
        key = (service_sid, role_sid)
        now = self._clock()
        found = self._roles.get(key)
        if found is not None and found[1] > now:
            return found[0]
        permissions = frozenset(self.store.get_role(service_sid, role_sid).permissions)
        _put(self._roles, key, (permissions, now + self.role_ttl))
        return permissions

    def service(self, account_sid: str, service_sid: str) -> Service:
        """``store.get_service``, kept ``role_ttl`` seconds: for checking that it exists; its
        settings change over REST without an event, so read those from the store."""
        key = (account_sid, service_sid)
        now = self._clock()
        found = self._services.get(key)
        if found is not None and found[1] > now:
            return found[0]
        service = self.store.get_service(account_sid, service_sid)
        _put(self._services, key, (service, now + self.role_ttl))
        return service

    def observe(self, event: Event) -> None:
        """Forget what ``event`` (from the broker) says has changed."""
        frame = event.frame
        kind = frame.get("type")
        if kind in ("member_joined", "member_left", "member_updated"):
            member: dict[str, Any] = frame.get("member") or {}
            self._members.pop((frame.get("channel_sid", ""), member.get("identity", "")), None)
        elif kind in ("channel_updated", "channel_removed", "channel_left"):
            # Rare: dropping everything is simpler than finding what named the channel.
            self._channels.clear()
            self._members.clear()


def _put(table: dict[Any, Any], key: Any, value: Any) -> None:
    if len(table) >= LIMIT:
        table.clear()
    table[key] = value
