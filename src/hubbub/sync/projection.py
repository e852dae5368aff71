"""What each chat event changes in the Sync objects: the journal's input. No I/O but reads.

The chat core's events carry the records they tell of, as REST renders them; the few things a
Sync object shows that an event does not carry (a channel's properties beside its new message,
the user behind a membership, a deleted channel's members) are read from the store, inside the
action's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hubbub.chat import render
from hubbub.chat.core import Actor
from hubbub.chat.events import Event
from hubbub.store import NotFound, Store
from hubbub.sync import objects, shapes
from hubbub.sync.objects import CHANNEL_DOCUMENT, MESSAGES, MY_CHANNELS, ROSTER, USER_INFO


@dataclass(frozen=True, slots=True)
class Change:
    """An event of one Sync object before the journal gives it an id: its type and body."""

    object_sid: str
    event_type: str
    body: dict[str, Any]


def compose(object_sid: str, id_: int, event_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """The event as Twilio's Sync sends it: the body with its id, object and revisions."""
    kind = objects.TYPES[object_sid[:2]]
    event = {"id": id_, f"{kind}_sid": object_sid, f"{kind}_revision": str(id_), **body}
    if "item_data" in body or "item_key" in body or "item_index" in body:
        event["item_revision"] = str(id_)
    return event


class Projector:
    """Turns one action's events into Sync changes, reading what they lack from ``store``."""

    def __init__(self, store: Store, actor: Actor, when: str) -> None:
        self.store = store
        self.actor = actor
        #: The events' ``date_created``: the action's time, as REST dates are written.
        self.when = when
        self._users: dict[str, str | None] = {}

    def changes(self, events: list[Event]) -> list[Change]:
        found: list[Change] = []
        for event in events:
            found.extend(self._of(event))
        return found

    def _of(self, event: Event) -> Iterator[Change]:
        frame = event.frame
        kind = frame.get("type")
        if kind == "message_added":
            # Its document's new last message is the journal's to write, once per channel
            # however many messages a group commit stores (``document``).
            yield message_added(frame["message"], self.when)
        elif kind in ("message_updated", "message_removed"):
            message = frame["message"]
            change = "list_item_updated" if kind == "message_updated" else "list_item_removed"
            yield self._item(MESSAGES, message["channel_sid"], change, message)
            if kind == "message_removed":
                # The channel's last message may be the one gone (read after the delete).
                document = self.document(message["channel_sid"], None)
                if document is not None:
                    yield document
        elif kind in ("member_joined", "member_updated", "member_left"):
            yield from self._member(kind, frame["member"])
        elif kind in ("channel_joined", "channel_invited", "channel_left"):
            user_sid = self._user_sid(event.audience[2])
            if user_sid is not None:
                channel_sid = frame["channel"]["sid"]
                if kind == "channel_left":
                    yield self._map(MY_CHANNELS, user_sid, "map_item_removed", channel_sid, None)
                else:
                    status: shapes.Status = "joined" if kind == "channel_joined" else "invited"
                    data = shapes.my_channel_item(channel_sid, status)
                    yield self._map(MY_CHANNELS, user_sid, "map_item_added", channel_sid, data)
        elif kind == "channel_updated":
            yield from self._document(frame["channel"]["sid"], frame["channel"])
        elif kind == "channel_removed":
            yield from self._removed(frame["channel"]["sid"])
        elif kind == "user_updated":
            user = frame["user"]
            for key, data in shapes.user_info_items(user).items():
                yield self._map(USER_INFO, user["sid"], "map_item_updated", key, data)

    # -- the kinds of change ---------------------------------------------------------------------
    def _item(self, kind: str, channel_sid: str, change: str, message: dict[str, Any]) -> Change:
        body: dict[str, Any] = {"item_index": message["index"], "date_created": self.when}
        body["item_data"] = shapes.message_item(message)
        return Change(objects.of(kind, channel_sid), change, body)

    def _map(
        self, kind: str, owner_sid: str, change: str, key: str, data: dict[str, Any] | None
    ) -> Change:
        body: dict[str, Any] = {"item_key": key, "date_created": self.when}
        if data is not None:
            body["item_data"] = data
        return Change(objects.of(kind, owner_sid), change, body)

    def document(
        self,
        channel_sid: str,
        last: dict[str, Any] | None,
        channel: dict[str, Any] | None = None,
    ) -> Change | None:
        """``document_updated`` of the channel, with ``last`` as its last message (read if
        ``None``); ``None`` if the channel is gone."""
        store, actor = self.store, self.actor
        try:
            if channel is None:
                record = store.get_channel(actor.service_sid, channel_sid)
                channel = render.channel(record, actor.account_sid, actor.urls)
            if last is None:
                last = last_message(store, actor, channel_sid)
        except NotFound:
            return None
        data = shapes.document(channel, last)
        body = {"document_data": data, "date_created": self.when}
        return Change(objects.of(CHANNEL_DOCUMENT, channel_sid), "document_updated", body)

    def _document(self, channel_sid: str, channel: dict[str, Any]) -> Iterator[Change]:
        change = self.document(channel_sid, None, channel)
        if change is not None:
            yield change

    def _member(self, kind: str, member: dict[str, Any]) -> Iterator[Change]:
        channel_sid, key = member["channel_sid"], member["sid"]
        user_sid = self._user_sid(member["identity"])
        if kind == "member_left":
            yield self._map(ROSTER, channel_sid, "map_item_removed", key, None)
            return
        change = "map_item_added" if kind == "member_joined" else "map_item_updated"
        yield self._map(ROSTER, channel_sid, change, key, shapes.member_item(member, user_sid))
        if kind == "member_updated" and user_sid is not None:
            # The notification level is the membership's, which REST's member does not show.
            try:
                level = self.store.get_member(
                    self.actor.service_sid, channel_sid, key
                ).notification_level
            except NotFound:
                return
            data = shapes.my_channel_item(
                channel_sid, "joined", member["last_consumed_message_index"], level
            )
            yield self._map(MY_CHANNELS, user_sid, "map_item_updated", channel_sid, data)

    def _removed(self, channel_sid: str) -> Iterator[Change]:
        """A deleted channel's objects go, and it leaves its members' maps (read before the
        delete: ``delete_channel`` runs its hooks first)."""
        store, actor = self.store, self.actor
        when = {"date_created": self.when}
        yield Change(objects.of(CHANNEL_DOCUMENT, channel_sid), "document_removed", when)
        yield Change(objects.of(MESSAGES, channel_sid), "list_removed", when)
        yield Change(objects.of(ROSTER, channel_sid), "map_removed", when)
        cursor: str | None = None
        while True:
            page = store.list_members(actor.service_sid, channel_sid, limit=1000, cursor=cursor)
            for member in page.items:
                user_sid = self._user_sid(member.identity)
                if user_sid is not None:
                    yield self._map(MY_CHANNELS, user_sid, "map_item_removed", channel_sid, None)
            cursor = page.next_cursor
            if cursor is None:
                return

    def _user_sid(self, identity: str) -> str | None:
        if identity not in self._users:
            try:
                self._users[identity] = self.store.get_user(self.actor.service_sid, identity).sid
            except NotFound:
                self._users[identity] = None
        return self._users[identity]


def message_added(message: dict[str, Any], when: str) -> Change:
    """The messages list's ``list_item_added`` for a new message."""
    body = {"item_index": message["index"], "date_created": when}
    body["item_data"] = shapes.message_item(message)
    return Change(objects.of(MESSAGES, message["channel_sid"]), "list_item_added", body)


def last_message(store: Store, actor: Actor, channel_sid: str) -> dict[str, Any] | None:
    """The channel's newest message, as REST renders it."""
    page = store.list_messages(actor.service_sid, channel_sid, order="desc", limit=1)
    if not page.items:
        return None
    return render.message(page.items[0], actor.account_sid, actor.urls)
