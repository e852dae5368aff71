"""The courier's side of a ``NOTIFY`` row: who is told, with which text, on which devices.

Expanding one event reads, whatever the size of the channel, the service, the channel, its
members (one statement), their users, their bindings and for badges their unread counts, and
queues one ``PUSH`` row per binding (``notify.rows``), in short transactions of ``CHUNK`` rows
each (``Expander.attempt``). Recipients are:

- of a new message: the channel's members but its author and those whose notification level
  is ``muted``;
- of being added to, removed from or invited to a channel: that user;

and of those, only users with no connection open (``users.is_online`` false: while a service
sends push notifications, each node records whom it has connected, as for reachability),
through their bindings that take the notification's type. The text is the service's template
for the type (or Twilio's default) with the event's values, rendered once for all of them; the
badge of a new message (with ``NewMessage.BadgeCountEnabled``) is each user's unread count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

from hubbub.notify.rows import push_row
from hubbub.notify.templates import KINDS, NEW_MESSAGE, Kind, clip, render, variables
from hubbub.push import Notification
from hubbub.store import Store
from hubbub.store.errors import NotFound
from hubbub.store.outbox import CHUNK, WRITER_PAUSE
from hubbub.store.records import Binding, NewDelivery, Service
from hubbub.webhooks.http import Response
from hubbub.webhooks.params import Params
from hubbub.webhooks.sender import Attempt

log = logging.getLogger("hubbub.push")

#: What the courier is told of a row handled in full: it forgets it.
DONE = Attempt(Response(200, (), b""))


class Expander:
    """Turns ``NOTIFY`` rows into ``PUSH`` rows, for the courier (``Dispatcher``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def attempt(
        self, account_sid: str, url: str, method: str, params: Params, retry: int
    ) -> Attempt:
        """Expand one notification: its pushes are queued before the courier forgets it (so a
        courier that dies between the two expands it again: at least once, like webhooks).

        They are queued ``CHUNK`` at a time, each chunk a transaction of its own with a pause
        after it: on SQLite the workers' writes wait for the one in progress, and a channel's
        999 pushes at once would keep them waiting tens of milliseconds. A courier that dies
        between chunks queues them all again (the notification is still in the outbox), so a
        device may be told twice, never not at all."""
        rows = self.expand(account_sid, dict(params))
        for start in range(0, len(rows), CHUNK):
            if start:
                time.sleep(WRITER_PAUSE)
            self.store.queue_deliveries(rows[start : start + CHUNK])
        return DONE

    def close(self) -> None:
        pass

    def expand(self, account_sid: str, event: Mapping[str, str]) -> list[NewDelivery]:
        """The ``PUSH`` rows of one queued event; none if its service, channel or setting is
        gone meanwhile."""
        kind = KINDS[event["kind"]]
        service_sid, channel_sid = event["service_sid"], event["channel_sid"]
        store = self.store
        try:
            service = store.get_service(account_sid, service_sid)
            channel = store.get_channel(service_sid, channel_sid)
        except NotFound:
            return []
        notifications = service.config.notifications
        setting = getattr(notifications, kind.name)
        if not setting.enabled:  # turned off since: a flood stops at once
            return []
        author = event.get("author") or None
        if kind is NEW_MESSAGE:
            recipients = [
                identity
                for identity, level in store.channel_audience(channel.sid)
                if identity != author and level != "muted"
            ]
        else:
            recipients = [event["identity"]]
        users = {
            user.identity: user
            for user in store.get_users(service_sid, [*recipients, *([author] if author else [])])
        }
        offline = [i for i in recipients if not (i in users and users[i].is_online)]
        bindings = self._bindings(service_sid, offline, kind)
        if not bindings:
            return []
        who = users.get(author) if author else None
        values = variables(
            user_identity=author,
            user_friendly_name=who.friendly_name if who is not None else None,
            channel_sid=channel.sid,
            channel_unique_name=channel.unique_name,
            channel_friendly_name=channel.friendly_name,
            message=_text(event, service),
        )
        body = render(setting.template or kind.template, values)
        data = {"channel_sid": channel.sid}
        if kind is NEW_MESSAGE:
            data.update(
                message_sid=event["message_sid"],
                message_index=event["message_index"],
                author=author or "",
            )
        badges: dict[str, int] = {}
        if kind is NEW_MESSAGE and setting.badge_count_enabled:
            badges = store.unread_counts(service_sid, {b.identity for b in bindings})
        if notifications.log_enabled:
            log.info(
                "notification %s in channel %s: %d pushes to %d users",
                kind.message_type,
                channel.sid,
                len(bindings),
                len({b.identity for b in bindings}),
            )
        return [
            push_row(
                account_sid,
                binding,
                Notification(
                    kind.message_type,
                    body=body,
                    sound=setting.sound,
                    badge=badges.get(binding.identity),
                    data=data,
                ),
                log=notifications.log_enabled,
            )
            for binding in bindings
        ]

    def _bindings(self, service_sid: str, identities: Sequence[str], kind: Kind) -> list[Binding]:
        """The bindings of ``identities`` that take ``kind``: bindings registered by Twilio's
        SDKs name it in full (``twilio.channel.new_message``), Twilio's REST API shows it
        short (``new_message``); either counts."""
        if not identities:
            return []
        found: dict[str, Binding] = {}
        for message_type in (kind.message_type, kind.short_type):
            for binding in self.store.bindings_for(service_sid, identities, message_type):
                found.setdefault(binding.sid, binding)
        return sorted(found.values(), key=lambda b: (b.identity, b.sid))


def _text(event: Mapping[str, str], service: Service) -> str | None:
    """``${MESSAGE}``: the message's body; for a media message without one, the service's
    ``Media.CompatibilityMessage``, or else a word on the file."""
    body = event.get("body")
    if body or "media" not in event:
        return body
    compatible = service.config.media.compatibility_message
    if compatible:
        return clip(compatible)
    filename = event["media"]
    return f"Sent a file: {clip(filename, 200)}" if filename else "Sent a file"
