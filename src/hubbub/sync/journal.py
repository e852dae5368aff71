"""The journal: every action's changes to the Sync objects, recorded in its transaction.

``Core.done`` hands it each action's events; it projects them onto the Sync objects, records
the changes with their ids (``Store.journal``) and returns them as events of their own, whose
audience is the object (``("object", sid)``): the hubs hand them to the connections subscribed
to it, on every node. A client that subscribes late, or comes back after a reconnect, is sent
the recorded events after the last one it saw (``Store.events_after``), so it misses nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from hubbub.chat.core import Actor
from hubbub.chat.events import Event
from hubbub.chat.render import date
from hubbub.store import Store
from hubbub.store.records import SyncEvent
from hubbub.sync.projection import Projector, compose

#: How long the journal keeps an object's events for clients that come back.
RETENTION = 24 * 3600.0
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


def object_event(object_sid: str, id_: int, event_type: str, body: dict[str, object]) -> Event:
    """A Sync event, for the connections subscribed to its object."""
    event = compose(object_sid, id_, event_type, dict(body))
    return Event(("object", object_sid), {"event_type": event_type, "event": event})


def replayed(event: SyncEvent) -> Event:
    return object_event(event.object_sid, event.id, event.event_type, event.body)


class Journal:
    """Records the Sync changes of every action (``chat.core.Recorder``)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    def record(self, store: Store, actor: Actor, events: list[Event]) -> list[Event]:
        if not any(event.frame.get("type") in CHANGING for event in events):
            return []
        now = self.clock()
        when = date(datetime.fromtimestamp(now, UTC)) or ""
        changes = Projector(store, actor, when).changes(events)
        if not changes:
            return []
        ids = store.journal([(c.object_sid, c.event_type, c.body) for c in changes], now=now)
        return [
            object_event(c.object_sid, id_, c.event_type, c.body)
            for c, id_ in zip(changes, ids, strict=True)
        ]
