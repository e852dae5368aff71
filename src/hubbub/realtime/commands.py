"""The commands of a real-time session: frames' parameters to chat operations and back.

Writes go through the chat operations (``hubbub.chat``), exactly as REST's do; this module
only reads parameters, shapes results, and answers the reads that are the protocol's own
(a history page, the user's channels with their unread counts). Errors are Twilio-shaped
``ApiError``s, as in the REST API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hubbub.chat import access, channels, fields, members, messages, push, render, users
from hubbub.chat.core import Actor, Core, Outcome
from hubbub.chat.errors import ApiError, from_store, invalid
from hubbub.chat.fields import MAX_INDEX, MAX_NAME
from hubbub.chat.keys import KeyRing
from hubbub.chat.lookups import Lookups
from hubbub.chat.messages import Draft
from hubbub.identities import user_flaw
from hubbub.realtime.protocol import MAX_FRAME
from hubbub.store import NotFound, Store
from hubbub.store.errors import StoreError
from hubbub.store.records import Channel, ChannelType, Message, User
from hubbub.tokens import DEFAULT_LEEWAY, InvalidGrants, InvalidIssuer, verify

MAX_PAGE = 100
#: How large a page of history may grow, encoded: about 1,000 times a typical message, and a
#: fraction of what clients accept in a frame (the SDK takes 8 MiB).
REPLY_BUDGET = 2 * 1024 * 1024
PUBLIC_ONLY: tuple[ChannelType] = ("public",)
Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a session acts for, from its verified token."""

    account_sid: str
    service_sid: str
    identity: str
    key_sid: str
    expires_at: int
    user: User
    #: The same, as chat operations take it.
    actor: Actor
    #: The Chat grant's ``push_credential_sid`` and ``endpoint_id``, as given (for push
    #: registrations, which check them).
    push_credential_sid: object = None
    endpoint_id: object = None


class Commands:
    """Runs session commands for one server process (one per base URL)."""

    def __init__(
        self,
        store: Store,
        keys: KeyRing,
        urls: render.Urls,
        *,
        leeway: int = DEFAULT_LEEWAY,
        lookups: Lookups | None = None,
        core: Core | None = None,
    ) -> None:
        """``lookups``, when given, answers the checks of ``send_message`` and ``typing`` from
        short-lived copies (see ``chat.lookups``); without it every check reads the store."""
        self.store = store
        self.keys = keys
        self.urls = urls
        self.leeway = leeway
        self.core = core or Core(store, lookups)
        self._handlers: dict[str, Callable[[Identity, Params], Outcome]] = {
            name.removeprefix("cmd_"): getattr(self, name)
            for name in dir(self)
            if name.startswith("cmd_")
        }

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
        if (flaw := user_flaw(verified.identity)) is not None:
            # Refused before the store sees it; never echoed (it may not even encode).
            raise InvalidGrants(
                f"a Chat session cannot take this token: {flaw.message('its identity')}"
            )
        try:
            # Only that it exists: a copy up to a second old will do (many connect at once).
            lookups = self.core.lookups
            if lookups is not None:
                lookups.service(verified.account_sid, service_sid)
            else:
                self.store.get_service(verified.account_sid, service_sid)
        except NotFound:
            raise InvalidGrants(f"the Chat Service {service_sid} is not in this account") from None
        user = users.ensure_user(self.store, service_sid, verified.identity)
        chat: dict[str, Any] = verified.grants["chat"]  # a dict, or verify refused the token
        actor = Actor(verified.account_sid, service_sid, self.urls, verified.identity)
        return Identity(
            verified.account_sid,
            service_sid,
            verified.identity,
            verified.key_sid,
            verified.expires_at,
            user,
            actor,
            chat.get("push_credential_sid"),
            chat.get("endpoint_id"),
        )

    def key_alive(self, who: Identity) -> bool:
        found = self.keys.lookup(who.key_sid)
        return found is not None and found[0] == who.account_sid

    # -- commands ----------------------------------------------------------------------------
    def run(self, who: Identity, kind: str, params: Params) -> Outcome:
        """Run one command; its ``Outcome.resource`` is the command's result."""
        handler = self._handlers.get(kind)
        if handler is None:
            raise invalid(f"unknown command {kind!r}")
        try:
            return handler(who, params)
        except StoreError as exc:
            raise _from_store(exc, kind) from None

    def cmd_ping(self, who: Identity, params: Params) -> Outcome:
        return Outcome({})

    def cmd_create_channel(self, who: Identity, params: Params) -> Outcome:
        kind = _text(params, "channel_type") or "public"
        if kind not in ("public", "private"):
            raise invalid(f"channel_type must be public or private, not {kind!r}")
        unique_name = _text(params, "unique_name") or None
        values = {
            "friendly_name": _text(params, "friendly_name", MAX_NAME),
            "unique_name": unique_name and fields.unique_name(unique_name, "unique_name"),
            "attributes": _attributes(params),
            "type": "private" if kind == "private" else "public",
        }
        return _named("channel", channels.create_channel(self.core, who.actor, values))

    def cmd_get_channel(self, who: Identity, params: Params) -> Outcome:
        channel = access.visible(self.core, who.actor, _channel(params))
        return Outcome({"channel": self._channel(who, channel)})

    def cmd_get_subscribed_channels(self, who: Identity, params: Params) -> Outcome:
        store = self.store
        items = []
        cursor: str | None = None
        while True:
            page = store.list_user_channels(who.service_sid, who.identity, limit=100, cursor=cursor)
            for item in page.items:
                channel = store.get_channel(who.service_sid, item.channel_sid)
                member = store.get_member(who.service_sid, item.channel_sid, item.member_sid)
                items.append(
                    {
                        "channel": self._channel(who, channel),
                        "member": render.member(member, who.account_sid, self.urls),
                        "unread": item.unread_messages_count,
                    }
                )
            cursor = page.next_cursor
            if cursor is None:
                break
        while True:
            invites = store.list_user_invites(
                who.service_sid, who.identity, limit=100, cursor=cursor
            )
            for invite in invites.items:
                channel = store.get_channel(who.service_sid, invite.channel_sid)
                rendered = render.invite(invite, who.account_sid, self.urls)
                items.append({"channel": self._channel(who, channel), "invite": rendered})
            cursor = invites.next_cursor
            if cursor is None:
                return Outcome({"channels": items})

    def cmd_get_public_channels(self, who: Identity, params: Params) -> Outcome:
        size = _int(params, "page_size", 1, MAX_PAGE) or 50
        page = self.store.list_channels(
            who.service_sid, types=PUBLIC_ONLY, limit=size, cursor=_text(params, "page_token")
        )
        found = [self._channel(who, channel) for channel in page.items]
        return Outcome({"channels": found, "next_page_token": page.next_cursor})

    def cmd_get_members(self, who: Identity, params: Params) -> Outcome:
        """A page of the channel's members, each with its user (whose ``is_online`` means
        something only when the service tracks reachability, which the result says)."""
        ref = _channel(params)
        channel = access.channel(self.core, who.actor, ref)
        access.membership(self.core, who.actor, channel, ref=ref)
        size = _int(params, "page_size", 1, MAX_PAGE) or 50
        page = self.store.list_members(
            who.service_sid, channel.sid, limit=size, cursor=_text(params, "page_token")
        )
        service = self.store.get_service(who.account_sid, who.service_sid)
        shown = service.config.reachability_enabled
        items = []
        for member in page.items:
            user = self.store.get_user(who.service_sid, member.identity)
            items.append(
                {
                    "member": render.member(member, who.account_sid, self.urls),
                    "user": render.user(user, who.account_sid, self.urls, reachability=shown),
                }
            )
        return Outcome(
            {
                "members": items,
                "next_page_token": page.next_cursor,
                "reachability_enabled": service.config.reachability_enabled,
            }
        )

    def cmd_join(self, who: Identity, params: Params) -> Outcome:
        return _named("member", members.join(self.core, who.actor, _channel(params)))

    def cmd_leave(self, who: Identity, params: Params) -> Outcome:
        return _empty(members.remove_member(self.core, who.actor, _channel(params)))

    def cmd_invite(self, who: Identity, params: Params) -> Outcome:
        identity = fields.identity(_text(params, "identity") or "", "identity")
        outcome = members.invite(self.core, who.actor, _channel(params), {"identity": identity})
        return _named("invite", outcome)

    def cmd_decline(self, who: Identity, params: Params) -> Outcome:
        return _empty(members.decline(self.core, who.actor, _channel(params)))

    def cmd_send_message(self, who: Identity, params: Params) -> Outcome:
        draft = self.draft_message(who, params)
        with self.core.atomic():
            return self.sent(draft, messages.store_draft(self.store, draft))

    def draft_message(self, who: Identity, params: Params) -> Draft:
        """``send_message`` up to the write: checked, not stored. The adapter stores drafts of
        many sessions in one transaction (group commit), then calls ``sent`` for each."""
        ref = _channel(params)
        body = fields.body(_text(params, "body", MAX_FRAME) or "", "body")
        values = {"body": body, "attributes": _attributes(params)}
        if (media_sid := _text(params, "media_sid", 34)) is not None:
            values["media_sid"] = media_sid
        try:
            return messages.prepare_message(self.core, who.actor, ref, values)
        except StoreError as exc:
            raise _from_store(exc, "send_message") from None

    def sent(self, draft: Draft, stored: Message | StoreError) -> Outcome:
        """The reply and the event of a stored draft; ``ApiError`` if it was not stored."""
        if isinstance(stored, StoreError):
            raise _from_store(stored, "send_message")
        return _named("message", messages.message_sent(self.core, draft, stored))

    def cmd_update_message(self, who: Identity, params: Params) -> Outcome:
        changes: dict[str, Any] = {}
        if "body" in params:
            changes["body"] = fields.body(_text(params, "body", MAX_FRAME) or "", "body")
        if "attributes" in params:
            changes["attributes"] = _attributes(params)
        sid = _text(params, "sid") or ""
        outcome = messages.edit_message(self.core, who.actor, _channel(params), sid, changes)
        return _named("message", outcome)

    def cmd_remove_message(self, who: Identity, params: Params) -> Outcome:
        sid = _text(params, "sid") or ""
        return _empty(messages.remove_message(self.core, who.actor, _channel(params), sid))

    def cmd_get_messages(self, who: Identity, params: Params) -> Outcome:
        ref = _channel(params)
        channel = access.channel(self.core, who.actor, ref)
        access.membership(self.core, who.actor, channel, ref=ref)
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
        found = sorted(page.items, key=lambda message: message.index)
        rendered = [render.message(m, who.account_sid, self.urls) for m in found]
        kept = _within_budget(rendered, keep_newest=direction == "backwards")
        result: dict[str, Any] = {"messages": kept}
        if len(kept) < len(rendered):
            result["truncated"] = True
        return Outcome(result)

    def cmd_typing(self, who: Identity, params: Params) -> Outcome:
        return _empty(messages.typing(self.core, who.actor, _channel(params)))

    def cmd_set_consumed(self, who: Identity, params: Params) -> Outcome:
        index = _int(params, "index", 0, MAX_INDEX)
        if index is None:
            raise invalid("set_consumed needs an index")
        outcome = members.set_read_horizon(self.core, who.actor, _channel(params), index)
        channel_sid = outcome.events[0].frame["channel_sid"]
        return Outcome({"unread": self._unread(who, channel_sid)}, outcome.events)

    def cmd_get_unconsumed_count(self, who: Identity, params: Params) -> Outcome:
        ref = _channel(params)
        channel = access.channel(self.core, who.actor, ref)
        access.membership(self.core, who.actor, channel, ref=ref)
        return Outcome({"unread": self._unread(who, channel.sid)})

    # -- push --------------------------------------------------------------------------------
    def cmd_register_push(self, who: Identity, params: Params) -> Outcome:
        """Register this device (or browser) for push: ``binding_type``, ``address`` (a Web
        Push subscription may be given as its JSON object), ``message_types`` (optional)."""
        types = params.get("message_types")
        if types is not None and not isinstance(types, list):
            raise invalid("message_types must be a list")
        binding = push.register(
            self.store,
            who.account_sid,
            who.service_sid,
            who.identity,
            binding_type=params.get("binding_type"),
            address=params.get("address"),
            message_types=types,
            credential_sid=who.push_credential_sid,
            endpoint_id=who.endpoint_id,
        )
        return Outcome(push.describe(binding))

    def cmd_unregister_push(self, who: Identity, params: Params) -> Outcome:
        """Remove one of the user's bindings, by ``binding_sid`` or ``binding_type`` and
        ``address``; ``{"removed": [sids]}`` (empty when there was none)."""
        removed = push.unregister(
            self.store,
            who.service_sid,
            who.identity,
            binding_sid=params.get("binding_sid"),
            binding_type=params.get("binding_type"),
            address=params.get("address"),
        )
        return Outcome({"removed": removed})

    def cmd_get_webpush_key(self, who: Identity, params: Params) -> Outcome:
        """The VAPID public key a browser subscribes with (``applicationServerKey``): the
        webpush credential's that ``register_push`` would use, or ``null`` when there is none."""
        try:
            credential = push.credential_for(
                self.store, who.account_sid, "webpush", who.push_credential_sid
            )
        except ApiError:
            return Outcome({"public_key": None, "credential_sid": None})
        key = credential.settings.get("public_key")
        return Outcome({"public_key": key, "credential_sid": credential.sid})

    # -- helpers -----------------------------------------------------------------------------
    def _unread(self, who: Identity, channel_sid: str) -> int | None:
        found = self.store.get_user_channel(who.service_sid, who.identity, channel_sid)
        return found.unread_messages_count

    def _channel(self, who: Identity, channel: Channel) -> dict[str, Any]:
        return render.channel(channel, who.account_sid, self.urls)


def _named(name: str, outcome: Outcome) -> Outcome:
    """An operation's outcome as a command's: its resource under ``name``."""
    return Outcome({name: outcome.resource}, outcome.events)


def _empty(outcome: Outcome) -> Outcome:
    return Outcome({}, outcome.events)


def _channel(params: Params) -> str:
    ref = _text(params, "channel")
    if not ref:
        raise invalid("this command needs a channel")
    return ref


def _text(params: Params, name: str, max_length: int = fields.MAX_TEXT) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string")
    if "\x00" in value or len(value) > max_length:
        raise invalid(f"{name} is not acceptable text (at most {max_length} characters, no NUL)")
    return value


def _int(params: Params, name: str, low: int, high: int | None) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if type(value) is not int or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise invalid(f"{name} must be a whole number {bounds}")
    return value


def _attributes(params: Params) -> str:
    return fields.attributes_value(params.get("attributes"))


def _within_budget(found: list[dict[str, Any]], *, keep_newest: bool) -> list[dict[str, Any]]:
    """As many of ``found`` (in index order) as fit in ``REPLY_BUDGET`` once encoded, the
    newest or the oldest ones, and at least one."""
    # Escaping at most sextuples a character (\u0000); the rest of a message is small.
    bound = sum(6 * (len(m["body"] or "") + len(m["attributes"])) + 4096 for m in found)
    if bound <= REPLY_BUDGET:
        return found
    order = reversed(found) if keep_newest else iter(found)
    kept: list[dict[str, Any]] = []
    used = 0
    for message in order:
        used += len(json.dumps(message, ensure_ascii=False).encode()) + 1
        if kept and used > REPLY_BUDGET:
            break
        kept.append(message)
    return kept[::-1] if keep_newest else kept


def _from_store(error: StoreError, kind: str) -> ApiError:
    """A store error as a command's error: a missing resource is named, as the client named it."""
    if isinstance(error, NotFound):
        return ApiError(404, error.code or 20404, str(error))
    return from_store(error, f"/v1/ws {kind}")
