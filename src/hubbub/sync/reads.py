"""Reads of the Sync objects: descriptors and pages of items, for one user, from the store.

A read takes the object's last event id first, then its items: every item is reported with
that id, so the SDK ignores the recorded events up to it (whose changes the read shows) and
applies every later one; an event that landed between the two reads is applied again, which
changes nothing (each carries its item's whole data).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hubbub.chat import access, render, users
from hubbub.chat.core import Actor, Core
from hubbub.chat.errors import ApiError, invalid
from hubbub.store import NotFound
from hubbub.store.records import Channel
from hubbub.sync import objects, shapes
from hubbub.sync.objects import (
    CHANNEL_DOCUMENT,
    MESSAGES,
    MY_CHANNELS,
    PLURALS,
    ROSTER,
    USER_INFO,
    Ref,
)
from hubbub.sync.projection import last_message

MAX_PAGE = 100
#: Twilio Sync's codes: the object does not exist; the token may not read it.
NOT_FOUND = 54100
FORBIDDEN = 54007
Item = tuple[Any, dict[str, Any]]


def not_found(sid: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"the Sync object {sid} does not exist")


class SyncReads:
    """What one user may read of the Sync objects of their Chat Service."""

    def __init__(self, core: Core, base_url: str) -> None:
        self.core = core
        self.base = base_url

    def ref(self, actor: Actor, sid: str, kind: str | None = None) -> Ref:
        """The object ``sid`` names, if ``actor`` may read it (a ``kind``: Maps, Lists…)."""
        found = objects.parse(sid)
        if found is None or (kind is not None and PLURALS[found.type] != kind):
            raise not_found(sid)
        store = self.core.store
        try:
            if found.kind in (MY_CHANNELS, USER_INFO):
                user = store.get_user(actor.service_sid, found.owner_sid)
                if found.kind == MY_CHANNELS and user.identity != actor.identity:
                    raise ApiError(403, FORBIDDEN, f"only its user may read {sid}")
                return found
            # Members first, from the short-lived copies: an SDK starting up reads three
            # objects of each of its channels, and subscribes to them.
            channel = access.channel(self.core, actor, found.owner_sid, cached=True)
            try:
                access.membership(self.core, actor, channel, cached=True)
                return found
            except (ApiError, NotFound):
                pass
            channel = access.visible(self.core, actor, found.owner_sid)
        except NotFound:
            raise not_found(sid) from None
        if found.kind != CHANNEL_DOCUMENT:
            try:
                access.membership(self.core, actor, channel)
            except (ApiError, NotFound):
                message = f"only the channel's members may read {sid}"
                raise ApiError(403, FORBIDDEN, message) from None
        return found

    def descriptor(self, actor: Actor, ref: Ref, *, with_items: bool = False) -> dict[str, Any]:
        last = self.core.store.last_event_ids([ref.sid])[ref.sid]
        url = f"{self.base}/v3/{PLURALS[ref.type]}/{ref.sid}"
        found: dict[str, Any] = {
            "sid": ref.sid,
            "unique_name": ref.unique_name,
            "url": url,
            "revision": str(last),
            "last_event_id": last,
            "date_updated": _now(),
            "date_expires": None,
        }
        if ref.type == "document":
            found["data"] = self._document(actor, ref.owner_sid)
        else:
            found["links"] = {"items": f"{url}/Items"}
        if with_items and ref.type == "map":
            items = sorted(self._items(actor, ref))
            found["items"] = [self._item(ref, last, key, data) for key, data in items]
        return found

    def items(self, actor: Actor, ref: Ref, params: dict[str, str]) -> dict[str, Any]:
        """A page of a list's or a map's items: ``From`` (inclusive), ``Order``, ``PageSize``,
        ``Key`` or ``Index``; or ``PageToken`` alone (a page's ``next_token`` or
        ``previous_token``, which says all three: twilio-sync 1.x sends nothing else)."""
        if ref.type == "document":
            raise not_found(ref.sid)
        token = params.get("PageToken")
        order = params.get("Order") or "asc"
        start = params.get("From")
        size_text = params.get("PageSize")
        way = "next"
        if token:
            # twilio-sync 1.x (twilio-chat 5.x) sends a page's token alone, so it says it all:
            # "next|prev:order:size:from", order being the first page's, kept by every page.
            way, order, size_text, start = [*token.split(":", 3), "", "", ""][:4]
            if way not in ("next", "prev"):
                raise invalid("PageToken is not one of this object's tokens")
            size_text = params.get("PageSize") or size_text
        if order not in ("asc", "desc"):
            raise invalid(f"Order must be asc or desc, not {order!r}")
        size = _size(size_text)
        if ref.kind == MESSAGES and params.get("Index"):
            start, size = params["Index"], 1
        flip = "desc" if order == "asc" else "asc"
        # A previous page is read from its end backwards, then shown in the first page's order.
        query = order if way == "next" else flip
        last = self.core.store.last_event_ids([ref.sid])[ref.sid]
        found: list[Item]
        more: object
        before: object
        if ref.kind == MESSAGES:
            found, more, before = self._messages(actor, ref, query, start, size)
            if params.get("Index"):
                found = [item for item in found if str(item[0]) == params["Index"]]
                more = before = None
        else:
            found, more, before = self._map_page(actor, ref, params.get("Key"), query, start, size)
        if way == "prev":
            found.reverse()
            more, before = before, more
        return {
            "items": [self._item(ref, last, key, data) for key, data in found],
            "meta": {
                "next_token": f"next:{order}:{size}:{more}" if more is not None else None,
                "previous_token": f"prev:{order}:{size}:{before}" if before is not None else None,
            },
        }

    # -- the objects' contents -----------------------------------------------------------------
    def _document(self, actor: Actor, channel_sid: str) -> dict[str, Any]:
        store = self.core.store
        channel = store.get_channel(actor.service_sid, channel_sid)
        rendered = render.channel(channel, actor.account_sid, actor.urls)
        return shapes.document(rendered, last_message(store, actor, channel_sid))

    def _messages(
        self, actor: Actor, ref: Ref, order: str, start: str | None, size: int
    ) -> tuple[list[Item], int | None, int | None]:
        """A page of messages from index ``start``, with where the next page starts and the
        index before this one, if any."""
        index = _index(start)
        store = self.core.store
        page = store.list_messages(
            actor.service_sid,
            ref.owner_sid,
            order="desc" if order == "desc" else "asc",
            start_index=index,
            limit=size + 1,
        )
        rows = list(page.items)
        more = rows[size].index if len(rows) > size else None
        rows = rows[:size]
        before = None
        if rows:
            edge = rows[0].index + (1 if order == "desc" else -1)
            if edge >= 0:
                probe = store.list_messages(
                    actor.service_sid,
                    ref.owner_sid,
                    order="asc" if order == "desc" else "desc",
                    start_index=edge,
                    limit=1,
                )
                before = probe.items[0].index if probe.items else None
        found = [
            (m.index, shapes.message_item(render.message(m, actor.account_sid, actor.urls)))
            for m in rows
        ]
        return found, more, before

    def _map_page(
        self, actor: Actor, ref: Ref, key: str | None, order: str, start: str | None, size: int
    ) -> tuple[list[Item], str | None, str | None]:
        items = sorted(self._items(actor, ref), reverse=order == "desc")
        if key is not None:
            items = [item for item in items if item[0] == key]
        if start is not None:
            after = [k for k, _ in items if (k >= start if order == "asc" else k <= start)]
            first = len(items) - len(after)
            before = items[first - 1][0] if first > 0 else None
            items = items[first:]
        else:
            before = None
        more = items[size][0] if len(items) > size else None
        return items[:size], more, before

    def _items(self, actor: Actor, ref: Ref) -> list[Item]:
        store = self.core.store
        if ref.kind == USER_INFO:
            user = store.get_user(actor.service_sid, ref.owner_sid)
            shown = users.reachability(store, actor.account_sid, actor.service_sid)
            rendered = render.user(user, actor.account_sid, actor.urls, reachability=shown)
            return list(shapes.user_info_items(rendered).items())
        if ref.kind == ROSTER:
            return self._roster(actor, ref.owner_sid)
        return self._my_channels(actor, ref.owner_sid)

    def _roster(self, actor: Actor, channel_sid: str) -> list[Item]:
        store = self.core.store
        found: list[Item] = []
        cursor: str | None = None
        while True:
            page = store.list_members(actor.service_sid, channel_sid, limit=1000, cursor=cursor)
            users = store.get_users(actor.service_sid, [m.identity for m in page.items])
            user_sids = {user.identity: user.sid for user in users}
            for member in page.items:
                rendered = render.member(member, actor.account_sid, actor.urls)
                item = shapes.member_item(rendered, user_sids.get(member.identity))
                found.append((member.sid, item))
            cursor = page.next_cursor
            if cursor is None:
                return found

    def _my_channels(self, actor: Actor, user_sid: str) -> list[Item]:
        store = self.core.store
        found: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            invites = store.list_user_invites(actor.service_sid, user_sid, limit=100, cursor=cursor)
            for invite in invites.items:
                found[invite.channel_sid] = shapes.my_channel_item(invite.channel_sid, "invited")
            cursor = invites.next_cursor
            if cursor is None:
                break
        while True:
            page = store.list_user_channels(actor.service_sid, user_sid, limit=100, cursor=cursor)
            for item in page.items:
                found[item.channel_sid] = shapes.my_channel_item(
                    item.channel_sid,
                    "joined",
                    item.last_consumed_message_index,
                    item.notification_level,
                )
            cursor = page.next_cursor
            if cursor is None:
                return list(found.items())

    def _item(self, ref: Ref, last: int, key: Any, data: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base}/v3/{PLURALS[ref.type]}/{ref.sid}/Items/{key}"
        found: dict[str, Any] = {"key": key} if ref.type == "map" else {"index": key}
        found.update(
            data=data,
            revision=str(last),
            last_event_id=last,
            date_updated=_now(),
            date_expires=None,
            url=url,
        )
        return found


def channel_objects(channel: Channel) -> dict[str, str]:
    """The SIDs of a channel's objects, as the Chat API names them in ``sync_objects``."""
    return {
        "conversation": objects.of(CHANNEL_DOCUMENT, channel.sid),
        "messages": objects.of(MESSAGES, channel.sid),
        "participants": objects.of(ROSTER, channel.sid),
    }


def _size(value: str | None) -> int:
    if value is None or value == "":
        return 50
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_PAGE:
        raise invalid(f"PageSize must be a whole number from 1 to {MAX_PAGE}")
    return int(value)


def _index(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()):
        raise invalid(f"From must be a message index, not {value!r}")
    return int(value)


def _now() -> str:
    return render.date(datetime.now(UTC)) or ""
