"""Message actions: send, edit, remove; and typing, which is not stored.

Sending is split in two for group commit: ``prepare_message`` checks and returns a ``Draft``,
the door stores many drafts in one transaction, and ``message_sent`` makes the outcome of
each. ``send_message`` does all three for one message.

A message may carry one uploaded file (``values["media_sid"]``, a ``Media`` record the media
service wrote): a user may send only what they uploaded, the application's server anything of
its service, and no two messages the same one. ``store_draft`` stores such a message and marks
its media carried in one transaction; group commit stores media messages alone, in their turn
(``realtime.commits``), so that one taken meanwhile costs only its own message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubbub import sids
from hubbub.chat import access, render
from hubbub.chat.core import Actor, Core, Outcome
from hubbub.chat.errors import (
    MEDIA_ALREADY_SENT,
    MEDIA_BODY_NOT_EDITABLE,
    MEDIA_NOT_FOUND,
    ApiError,
    invalid,
)
from hubbub.chat.events import Event, channel_event
from hubbub.store import Store
from hubbub.store.errors import Conflict, NotFound
from hubbub.store.records import MEDIA, Media, Message, MessageMedia, NewMessage


@dataclass(frozen=True, slots=True)
class Draft:
    """A checked message waiting to be stored."""

    actor: Actor
    channel_sid: str
    #: The store's keyword arguments: ``body``, ``from_``, ``attributes`` and for the
    #: application's server, ``last_updated_by`` and dates.
    values: dict[str, Any]
    #: The file it carries, if any (then ``store_draft`` stores it, not ``create_messages``).
    media: MessageMedia | None = None

    def row(self) -> NewMessage:
        """What ``Store.create_messages`` takes (a user's text message has nothing more)."""
        if self.media is not None:
            raise ValueError("a media message is stored alone, by store_draft")
        values = self.values
        return (
            self.actor.service_sid,
            self.channel_sid,
            values["from_"],
            values["body"],
            values["attributes"],
        )


def prepare_message(core: Core, actor: Actor, ref: str, values: dict[str, Any]) -> Draft:
    """``send_message`` up to the write. A user must be a member allowed to send; the sender
    is the user, or ``values["from_"]`` (``system`` if none) for the application's server.
    ``values["media_sid"]`` names an upload the message carries (``carriable``)."""
    channel = None
    if actor.identity is not None:
        channel = access.channel(core, actor, ref, cached=True)
        member = access.membership(core, actor, channel, ref=ref, cached=True)
        access.require(core, actor, member, "sendMessage")
        values = {**values, "from_": actor.identity}
        channel_sid = channel.sid
    else:
        values = {**values, "from_": values.get("from_") or "system"}
        channel_sid = ref
    media: MessageMedia | None = None
    if (media_sid := values.pop("media_sid", None)) is not None:
        media = carriable(core, actor, media_sid).carried()
        if not values.get("body"):
            # Twilio's "message text to send when a media message does not have any text",
            # for clients that show only bodies; the SDKs show media messages without it.
            service = core.store.get_service(actor.account_sid, actor.service_sid)
            values["body"] = service.config.media.compatibility_message or ""
    values.setdefault("attributes", "{}")
    values = core.before("send_message", actor, values, channel)
    return Draft(actor, channel_sid, values, media)


def carriable(core: Core, actor: Actor, sid: object) -> Media:
    """The upload ``sid`` if the actor may send it in a message: it is in the service, no
    message carries it yet, and a user uploaded it themselves (another's looks missing)."""
    if not sids.is_sid(sid, MEDIA):
        raise invalid(f"MediaSid must be a Media SID (ME followed by 32 hex digits), not {sid!r}")
    try:
        media = core.store.get_media(actor.service_sid, sid)
    except NotFound:
        media = None
    if media is None or (actor.identity is not None and media.author != actor.identity):
        raise ApiError(404, MEDIA_NOT_FOUND, f"Media {sid} was not found")
    if media.message_sid is not None:
        raise _already_sent(sid)
    return media


def _already_sent(sid: str) -> ApiError:
    return ApiError(409, MEDIA_ALREADY_SENT, f"Media {sid} is already sent with another message")


def store_draft(store: Store, draft: Draft) -> Message:
    """Store one draft, inside the caller's ``Store.atomic`` block, its media (if any) marked
    carried by it in the same transaction. Should another message have taken the media since
    the draft was checked, this raises ``Conflict`` (Twilio's 50508) and the caller's whole
    transaction is undone: no message points at a media another message carries."""
    service_sid = draft.actor.service_sid
    stored = store.create_message(service_sid, draft.channel_sid, media=draft.media, **draft.values)
    if draft.media is not None:
        try:
            store.attach_media(
                service_sid,
                draft.media.sid,
                channel_sid=stored.channel_sid,
                message_sid=stored.sid,
            )
        except Conflict:
            sid = draft.media.sid
            reason = f"Media {sid} is already sent with another message"
            raise Conflict("Media", "sid", sid, code=MEDIA_ALREADY_SENT, reason=reason) from None
    return stored


def message_sent(core: Core, draft: Draft, stored: Message) -> Outcome:
    """The outcome of a stored draft; in the transaction that stored it (``core.atomic``)."""
    actor = draft.actor
    rendered = render.message(stored, actor.account_sid, actor.urls)
    event = channel_event("message_added", stored.channel_sid, message=rendered)
    return core.done("send_message", actor, Outcome(rendered, [event]))


def send_message(core: Core, actor: Actor, ref: str, values: dict[str, Any]) -> Outcome:
    """Check, store and announce one message."""
    draft = prepare_message(core, actor, ref, values)
    with core.atomic():
        return message_sent(core, draft, store_draft(core.store, draft))


def edit_message(core: Core, actor: Actor, ref: str, sid: str, changes: dict[str, Any]) -> Outcome:
    """Change a message's body, attributes (or, for the application's server, its sender,
    editor and dates). A user needs the permission for their own message or anyone's. A
    media message's body stays as sent (Twilio's 50509)."""
    message = None
    if actor.identity is not None:
        if "body" not in changes and "attributes" not in changes:
            raise invalid("update_message needs a body or attributes")
        channel = access.channel(core, actor, ref)
        member = access.membership(core, actor, channel, ref=ref)
        message = core.store.get_message(actor.service_sid, channel.sid, sid)
        own = message.from_ == actor.identity
        if "body" in changes:
            access.require(core, actor, member, "editOwnMessage" if own else "editAnyMessage")
        if "attributes" in changes:
            permission = "editOwnMessageAttributes" if own else "editAnyMessageAttributes"
            access.require(core, actor, member, permission)
        changes = {**changes, "last_updated_by": actor.identity}
        ref = channel.sid
    if "body" in changes:
        current = message or core.store.get_message(actor.service_sid, ref, sid)
        if current.type == "media":
            raise invalid("The body of a media message cannot be updated", MEDIA_BODY_NOT_EDITABLE)
    changes = core.before("edit_message", actor, changes, message)
    with core.atomic():
        message = core.store.update_message(actor.service_sid, ref, sid, **changes)
        rendered = render.message(message, actor.account_sid, actor.urls)
        event = channel_event("message_updated", message.channel_sid, message=rendered)
        return core.done("edit_message", actor, Outcome(rendered, [event]))


def remove_message(core: Core, actor: Actor, ref: str, sid: str) -> Outcome:
    """Delete a message; a user needs the permission for their own message or anyone's."""
    if actor.identity is not None:
        channel = access.channel(core, actor, ref)
        member = access.membership(core, actor, channel, ref=ref)
        message = core.store.get_message(actor.service_sid, channel.sid, sid)
        own = message.from_ == actor.identity
        access.require(core, actor, member, "deleteOwnMessage" if own else "deleteAnyMessage")
    else:
        message = core.store.get_message(actor.service_sid, ref, sid)
    core.before("remove_message", actor, {"message_sid": message.sid}, message)
    with core.atomic():
        core.store.delete_message(actor.service_sid, message.channel_sid, message.sid)
        rendered = render.message(message, actor.account_sid, actor.urls)
        event = channel_event("message_removed", message.channel_sid, message=rendered)
        return core.done("remove_message", actor, Outcome(rendered, [event]))


def typing(core: Core, actor: Actor, ref: str) -> Outcome:
    """The acting user is typing in the channel: ``typing_started`` now, and ``typing_ended``
    after the service's timeout unless they type again."""
    channel = access.channel(core, actor, ref, cached=True)
    access.membership(core, actor, channel, ref=ref, cached=True)
    service = core.store.get_service(actor.account_sid, actor.service_sid)
    timeout = float(service.config.typing_indicator_timeout)
    frame = {
        "type": "typing_started",
        "channel_sid": channel.sid,
        "identity": actor.identity,
        # In seconds: Twilio's SDKs end the indicator after it themselves (twilsock.link).
        "typing_timeout": service.config.typing_indicator_timeout,
    }
    event = Event(("channel", channel.sid), frame, ends_after=timeout)
    return core.done("typing", actor, Outcome(None, [event]))
