"""The HTTP requests Twilio's SDKs tunnel through twilsock: the Chat API and Sync's reads.

Only the configuration's path is fixed (``Client/v1/Configuration`` for twilio-chat,
``Client/v2/Configuration`` for Conversations); every other URL the SDKs call comes from its
``links``, so they are hubbub's choice, and both SDKs get the same ones. Each write is the chat
core's operation, exactly as over REST and ``/v1/ws``; the host a request names is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from hubbub.chat import access, channels, fields, members, messages, render, users
from hubbub.chat.errors import (
    METHOD_NOT_ALLOWED,
    ApiError,
    from_store,
    invalid,
)
from hubbub.chat.events import Event
from hubbub.chat.fields import MAX_INDEX, MAX_NAME
from hubbub.chat.messages import Draft
from hubbub.realtime.commands import PUBLIC_ONLY, Commands, Identity
from hubbub.store import NotFound
from hubbub.store.errors import StoreError
from hubbub.store.records import Channel, User
from hubbub.sync import objects
from hubbub.sync.objects import MY_CHANNELS, USER_INFO
from hubbub.sync.reads import SyncReads, channel_objects
from hubbub.twilsock import registrations

CHAT = "/Client/v2"
#: The most objects one subscription request may name (the SDKs send at most what the answer's
#: ``max_batch_size`` says).
MAX_BATCH = 100
#: The typing timeout the SDKs are told, in seconds, when the service says none.
TYPING_TIMEOUT = 5


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    params: dict[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class Subscribe:
    """``POST /v4/Subscriptions``: objects to follow (or stop following), answered with
    ``subscription_established`` once their missed events are replayed."""

    action: str
    correlation_id: Any
    #: ``(object_sid, object_type, last_event_id)`` of the objects the user may read.
    accepted: list[tuple[str, str, int | None]]
    #: ``(object_sid, object_type, error)`` of those they may not.
    refused: list[tuple[str, str, dict[str, Any]]]


@dataclass(slots=True)
class Answer:
    status: int
    body: Any
    events: list[Event] = field(default_factory=list)
    subscribe: Subscribe | None = None
    #: A message checked and waiting to be stored with others (group commit).
    draft: Draft | None = None


Handler = Callable[[Identity, Request, list[str]], Answer]


class Api:
    """The tunnelled requests of one server process, for the sessions of one base URL."""

    def __init__(self, commands: Commands) -> None:
        self.commands = commands
        self.core = commands.core
        self.store = commands.store
        self.base = commands.urls.base
        self.reads = SyncReads(commands.core, self.base)
        chat = re.escape(CHAT)
        c = r"([^/]+)"
        self._routes: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
            (re.compile(r"/Client/v[12]/Configuration"), {"GET": self.configuration}),
            (re.compile(f"{chat}/Me/Conversations"), {"GET": self.my_channels}),
            (
                re.compile(f"{chat}/Me/Conversations/{c}"),
                {"GET": self.my_channel, "POST": self.update_my_channel},
            ),
            (
                re.compile(f"{chat}/Conversations"),
                {"GET": self.public_channels, "POST": self.create_channel},
            ),
            (
                re.compile(f"{chat}/Conversations/{c}"),
                {"GET": self.channel, "POST": self.update_channel, "DELETE": self.delete_channel},
            ),
            (re.compile(f"{chat}/Conversations/{c}/Participants"), {"POST": self.add_member}),
            (
                re.compile(f"{chat}/Conversations/{c}/Participants/{c}"),
                {"POST": self.update_member, "DELETE": self.remove_member},
            ),
            (re.compile(f"{chat}/Conversations/{c}/Invites"), {"POST": self.invite}),
            (re.compile(f"{chat}/Conversations/{c}/Invites/{c}"), {"DELETE": self.decline}),
            (re.compile(f"{chat}/Conversations/{c}/Messages"), {"POST": self.send_message}),
            (
                re.compile(f"{chat}/Conversations/{c}/Messages/{c}"),
                {"POST": self.update_message, "DELETE": self.remove_message},
            ),
            (re.compile(f"{chat}/Typing"), {"POST": self.typing}),
            (re.compile(f"{chat}/Users"), {"GET": self.channel_users}),
            (re.compile(f"{chat}/Users/{c}"), {"GET": self.user, "POST": self.update_user}),
            (re.compile(r"/v3/(Maps|Lists|Documents)/([^/]+)"), {"GET": self.sync_object}),
            (re.compile(r"/v3/(Maps|Lists)/([^/]+)/Items"), {"GET": self.sync_items}),
            (re.compile(r"/v4/Subscriptions"), {"POST": self.subscriptions}),
            # Push registrations (ERS), whatever host the SDK names.
            (
                re.compile(r"/v1/registrations"),
                {"POST": self.register_push, "DELETE": self.unregister_push},
            ),
            (re.compile(r"/v1/registrations/([^/]+)"), {"DELETE": self.unregister_push}),
        ]

    def handle(self, who: Identity, request: Request) -> Answer:
        """Answer one request; an error as Twilio's REST API shapes it."""
        path = "/" + request.path.lstrip("/")
        for pattern, handlers in self._routes:
            matched = pattern.fullmatch(path)
            if matched is None:
                continue
            handler = handlers.get(request.method)
            if handler is None:
                error = ApiError(405, METHOD_NOT_ALLOWED, f"{request.method} is not served here")
                return Answer(405, error.to_dict())
            try:
                return handler(who, request, [unquote(g) for g in matched.groups()])
            except ApiError as exc:
                return Answer(exc.status, exc.to_dict())
            except NotFound as exc:
                return Answer(404, ApiError(404, exc.code or 20404, str(exc)).to_dict())
            except StoreError as exc:
                error = self._store_error(exc)
                return Answer(error.status, error.to_dict())
        return Answer(404, ApiError(404, 20404, f"nothing is served at {path}").to_dict())

    def _store_error(self, exc: StoreError) -> ApiError:
        return from_store(exc, "twilsock")

    # -- configuration -------------------------------------------------------------------------
    def configuration(self, who: Identity, request: Request, args: list[str]) -> Answer:
        service = self.store.get_service(who.account_sid, who.service_sid)
        config = service.config
        chat = f"{self.base}{CHAT}"
        user_sid = who.user.sid
        media = f"{self.base}/v1/Services/{who.service_sid}"
        links = {
            "my_conversations": f"{chat}/Me/Conversations",
            "my_channels": f"{chat}/Me/Conversations",
            "conversations": f"{chat}/Conversations",
            "channels": f"{chat}/Conversations",
            "users": f"{chat}/Users",
            "current_user": f"{chat}/Users/{who.identity}",
            "typing": f"{chat}/Typing",
            "media_service": f"{media}/Media",
            "media_set_service": f"{media}/MediaSet",
            "messages_receipts": f"{chat}/Conversations/%s/Messages/%s/Receipts",
        }
        my_channels = objects.of(MY_CHANNELS, user_sid)
        body = {
            "identity": who.identity,
            "links": links,
            "sync_objects": {
                "my_user_info": objects.of(USER_INFO, user_sid),
                "my_conversations": my_channels,
                "my_channels": my_channels,
            },
            "options": {
                "reachability_enabled": config.reachability_enabled,
                "user_infos_to_subscribe": 100,
                "http_cache_interval": "PT1S",
                "consumption_report_interval": f"PT{config.consumption_report_interval}S",
                # Conversations' limits of a message's attachments (``conversation.limits``).
                "media_attachments_count_limit": 1,
                "media_attachment_size_limit_in_mb": config.media.size_limit_mb,
                "media_attachments_total_size_limit_in_mb": config.media.size_limit_mb,
                "email_histories_allowed_mime_types": [],
                "email_bodies_allowed_mime_types": [],
            },
        }
        return Answer(200, body)

    # -- the user's channels -------------------------------------------------------------------
    def my_channels(self, who: Identity, request: Request, args: list[str]) -> Answer:
        size = _page_size(request.params.get("PageSize"))
        page = self.store.list_user_channels(
            who.service_sid, who.identity, limit=size, cursor=request.params.get("PageToken")
        )
        found = []
        for item in page.items:
            channel = self.store.get_channel(who.service_sid, item.channel_sid)
            found.append(self._my_entry(who, channel, item.last_consumed_message_index, item))
        if page.next_cursor is None:
            # Invites after the memberships (all of them, on the last page).
            cursor: str | None = None
            while True:
                invites = self.store.list_user_invites(
                    who.service_sid, who.identity, limit=100, cursor=cursor
                )
                for invite in invites.items:
                    channel = self.store.get_channel(who.service_sid, invite.channel_sid)
                    found.append(self._my_entry(who, channel, None, None, status="invited"))
                cursor = invites.next_cursor
                if cursor is None:
                    break
        meta = {"next_token": page.next_cursor, "previous_token": None}
        return Answer(200, {"conversations": found, "channels": found, "meta": meta})

    def my_channel(self, who: Identity, request: Request, args: list[str]) -> Answer:
        channel = access.channel(self.core, who.actor, args[0])
        item = self.store.get_user_channel(who.service_sid, who.identity, channel.sid)
        return Answer(200, self._my_entry(who, channel, item.last_consumed_message_index, item))

    def update_my_channel(self, who: Identity, request: Request, args: list[str]) -> Answer:
        """The read horizon (``last_read_message_index`` / ``last_consumed_message_index``;
        ``null`` for none read) or the notification level."""
        body = _object(request.body)
        ref = args[0]
        events: list[Event] = []
        channel = access.channel(self.core, who.actor, ref)
        for name in ("last_read_message_index", "last_consumed_message_index"):
            if name in body:
                index = body[name]
                if index is not None and (type(index) is not int or not 0 <= index <= MAX_INDEX):
                    raise invalid(f"{name} must be a message index or null")
                events += self._read_horizon(who, channel, index)
                break
        if "notification_level" in body:
            level = body["notification_level"]
            if level not in ("default", "muted"):
                raise invalid("notification_level must be default or muted")
            member = access.membership(self.core, who.actor, channel, ref=ref)
            outcome = members.update_member(
                self.core, who.actor, channel.sid, member.sid, {"notification_level": level}
            )
            events += outcome.events
        item = self.store.get_user_channel(who.service_sid, who.identity, channel.sid)
        entry = self._my_entry(who, channel, item.last_consumed_message_index, item)
        return Answer(200, entry, events)

    def _read_horizon(self, who: Identity, channel: Channel, index: int | None) -> list[Event]:
        if index is not None:
            # The SDKs advance (never back) on their side; what they send is the new horizon.
            outcome = members.set_read_horizon(
                self.core, who.actor, channel.sid, index, backwards=True
            )
            return outcome.events
        member = access.membership(self.core, who.actor, channel)
        outcome = members.update_member(
            self.core,
            who.actor,
            channel.sid,
            member.sid,
            {"last_consumed_message_index": None, "last_consumption_timestamp": None},
        )
        return outcome.events

    def _my_entry(
        self,
        who: Identity,
        channel: Channel,
        last_read: int | None,
        item: Any,
        *,
        status: str = "joined",
    ) -> dict[str, Any]:
        unread = None if item is None else item.unread_messages_count
        level = "default" if item is None else item.notification_level
        # The channel's own fields too: Conversations' getConversationByUniqueName and
        # twilio-chat's channel descriptors take the name and attributes from here.
        entry = self._channel(who, channel)
        entry.update(
            {
                "channel_sid": channel.sid,
                "status": status,
                "notification_level": level,
                "last_read_message_index": last_read,
                "last_consumed_message_index": last_read,
                "unread_messages_count": unread,
            }
        )
        return entry

    # -- channels ------------------------------------------------------------------------------
    def public_channels(self, who: Identity, request: Request, args: list[str]) -> Answer:
        size = _page_size(request.params.get("PageSize"))
        page = self.store.list_channels(
            who.service_sid, types=PUBLIC_ONLY, limit=size, cursor=request.params.get("PageToken")
        )
        mine = set(users.channel_sids(self.store, who.service_sid, who.identity))
        found = [
            self._channel(who, channel, "joined" if channel.sid in mine else "notParticipating")
            for channel in page.items
        ]
        meta = {"next_token": page.next_cursor, "previous_token": None}
        return Answer(200, {"conversations": found, "channels": found, "meta": meta})

    def channel(self, who: Identity, request: Request, args: list[str]) -> Answer:
        channel = access.visible(self.core, who.actor, args[0])
        try:
            item = self.store.get_user_channel(who.service_sid, who.identity, channel.sid)
        except NotFound:
            status = "invited" if access.invited(self.core, who.actor, channel) else None
            return Answer(200, self._channel(who, channel, status or "notParticipating"))
        found = self._channel(who, channel, "joined")
        found["last_consumed_message_index"] = item.last_consumed_message_index
        found["last_read_message_index"] = item.last_consumed_message_index
        found["notification_level"] = item.notification_level
        return Answer(200, found)

    def create_channel(self, who: Identity, request: Request, args: list[str]) -> Answer:
        body = _object(request.body)
        unique_name = _text(body, "unique_name", "uniqueName")
        kind = _text(body, "type") or "public"
        if kind not in ("public", "private"):
            raise invalid(f"type must be public or private, not {kind!r}")
        values = {
            "friendly_name": _text(body, "friendly_name", "friendlyName", limit=MAX_NAME),
            "unique_name": unique_name and fields.unique_name(unique_name, "unique_name"),
            "attributes": _attributes(body),
            "type": kind,
        }
        outcome = channels.create_channel(self.core, who.actor, values)
        channel = self.store.get_channel(who.service_sid, (outcome.resource or {})["sid"])
        return Answer(200, self._channel(who, channel, "joined"), outcome.events)

    def update_channel(self, who: Identity, request: Request, args: list[str]) -> Answer:
        body = _object(request.body)
        changes: dict[str, Any] = {}
        if (name := _text(body, "friendly_name", "friendlyName", limit=MAX_NAME)) is not None:
            changes["friendly_name"] = name
        if (unique := _text(body, "unique_name", "uniqueName")) is not None:
            changes["unique_name"] = fields.unique_name(unique, "unique_name") or None
        if "attributes" in body:
            changes["attributes"] = _attributes(body)
        outcome = channels.update_channel(self.core, who.actor, args[0], changes)
        channel = self.store.get_channel(who.service_sid, (outcome.resource or {})["sid"])
        return Answer(200, self._channel(who, channel, "joined"), outcome.events)

    def delete_channel(self, who: Identity, request: Request, args: list[str]) -> Answer:
        outcome = channels.delete_channel(self.core, who.actor, args[0])
        return Answer(204, None, outcome.events)

    def _channel(
        self, who: Identity, channel: Channel, status: str | None = None
    ) -> dict[str, Any]:
        """A channel as the SDKs read it: REST's fields, its Sync objects, the links they
        call, and (``status``) where the user stands with it."""
        rendered = render.channel(channel, who.account_sid, who.actor.urls)
        rendered["conversation_sid"] = channel.sid
        # The SDKs' name for members_count (channel descriptors, getMembersCount).
        rendered["participants_count"] = channel.members_count
        rendered["sync_objects"] = channel_objects(channel)
        rendered["links"] = self._channel_links(channel)
        if status is not None:
            rendered["status"] = status
            rendered.setdefault("notification_level", "default")
        return rendered

    def _channel_links(self, channel: Channel) -> dict[str, str]:
        url = f"{self.base}{CHAT}/Conversations/{channel.sid}"
        return {
            "self": url,
            "participants": f"{url}/Participants",
            "members": f"{url}/Participants",
            "messages": f"{url}/Messages",
            "invites": f"{url}/Invites",
        }

    # -- members -------------------------------------------------------------------------------
    def add_member(self, who: Identity, request: Request, args: list[str]) -> Answer:
        """Join (no identity, or one's own), or add someone else (``addMember``)."""
        body = _object(request.body)
        identity = _text(body, "identity")
        ref = args[0]
        if identity is None or identity == who.identity:
            outcome = members.join(self.core, who.actor, ref)
        else:
            identity = fields.identity(identity, "identity")
            channel = access.channel(self.core, who.actor, ref)
            mine = access.membership(self.core, who.actor, channel, ref=ref)
            access.require(self.core, who.actor, mine, "addMember")
            users.ensure_user(self.store, who.service_sid, identity)
            values = {"identity": identity, "attributes": _attributes(body)}
            outcome = members.add_member(self.core, who.actor, channel.sid, values)
        return Answer(200, outcome.resource, outcome.events)

    def update_member(self, who: Identity, request: Request, args: list[str]) -> Answer:
        body = _object(request.body)
        channel = access.channel(self.core, who.actor, args[0])
        member = self.store.get_member(who.service_sid, channel.sid, args[1])
        mine = access.membership(self.core, who.actor, channel, ref=args[0])
        permission = "editOwnMemberAttributes" if member.sid == mine.sid else "editAnyMember"
        access.require(self.core, who.actor, mine, permission)
        outcome = members.update_member(
            self.core, who.actor, channel.sid, member.sid, {"attributes": _attributes(body)}
        )
        return Answer(200, outcome.resource, outcome.events)

    def remove_member(self, who: Identity, request: Request, args: list[str]) -> Answer:
        ref, target = args
        channel = access.channel(self.core, who.actor, ref)
        member = self.store.get_member(who.service_sid, channel.sid, target)
        if member.identity == who.identity:
            outcome = members.remove_member(self.core, who.actor, ref)
        else:
            mine = access.membership(self.core, who.actor, channel, ref=ref)
            access.require(self.core, who.actor, mine, "removeMember")
            outcome = members.remove_member(self.core, who.actor, channel.sid, member.sid)
        return Answer(204, None, outcome.events)

    def invite(self, who: Identity, request: Request, args: list[str]) -> Answer:
        body = _object(request.body)
        identity = fields.identity(_text(body, "identity") or "", "identity")
        channel = access.channel(self.core, who.actor, args[0])
        mine = access.membership(self.core, who.actor, channel, ref=args[0])
        access.require(self.core, who.actor, mine, "inviteMember")
        # The invitee's map of channels shows the invitation: they are a user from now on.
        users.ensure_user(self.store, who.service_sid, identity)
        outcome = members.invite(self.core, who.actor, channel.sid, {"identity": identity})
        return Answer(200, outcome.resource, outcome.events)

    def decline(self, who: Identity, request: Request, args: list[str]) -> Answer:
        if args[1] != who.identity:
            raise ApiError(403, 50400, "only the invited user may decline an invite")
        outcome = members.decline(self.core, who.actor, args[0])
        return Answer(204, None, outcome.events)

    # -- messages ------------------------------------------------------------------------------
    def send_message(self, who: Identity, request: Request, args: list[str]) -> Answer:
        body = _object(request.body)
        text = _text(body, "body", limit=fields.MAX_TEXT + 1) or ""
        values = {"body": fields.body(text, "body"), "attributes": _attributes(body)}
        if (media_sid := _media_sid(body)) is not None:
            values["media_sid"] = media_sid
        draft = messages.prepare_message(self.core, who.actor, args[0], values)
        return Answer(200, None, draft=draft)

    def update_message(self, who: Identity, request: Request, args: list[str]) -> Answer:
        body = _object(request.body)
        changes: dict[str, Any] = {}
        if "body" in body:
            changes["body"] = fields.body(_text(body, "body") or "", "body")
        if "attributes" in body:
            changes["attributes"] = _attributes(body)
        outcome = messages.edit_message(self.core, who.actor, args[0], args[1], changes)
        return Answer(200, outcome.resource, outcome.events)

    def remove_message(self, who: Identity, request: Request, args: list[str]) -> Answer:
        outcome = messages.remove_message(self.core, who.actor, args[0], args[1])
        return Answer(204, None, outcome.events)

    def typing(self, who: Identity, request: Request, args: list[str]) -> Answer:
        body = _object(request.body)
        ref = _text(body, "ChannelSid", "channel_sid", "ConversationSid", "conversation_sid")
        if not ref:
            raise invalid("typing needs a ChannelSid")
        outcome = messages.typing(self.core, who.actor, ref)
        service = self.core.store.get_service(who.account_sid, who.service_sid)
        timeout = service.config.typing_indicator_timeout or TYPING_TIMEOUT
        return Answer(200, {"typing_timeout": timeout}, outcome.events)

    # -- users ---------------------------------------------------------------------------------
    def user(self, who: Identity, request: Request, args: list[str]) -> Answer:
        return Answer(200, self._user(who, self.store.get_user(who.service_sid, args[0])))

    def channel_users(self, who: Identity, request: Request, args: list[str]) -> Answer:
        """``GET users?ConversationSid=``: the users of a channel the user is in (twilio-chat's
        ``getUserDescriptors``)."""
        ref = request.params.get("ConversationSid") or request.params.get("ChannelSid")
        if not ref:
            raise invalid("name the channel: ConversationSid")
        channel = access.channel(self.core, who.actor, ref)
        access.membership(self.core, who.actor, channel, ref=ref)
        page = self.store.list_members(
            who.service_sid,
            channel.sid,
            limit=_page_size(request.params.get("PageSize")),
            cursor=request.params.get("PageToken"),
        )
        found = [
            self._user(who, self.store.get_user(who.service_sid, member.identity))
            for member in page.items
        ]
        meta = {"next_token": page.next_cursor, "prev_token": None, "previous_token": None}
        return Answer(200, {"users": found, "meta": meta})

    def update_user(self, who: Identity, request: Request, args: list[str]) -> Answer:
        body = _object(request.body)
        changes: dict[str, Any] = {}
        if (name := _text(body, "friendly_name", "friendlyName", limit=MAX_NAME)) is not None:
            changes["friendly_name"] = name
        if "attributes" in body:
            changes["attributes"] = _attributes(body)
        outcome = users.update_user(self.core, who.actor, args[0], changes)
        user = self.store.get_user(who.service_sid, (outcome.resource or {})["sid"])
        return Answer(200, self._user(who, user), outcome.events)

    def _user(self, who: Identity, user: User) -> dict[str, Any]:
        info = objects.of(USER_INFO, user.sid)
        # Null unless the service tracks reachability (presence is recorded for push too).
        shown = users.reachability(self.store, who.account_sid, who.service_sid)
        return {
            "identity": user.identity,
            "friendly_name": user.friendly_name,
            "attributes": user.attributes,
            "is_online": user.is_online if shown else None,
            "is_notifiable": user.is_notifiable if shown else None,
            "sync_objects": {"user_info_map": info},
            "sync_unique_name": info,
            "links": {"self": f"{self.base}{CHAT}/Users/{quote(user.identity, safe='')}"},
        }

    # -- push registrations --------------------------------------------------------------------
    def register_push(self, who: Identity, request: Request, args: list[str]) -> Answer:
        return Answer(200, registrations.register(self.store, who, request.body))

    def unregister_push(self, who: Identity, request: Request, args: list[str]) -> Answer:
        registrations.unregister(self.store, who, request.body, args[0] if args else None)
        return Answer(204, None)

    # -- Sync ----------------------------------------------------------------------------------
    def sync_object(self, who: Identity, request: Request, args: list[str]) -> Answer:
        ref = self.reads.ref(who.actor, args[1], args[0])
        with_items = request.params.get("Include") == "items"
        return Answer(200, self.reads.descriptor(who.actor, ref, with_items=with_items))

    def sync_items(self, who: Identity, request: Request, args: list[str]) -> Answer:
        ref = self.reads.ref(who.actor, args[1], args[0])
        return Answer(200, self.reads.items(who.actor, ref, request.params))

    def subscriptions(self, who: Identity, request: Request, args: list[str]) -> Answer:
        body = _object(request.body)
        action = body.get("action")
        if action not in ("establish", "cancel"):
            raise invalid("action must be establish or cancel")
        wanted = body.get("requests")
        if not isinstance(wanted, list) or len(wanted) > MAX_BATCH:
            raise invalid(f"requests must be a list of at most {MAX_BATCH} objects")
        accepted: list[tuple[str, str, int | None]] = []
        refused: list[tuple[str, str, dict[str, Any]]] = []
        for item in wanted:
            if not isinstance(item, dict) or not isinstance(item.get("object_sid"), str):
                raise invalid("each request names an object_sid")
            sid, kind = item["object_sid"], str(item.get("object_type") or "")
            last = item.get("last_event_id")
            if type(last) is not int:
                last = None
            if action == "cancel":
                accepted.append((sid, kind, None))
                continue
            try:
                ref = self.reads.ref(who.actor, sid)
            except ApiError as exc:
                refused.append((sid, kind, exc.to_dict()))
                continue
            accepted.append((ref.sid, kind, last))  # events name the SID, not a unique name
        subscribe = Subscribe(action, body.get("correlation_id"), accepted, refused)
        answer = {"estimated_delivery_in_ms": 5000, "max_batch_size": MAX_BATCH, "ttl_in_s": -1}
        return Answer(200, answer, subscribe=subscribe)


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object or a form")
    return body


def _text(body: dict[str, Any], *names: str, limit: int = fields.MAX_TEXT) -> str | None:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise invalid(f"{name} must be a string")
        if "\x00" in value or len(value) > limit:
            raise invalid(f"{name} is not acceptable text (at most {limit} characters, no NUL)")
        return value
    return None


def _media_sid(body: dict[str, Any]) -> str | None:
    """The upload a message carries: chat's ``media_sid``, or conversations' ``media_sids``
    (which its builder sends empty with text). One per message, as in Chat."""
    single = _text(body, "media_sid", limit=34)
    many = body.get("media_sids")
    if many is None or many == []:
        return single
    if not isinstance(many, list) or not all(isinstance(sid, str) for sid in many):
        raise invalid("media_sids must be a list of Media SIDs")
    if len(many) > 1 or single is not None:
        raise invalid(
            "a message carries one media in hubbub: send each file in a message of its own"
        )
    return _text({"media_sids": many[0]}, "media_sids", limit=34)


def _attributes(body: dict[str, Any]) -> str:
    return fields.attributes_value(body.get("attributes"))


def _page_size(value: str | None) -> int:
    if not value:
        return 50
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 100:
        raise invalid("PageSize must be a whole number from 1 to 100")
    return int(value)
