"""The journal: every action's changes to the Sync objects, recorded in its transaction.

``Core.done`` hands it each action's events; it projects them onto the Sync objects, records
the changes with their ids (``Store.journal``) and hangs them on the action's events as riders
whose audience is the object (``("object", sid)``): through the broker and the hubs they reach
the connections subscribed to it, on every node, in the same message as the event they follow.
A client that subscribes late, or comes back after a reconnect, is sent the recorded events
after the last one it saw (``Store.events_after``), so it misses nothing.

Inside an ``atomic`` block the work is gathered and done once at its end (``Store.collector``):
a group commit of many messages takes each object's ids in one statement and writes each
channel's document once, with its newest message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hubbub.chat import render
from hubbub.chat.core import Actor
from hubbub.chat.events import Event
from hubbub.chat.render import date
from hubbub.store import Store
from hubbub.store.records import SyncEvent
from hubbub.sync import objects
from hubbub.sync.objects import CHANNEL_DOCUMENT
from hubbub.sync.projection import Change, Projector, compose, message_added

#: How long the journal keeps an object's events for clients that come back.
RETENTION = 24 * 3600.0
#: A service's objects are journaled from the first time one of its users connects with
#: Twilio's SDKs (``Journal.start``): a service that never sees them pays nothing. A process
#: goes on believing a service is not journaled for at most this long (seconds)...
UNJOURNALED_TTL = 1.0
#: ...so the SDK sessions of a service's first moments wait until this long after its journal
#: began before their clients read anything: by then every process journals the service's
#: actions, and every action that began without journaling (a transaction takes milliseconds)
#: is committed, so the clients' reads show it.
SETTLE = UNJOURNALED_TTL + 1.5
#: The most services whose state a process remembers.
_REMEMBERED = 100_000
_ON = float("inf")
#: The frame types whose events change a Sync object (the others are passed over unread).
CHANGING = frozenset(
    {
        "message_added",
        "message_updated",
        "message_removed",
        "member_joined",
        "member_updated",
        "member_left",
        "channel_joined",
        "channel_invited",
        "channel_left",
        "channel_updated",
        "channel_removed",
        "user_updated",
    }
)


def object_event(object_sid: str, id_: int, event_type: str, body: dict[str, Any]) -> Event:
    """A Sync event, for the connections subscribed to its object."""
    event = compose(object_sid, id_, event_type, dict(body))
    return Event(("object", object_sid), {"event_type": event_type, "event": event})


def replayed(event: SyncEvent) -> Event:
    return object_event(event.object_sid, event.id, event.event_type, event.body)


class Journal:
    """Records the Sync changes of every action (``chat.core.Recorder``)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` stamps the events; ``monotonic`` times what is remembered."""
        self.clock = clock
        self.monotonic = monotonic
        #: Per service: until when it is believed not journaled (on a monotonic clock), or
        #: for ever (``_ON``) once it is.
        self._until: dict[str, float] = {}
        #: Per journaled service: when its journal began (``clock``).
        self._since: dict[str, float] = {}

    def journaled(self, store: Store, service_sid: str) -> bool:
        """Whether the service's objects are journaled (its own SID has a counter)."""
        until = self._until.get(service_sid)
        now = self.monotonic()
        if until is not None and until > now:
            return until == _ON
        on = store.last_event_ids([service_sid])[service_sid] > 0
        if len(self._until) >= _REMEMBERED:
            self._until.clear()
        self._until[service_sid] = _ON if on else now + UNJOURNALED_TTL
        return on

    def start(self, store: Store, service_sid: str) -> float:
        """Journal the service's objects from now on, if they are not yet; how long a new SDK
        session must wait before its client reads: until ``SETTLE`` after the journal began
        (whichever process began it), 0 after that."""
        since = self._since.get(service_sid)
        if since is None:
            if not self.journaled(store, service_sid):
                now = self.clock()
                store.journal([(service_sid, "journaled", {"at": now})], now=now)
                self._until[service_sid] = _ON
            # The earliest start: two processes may have begun it at once. Gone from the
            # journal after its retention, which is long past SETTLE.
            first = store.events_after(service_sid, 0, limit=1)
            since = float(first[0].body.get("at", 0.0)) if first else 0.0
            if len(self._since) >= _REMEMBERED:
                self._since.clear()
            self._since[service_sid] = since
        return max(0.0, since + SETTLE - self.clock())

    def record(self, store: Store, actor: Actor, events: list[Event]) -> list[Event]:
        """``events``, each with the Sync events it causes as riders (ids given by the end of
        the transaction, before anyone hears of them)."""
        for event in events:
            if event.frame.get("type") in CHANGING:
                break
        else:
            return events
        if not self.journaled(store, actor.service_sid):
            return events
        batch = store.collector(self, lambda: _Batch(store, self.clock()))
        alone = batch is None
        if batch is None:
            batch = _Batch(store, self.clock())
        found = [batch.add(actor, event) for event in events]
        if alone:
            batch.flush()
        return found


class _Batch:
    """The changes of one transaction, their frames to fill with ids at its end."""

    __slots__ = ("_documents", "_pending", "now", "store", "when")

    def __init__(self, store: Store, now: float) -> None:
        self.store = store
        self.now = now
        self.when = date(datetime.fromtimestamp(now, UTC)) or ""
        #: Changes and the frames (riders' frames, filled at ``flush``) that tell of them.
        self._pending: list[tuple[Change, dict[str, Any]]] = []
        #: Per channel with new messages: the frame of its document's event, the newest
        #: message, and who sent it (for the URLs).
        self._documents: dict[str, tuple[dict[str, Any], dict[str, Any], Actor]] = {}

    def add(self, actor: Actor, event: Event) -> Event:
        kind = event.frame.get("type")
        if kind not in CHANGING:
            return event
        riders = []
        if kind == "message_added":  # the busiest by far: straight to its change
            changes = [message_added(event.frame["message"], self.when)]
        else:
            changes = Projector(self.store, actor, self.when).changes([event])
        for change in changes:
            frame: dict[str, Any] = {"event_type": change.event_type, "event": {}}
            self._pending.append((change, frame))
            riders.append(Event(("object", change.object_sid), frame))
        if kind == "message_added":
            message = event.frame["message"]
            channel_sid = message["channel_sid"]
            known = self._documents.get(channel_sid)
            if known is None:
                frame = {"event_type": "document_updated", "event": {}}
                document = objects.of(CHANNEL_DOCUMENT, channel_sid)
                riders.append(Event(("object", document), frame))
                self._documents[channel_sid] = (frame, message, actor)
            elif message["index"] > known[1]["index"]:
                self._documents[channel_sid] = (known[0], message, actor)
        if not riders:
            return event
        return Event(
            event.audience,
            event.frame,
            event.ends_after,
            event.follow,
            event.ends_sessions,
            event.riders + tuple(riders),
        )

    def flush(self) -> None:
        documents = self._documents
        if documents:
            found = {channel.sid: channel for channel in self.store.get_channels(list(documents))}
            for channel_sid, (frame, last, actor) in documents.items():
                record = found.get(channel_sid)
                if record is None:  # deleted in this very transaction
                    continue
                channel = render.channel(record, actor.account_sid, actor.urls)
                change = Projector(self.store, actor, self.when).document(
                    channel_sid, last, channel
                )
                if change is not None:
                    self._pending.append((change, frame))
        pending = self._pending
        if not pending:
            return
        ids = self.store.journal(
            [(c.object_sid, c.event_type, _kept(c)) for c, _ in pending], now=self.now
        )
        for (change, frame), id_ in zip(pending, ids, strict=True):
            frame["event"] = compose(change.object_sid, id_, change.event_type, change.body)


def _kept(change: Change) -> dict[str, Any] | None:
    """What the journal keeps of a change for replays: nothing of a document's, which holds
    all the document is (a replay sends the document as it is then)."""
    return None if change.event_type == "document_updated" else change.body
