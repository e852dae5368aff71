"""Chat commands of a real-time session: checked against roles, run on the store.

Each command returns its result and the events it caused; who receives an event is its
``audience``, resolved to connections by the hub. Errors are Twilio-shaped ``ApiError``s, as
in the REST API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubbub.realtime.protocol import MAX_FRAME
from hubbub.service.keys import KeyRing
from hubbub.store import NotFound, Store
from hubbub.store.errors import StoreError
from hubbub.store.records import Channel, ChannelType, Member, Message, Service, User
from hubbub.tokens import DEFAULT_LEEWAY, InvalidGrants, InvalidIssuer, verify
from hubbub.web import fields, render
from hubbub.web.errors import INVALID_ATTRIBUTES, ApiError, from_store, invalid
from hubbub.web.fields import MAX_INDEX, MAX_NAME

if TYPE_CHECKING:
    from hubbub.realtime.cache import Lookups

#: Where an event goes: ("channel", channel_sid), ("user", service_sid, identity),
#: ("service", service_sid), or ("peers", service_sid, identity, *channel_sids): the user and
#: everyone in those channels, each connection once.
Audience = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Event:
    audience: Audience
    frame: dict[str, Any]
    #: For a state that lapses by itself (typing): seconds until its ``_ended`` event.
    ends_after: float | None = None


def channel_event(kind: str, channel_sid: str, **data: Any) -> Event:
    """A push to everyone in the channel."""
    return Event(("channel", channel_sid), {"type": kind, "channel_sid": channel_sid, **data})


def user_event(kind: str, service_sid: str, identity: str, **data: Any) -> Event:
    """A push to the user's own connections."""
    return Event(("user", service_sid, identity), {"type": kind, **data})


def user_updated(user: dict[str, Any], channel_sids: list[str]) -> Event:
    """A user's change, pushed to the user and to everyone who shares a channel with them."""
    audience = ("peers", user["service_sid"], user["identity"], *channel_sids)
    return Event(audience, {"type": "user_updated", "user": user})


#: Events that end sessions rather than reach them (with close code 4004): the user, or the
#: whole Chat Service, was deleted. They cross processes like any other.
USER_DELETED = "user_deleted"
SERVICE_DELETED = "service_deleted"


def channel_sids(store: Store, service_sid: str, identity: str) -> list[str]:
    """The SIDs of every channel ``identity`` has joined."""
    sids: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list_user_channels(service_sid, identity, limit=1000, cursor=cursor)
        sids += [item.channel_sid for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return sids


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a session acts for, from its verified token."""

    account_sid: str
    service_sid: str
    identity: str
    key_sid: str
    expires_at: int
    user: User


@dataclass(frozen=True, slots=True)
class Draft:
    """A checked ``send_message`` waiting to be stored."""

    account_sid: str
    service_sid: str
    channel_sid: str
    from_: str
    body: str
    attributes: str

    def row(self) -> tuple[str, str, str, str, str]:
        """What ``Store.create_messages`` takes."""
        return (self.service_sid, self.channel_sid, self.from_, self.body, self.attributes)


@dataclass(slots=True)
class Outcome:
    result: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


MAX_PAGE = 100
#: How large a page of history may grow, encoded: about 1,000 times a typical message, and a
#: fraction of what clients accept in a frame (the SDK takes 8 MiB).
REPLY_BUDGET = 2 * 1024 * 1024
PUBLIC_ONLY: tuple[ChannelType] = ("public",)


class Chat:
    """Runs session commands for one server process."""

    def __init__(
        self,
        store: Store,
        keys: KeyRing,
        urls: render.Urls,
        *,
        leeway: int = DEFAULT_LEEWAY,
        lookups: Lookups | None = None,
    ) -> None:
        """``lookups``, when given, answers the checks of ``send_message`` and ``typing`` from
        short-lived copies (see ``realtime.cache``); without it every check reads the store."""
        self.store = store
        self.keys = keys
        self.urls = urls
        self.leeway = leeway
        self.lookups = lookups

    # -- tokens ------------------------------------------------------------------------------
    def authenticate(self, token: str, now: int | None = None) -> Identity:
        """Verify ``token`` for a Chat session; raise ``TokenError`` (with Twilio's code)."""
        verified = verify(token, self.keys.secrets_for(), now=now, leeway=self.leeway)
        found = self.keys.lookup(verified.key_sid)
        if found is None or found[0] != verified.account_sid:
            raise InvalidIssuer(
                f"the API key {verified.key_sid} is not one of {verified.account_sid}"
            )
        service_sid = verified.chat_service_sid
        if service_sid is None or verified.identity is None:
            raise InvalidGrants("a Chat session needs a token with a Chat grant and an identity")
        try:
            # Only that it exists: a copy up to a second old will do (many connect at once).
            self._service(verified.account_sid, service_sid)
        except NotFound:
            raise InvalidGrants(f"the Chat Service {service_sid} is not in this account") from None
        user = self._user(service_sid, verified.identity)
        return Identity(
            verified.account_sid,
            service_sid,
            verified.identity,
            verified.key_sid,
            verified.expires_at,
            user,
        )

    def set_online(self, who: Identity, channel_sids: list[str], online: bool) -> list[Event]:
        """Record reachability, if the service tracks it, and tell those who share a channel."""
        try:
            # Read fresh: a service's settings change over REST without an event to say so.
            service = self.store.get_service(who.account_sid, who.service_sid)
            if not service.config.reachability_enabled:
                return []
            user = self.store.update_user(who.service_sid, who.identity, is_online=online)
        except NotFound:  # the service or the user was deleted meanwhile
            return []
        return [user_updated(render.user(user, who.account_sid, self.urls), channel_sids)]

    def _service(self, account_sid: str, service_sid: str) -> Service:
        if self.lookups is not None:
            return self.lookups.service(account_sid, service_sid)
        return self.store.get_service(account_sid, service_sid)

    def key_alive(self, who: Identity) -> bool:
        found = self.keys.lookup(who.key_sid)
        return found is not None and found[0] == who.account_sid

    def _user(self, service_sid: str, identity: str) -> User:
        try:
            return self.store.get_user(service_sid, identity)
        except NotFound:
            pass
        try:
            return self.store.create_user(service_sid, identity)
        except StoreError:  # created meanwhile by another connection
            return self.store.get_user(service_sid, identity)

    # -- commands ----------------------------------------------------------------------------
    def run(self, who: Identity, kind: str, params: dict[str, Any]) -> Outcome:
        handler: Callable[[Identity, dict[str, Any]], Outcome] | None = getattr(
            self, f"cmd_{kind}", None
        )
        if handler is None:
            raise invalid(f"unknown command {kind!r}")
        try:
            return handler(who, params)
        except StoreError as exc:
            raise _from_store(exc, kind) from None

    def cmd_ping(self, who: Identity, params: dict[str, Any]) -> Outcome:
        return Outcome()

    def cmd_create_channel(self, who: Identity, params: dict[str, Any]) -> Outcome:
        self._require_service_permission(who, "createChannel")
        kind = _text(params, "channel_type") or "public"
        if kind not in ("public", "private"):
            raise invalid(f"channel_type must be public or private, not {kind!r}")
        unique_name = _text(params, "unique_name") or None
        channel = self.store.create_channel(
            who.service_sid,
            friendly_name=_text(params, "friendly_name", MAX_NAME),
            unique_name=unique_name and fields.unique_name(unique_name, "unique_name"),
            attributes=_attributes(params),
            type="private" if kind == "private" else "public",
            created_by=who.identity,
        )
        service = self.store.get_service(who.account_sid, who.service_sid)
        member = self.store.create_member(
            who.service_sid,
            channel.sid,
            who.identity,
            role_sid=service.config.default_channel_creator_role_sid,
        )
        rendered = self._channel(who, channel)
        events = [
            Event(
                ("user", who.service_sid, who.identity),
                {"type": "channel_joined", "channel": rendered},
            )
        ]
        if channel.type == "public":
            events.append(
                Event(("service", who.service_sid), {"type": "channel_added", "channel": rendered})
            )
        events.append(self._member_event(who, "member_joined", member))
        return Outcome({"channel": rendered}, events)

    def cmd_get_channel(self, who: Identity, params: dict[str, Any]) -> Outcome:
        channel = self._visible_channel(who, params)
        return Outcome({"channel": self._channel(who, channel)})

    def cmd_get_subscribed_channels(self, who: Identity, params: dict[str, Any]) -> Outcome:
        items = []
        cursor: str | None = None
        while True:
            page = self.store.list_user_channels(
                who.service_sid, who.identity, limit=100, cursor=cursor
            )
            for item in page.items:
                channel = self.store.get_channel(who.service_sid, item.channel_sid)
                member = self.store.get_member(who.service_sid, item.channel_sid, item.member_sid)
                items.append(
                    {
                        "channel": self._channel(who, channel),
                        "member": self._member(who, member),
                        "unread": item.unread_messages_count,
                    }
                )
            cursor = page.next_cursor
            if cursor is None:
                break
        while True:
            invites = self.store.list_user_invites(
                who.service_sid, who.identity, limit=100, cursor=cursor
            )
            for invite in invites.items:
                channel = self.store.get_channel(who.service_sid, invite.channel_sid)
                rendered = render.invite(invite, who.account_sid, self.urls)
                items.append({"channel": self._channel(who, channel), "invite": rendered})
            cursor = invites.next_cursor
            if cursor is None:
                return Outcome({"channels": items})

    def cmd_get_public_channels(self, who: Identity, params: dict[str, Any]) -> Outcome:
        size = _int(params, "page_size", 1, MAX_PAGE) or 50
        page = self.store.list_channels(
            who.service_sid, types=PUBLIC_ONLY, limit=size, cursor=_text(params, "page_token")
        )
        channels = [self._channel(who, channel) for channel in page.items]
        return Outcome({"channels": channels, "next_page_token": page.next_cursor})

    def cmd_get_members(self, who: Identity, params: dict[str, Any]) -> Outcome:
        """A page of the channel's members, each with its user (whose ``is_online`` means
        something only when the service tracks reachability, which the result says)."""
        channel = self._channel_of(who, params)
        self._membership(who, channel, params)
        size = _int(params, "page_size", 1, MAX_PAGE) or 50
        page = self.store.list_members(
            who.service_sid, channel.sid, limit=size, cursor=_text(params, "page_token")
        )
        items = []
        for member in page.items:
            user = self.store.get_user(who.service_sid, member.identity)
            items.append(
                {
                    "member": self._member(who, member),
                    "user": render.user(user, who.account_sid, self.urls),
                }
            )
        service = self.store.get_service(who.account_sid, who.service_sid)
        return Outcome(
            {
                "members": items,
                "next_page_token": page.next_cursor,
                "reachability_enabled": service.config.reachability_enabled,
            }
        )

    def cmd_join(self, who: Identity, params: dict[str, Any]) -> Outcome:
        channel = self._channel_of(who, params)
        invites = self.store.list_invites(
            who.service_sid, channel.sid, identities=[who.identity]
        ).items
        if channel.type == "private" and not invites:
            raise _hidden(params)
        self._require_service_permission(who, "joinChannel")
        member = self.store.create_member(
            who.service_sid,
            channel.sid,
            who.identity,
            role_sid=invites[0].role_sid if invites else None,
        )
        for invite in invites:
            self.store.delete_invite(who.service_sid, channel.sid, invite.sid)
        events = [
            self._member_event(who, "member_joined", member),
            Event(
                ("user", who.service_sid, who.identity),
                {"type": "channel_joined", "channel": self._channel(who, channel)},
            ),
        ]
        return Outcome({"member": self._member(who, member)}, events)

    def cmd_leave(self, who: Identity, params: dict[str, Any]) -> Outcome:
        channel = self._channel_of(who, params)
        member = self._membership(who, channel, params)
        self._require(who, member, "leaveChannel")
        self.store.delete_member(who.service_sid, channel.sid, member.sid)
        events = [
            self._member_event(who, "member_left", member),
            Event(
                ("user", who.service_sid, who.identity),
                {"type": "channel_left", "channel": self._channel(who, channel)},
            ),
        ]
        return Outcome({}, events)

    def cmd_invite(self, who: Identity, params: dict[str, Any]) -> Outcome:
        channel = self._channel_of(who, params)
        self._require(who, self._membership(who, channel, params), "inviteMember")
        identity = fields.identity(_text(params, "identity") or "", "identity")
        invite = self.store.create_invite(
            who.service_sid, channel.sid, identity, created_by=who.identity
        )
        rendered = self._channel(who, channel)
        event = Event(
            ("user", who.service_sid, identity), {"type": "channel_invited", "channel": rendered}
        )
        return Outcome({"invite": render.invite(invite, who.account_sid, self.urls)}, [event])

    def cmd_decline(self, who: Identity, params: dict[str, Any]) -> Outcome:
        channel = self._channel_of(who, params)
        invites = self.store.list_invites(
            who.service_sid, channel.sid, identities=[who.identity]
        ).items
        if not invites and channel.type == "private":
            self._membership(who, channel, params)  # invisible to anyone else
        for invite in invites:
            self.store.delete_invite(who.service_sid, channel.sid, invite.sid)
        return Outcome()

    def cmd_send_message(self, who: Identity, params: dict[str, Any]) -> Outcome:
        draft = self._draft(who, params)
        message = self.store.create_message(
            draft.service_sid,
            draft.channel_sid,
            body=draft.body,
            from_=draft.from_,
            attributes=draft.attributes,
        )
        return self.sent(draft, message)

    def draft_message(self, who: Identity, params: dict[str, Any]) -> Draft:
        """``send_message`` up to the write: checked, not stored. The adapter stores drafts of
        many sessions in one transaction (group commit), then calls ``sent`` for each."""
        try:
            return self._draft(who, params)
        except StoreError as exc:
            raise _from_store(exc, "send_message") from None

    def sent(self, draft: Draft, stored: Message | StoreError) -> Outcome:
        """The reply and the event of a stored draft; ``ApiError`` if it was not stored."""
        if isinstance(stored, StoreError):
            raise _from_store(stored, "send_message")
        rendered = render.message(stored, draft.account_sid, self.urls)
        event = Event(
            ("channel", stored.channel_sid),
            {"type": "message_added", "channel_sid": stored.channel_sid, "message": rendered},
        )
        return Outcome({"message": rendered}, [event])

    def _draft(self, who: Identity, params: dict[str, Any]) -> Draft:
        channel = self._channel_of(who, params, cached=True)
        self._require(who, self._membership(who, channel, params, cached=True), "sendMessage")
        body = fields.body(_text(params, "body", MAX_FRAME) or "", "body")
        return Draft(
            who.account_sid, who.service_sid, channel.sid, who.identity, body, _attributes(params)
        )

    def cmd_update_message(self, who: Identity, params: dict[str, Any]) -> Outcome:
        channel = self._channel_of(who, params)
        member = self._membership(who, channel, params)
        if "body" not in params and "attributes" not in params:
            raise invalid("update_message needs a body or attributes")
        message = self.store.get_message(who.service_sid, channel.sid, _text(params, "sid") or "")
        own = message.from_ == who.identity
        changes: dict[str, Any] = {"last_updated_by": who.identity}
        if "body" in params:
            self._require(who, member, "editOwnMessage" if own else "editAnyMessage")
            changes["body"] = fields.body(_text(params, "body", MAX_FRAME) or "", "body")
        if "attributes" in params:
            self._require(
                who, member, "editOwnMessageAttributes" if own else "editAnyMessageAttributes"
            )
            changes["attributes"] = _attributes(params)
        message = self.store.update_message(who.service_sid, channel.sid, message.sid, **changes)
        rendered = render.message(message, who.account_sid, self.urls)
        event = Event(
            ("channel", channel.sid),
            {"type": "message_updated", "channel_sid": channel.sid, "message": rendered},
        )
        return Outcome({"message": rendered}, [event])

    def cmd_remove_message(self, who: Identity, params: dict[str, Any]) -> Outcome:
        channel = self._channel_of(who, params)
        member = self._membership(who, channel, params)
        message = self.store.get_message(who.service_sid, channel.sid, _text(params, "sid") or "")
        self._require(
            who, member, "deleteOwnMessage" if message.from_ == who.identity else "deleteAnyMessage"
        )
        self.store.delete_message(who.service_sid, channel.sid, message.sid)
        rendered = render.message(message, who.account_sid, self.urls)
        event = Event(
            ("channel", channel.sid),
            {"type": "message_removed", "channel_sid": channel.sid, "message": rendered},
        )
        return Outcome({}, [event])

    def cmd_get_messages(self, who: Identity, params: dict[str, Any]) -> Outcome:
        channel = self._channel_of(who, params)
        self._membership(who, channel, params)
        size = _int(params, "page_size", 1, MAX_PAGE) or 30
        anchor = _int(params, "anchor", 0, MAX_INDEX)
        direction = _text(params, "direction") or "backwards"
        if direction not in ("backwards", "forwards"):
            raise invalid(f"direction must be backwards or forwards, not {direction!r}")
        page = self.store.list_messages(
            who.service_sid,
            channel.sid,
            order="desc" if direction == "backwards" else "asc",
            start_index=anchor,
            limit=size,
        )
        messages = sorted(page.items, key=lambda message: message.index)
        rendered = [render.message(m, who.account_sid, self.urls) for m in messages]
        kept = _within_budget(rendered, keep_newest=direction == "backwards")
        result: dict[str, Any] = {"messages": kept}
        if len(kept) < len(rendered):
            result["truncated"] = True
        return Outcome(result)

    def cmd_typing(self, who: Identity, params: dict[str, Any]) -> Outcome:
        channel = self._channel_of(who, params, cached=True)
        self._membership(who, channel, params, cached=True)
        frame = {"type": "typing_started", "channel_sid": channel.sid, "identity": who.identity}
        service = self.store.get_service(who.account_sid, who.service_sid)
        timeout = float(service.config.typing_indicator_timeout)
        return Outcome({}, [Event(("channel", channel.sid), frame, ends_after=timeout)])

    def cmd_set_consumed(self, who: Identity, params: dict[str, Any]) -> Outcome:
        channel = self._channel_of(who, params)
        member = self._membership(who, channel, params)
        index = _int(params, "index", 0, MAX_INDEX)
        if index is None:
            raise invalid("set_consumed needs an index")
        # Not past the newest message, or messages sent later would count as read.
        index = min(index, channel.next_message_index - 1)
        last = member.last_consumed_message_index
        if index >= 0 and (last is None or index > last):
            member = self.store.update_member(
                who.service_sid, channel.sid, member.sid, last_consumed_message_index=index
            )
        unread = self._unread(who, channel)
        return Outcome({"unread": unread}, [self._member_event(who, "member_updated", member)])

    def cmd_get_unconsumed_count(self, who: Identity, params: dict[str, Any]) -> Outcome:
        channel = self._channel_of(who, params)
        self._membership(who, channel, params)
        return Outcome({"unread": self._unread(who, channel)})

    # -- helpers -----------------------------------------------------------------------------
    def _channel_of(
        self, who: Identity, params: dict[str, Any], *, cached: bool = False
    ) -> Channel:
        """The channel named by ``params``; ``cached`` for checks that need only its SID and
        type (counts and dates may be a moment old)."""
        ref = _text(params, "channel")
        if not ref:
            raise invalid("this command needs a channel")
        if cached and self.lookups is not None:
            return self.lookups.channel(who.service_sid, ref)
        return self.store.get_channel(who.service_sid, ref)

    def _visible_channel(self, who: Identity, params: dict[str, Any]) -> Channel:
        """The channel, if ``who`` may see it: public, or private and theirs or invited to."""
        channel = self._channel_of(who, params)
        if channel.type == "private":
            try:
                self.store.get_member(who.service_sid, channel.sid, who.identity)
            except NotFound:
                invited = self.store.list_invites(
                    who.service_sid, channel.sid, identities=[who.identity]
                ).items
                if not invited:
                    raise _hidden(params) from None
        return channel

    def _membership(
        self, who: Identity, channel: Channel, params: dict[str, Any], *, cached: bool = False
    ) -> Member:
        """``who``'s membership of ``channel``; a private channel of others is not found, just
        as a missing one, so that its existence does not show."""
        try:
            if cached and self.lookups is not None:
                return self.lookups.member(who.service_sid, channel.sid, who.identity)
            return self.store.get_member(who.service_sid, channel.sid, who.identity)
        except NotFound:
            if channel.type == "private":
                raise _hidden(params) from None
            raise ApiError(403, 50400, f"{who.identity} is not a member of this channel") from None

    def _role(self, who: Identity, role_sid: str) -> frozenset[str]:
        if self.lookups is not None:
            return self.lookups.permissions(who.service_sid, role_sid)
        return frozenset(self.store.get_role(who.service_sid, role_sid).permissions)

    def _require_service_permission(self, who: Identity, permission: str) -> None:
        user = self.store.get_user(who.service_sid, who.identity)
        if permission not in self._role(who, user.role_sid):
            raise ApiError(403, 50107, f"{who.identity} may not {permission}")

    def _require(self, who: Identity, member: Member, permission: str) -> None:
        if permission in self._role(who, member.role_sid):
            return
        self._require_service_permission(who, permission)

    def _unread(self, who: Identity, channel: Channel) -> int | None:
        found = self.store.get_user_channel(who.service_sid, who.identity, channel.sid)
        return found.unread_messages_count

    def _channel(self, who: Identity, channel: Channel) -> dict[str, Any]:
        return render.channel(channel, who.account_sid, self.urls)

    def _member(self, who: Identity, member: Member) -> dict[str, Any]:
        return render.member(member, who.account_sid, self.urls)

    def _member_event(self, who: Identity, kind: str, member: Member) -> Event:
        frame = {
            "type": kind,
            "channel_sid": member.channel_sid,
            "member": self._member(who, member),
        }
        return Event(("channel", member.channel_sid), frame)


def _text(params: dict[str, Any], name: str, max_length: int = fields.MAX_TEXT) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string")
    if "\x00" in value or len(value) > max_length:
        raise invalid(f"{name} is not acceptable text (at most {max_length} characters, no NUL)")
    return value


def _int(params: dict[str, Any], name: str, low: int, high: int | None) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if type(value) is not int or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise invalid(f"{name} must be a whole number {bounds}")
    return value


def _attributes(params: dict[str, Any]) -> str:
    """``attributes``: a string holding JSON, as in the REST API, or the JSON value itself."""
    value = params.get("attributes")
    if value is None:
        return "{}"
    if not isinstance(value, str):
        # Decoded from the frame, so plain JSON; NaN and Infinity are not.
        try:
            value = json.dumps(value, separators=(",", ":"), allow_nan=False)
        except ValueError:
            raise invalid("attributes must be valid JSON", INVALID_ATTRIBUTES) from None
    return fields.attributes(value, "attributes")


def _within_budget(messages: list[dict[str, Any]], *, keep_newest: bool) -> list[dict[str, Any]]:
    """As many of ``messages`` (in index order) as fit in ``REPLY_BUDGET`` once encoded, the
    newest or the oldest ones, and at least one."""
    # Escaping at most sextuples a character (\u0000); the rest of a message is small.
    bound = sum(6 * (len(m["body"] or "") + len(m["attributes"])) + 4096 for m in messages)
    if bound <= REPLY_BUDGET:
        return messages
    order = reversed(messages) if keep_newest else iter(messages)
    kept: list[dict[str, Any]] = []
    used = 0
    for message in order:
        used += len(json.dumps(message, ensure_ascii=False).encode()) + 1
        if kept and used > REPLY_BUDGET:
            break
        kept.append(message)
    return kept[::-1] if keep_newest else kept


def _hidden(params: dict[str, Any]) -> NotFound:
    """What a private channel looks like to those who may not see it: missing."""
    return NotFound("Channel", str(params.get("channel")))


def _from_store(error: StoreError, kind: str) -> ApiError:
    """A store error as a command's error: a missing resource is named, as the client named it."""
    if isinstance(error, NotFound):
        return ApiError(404, error.code or 20404, str(error))
    return from_store(error, f"/v1/ws {kind}")
