"""The form parameters of a webhook, named as Twilio names them.

A webhook tells of one resource (a message, a channel, a member or a user), given here as the
REST API renders it, with what the action is about to change laid over it for a pre-event.
Absent values (``None``) are left out, as Twilio leaves them; booleans are ``true``/``false``.
``RetryCount`` is not here: it is added by whoever sends, attempt by attempt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hubbub.chat.core import Actor

Params = tuple[tuple[str, str], ...]

# (Twilio's parameter, the rendered resource's key), per kind of resource.
_MESSAGE = (
    ("ChannelSid", "channel_sid"),
    ("MessageSid", "sid"),
    ("Index", "index"),
    ("From", "from"),
    ("Body", "body"),
    ("Attributes", "attributes"),
    ("DateCreated", "date_created"),
    ("DateUpdated", "date_updated"),
    ("ModifiedBy", "last_updated_by"),
)
_CHANNEL = (
    ("ChannelSid", "sid"),
    ("ChannelType", "type"),
    ("FriendlyName", "friendly_name"),
    ("UniqueName", "unique_name"),
    ("Attributes", "attributes"),
    ("CreatedBy", "created_by"),
    ("DateCreated", "date_created"),
    ("DateUpdated", "date_updated"),
    ("MembersCount", "members_count"),
    ("MessagesCount", "messages_count"),
)
_MEMBER = (
    ("ChannelSid", "channel_sid"),
    ("MemberSid", "sid"),
    ("Identity", "identity"),
    ("RoleSid", "role_sid"),
    ("Attributes", "attributes"),
    ("LastConsumedMessageIndex", "last_consumed_message_index"),
    ("DateCreated", "date_created"),
    ("DateUpdated", "date_updated"),
)
_USER = (
    ("UserSid", "sid"),
    ("Identity", "identity"),
    ("FriendlyName", "friendly_name"),
    ("Attributes", "attributes"),
    ("RoleSid", "role_sid"),
    ("IsOnline", "is_online"),
    ("IsNotifiable", "is_notifiable"),
    ("DateCreated", "date_created"),
    ("DateUpdated", "date_updated"),
)
_FIELDS = {"Message": _MESSAGE, "Channel": _CHANNEL, "Member": _MEMBER, "User": _USER}

#: The store's keyword arguments an action carries, as the rendered resource names them.
_RENAMED = {"from_": "from"}


def kind(event: str) -> str:
    """The kind of resource a Twilio event name tells of: ``onMessageSent`` -> ``Message``."""
    for name in _FIELDS:
        if event.startswith(f"on{name}"):
            return name
    raise ValueError(f"not a webhook event: {event}")


def build(
    event: str,
    actor: Actor,
    resource: Mapping[str, Any],
    changes: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Params:
    """The parameters of ``event``, caused by ``actor``, about ``resource`` (rendered), with
    ``changes`` (store keyword arguments) over it and ``extra`` parameters after."""
    fields = dict(resource)
    for key, value in (changes or {}).items():
        fields[_RENAMED.get(key, key)] = value
    params: list[tuple[str, Any]] = [
        ("EventType", event),
        ("AccountSid", actor.account_sid),
        ("InstanceSid", actor.service_sid),
    ]
    if actor.identity is not None:
        params.append(("ClientIdentity", actor.identity))
    params.append(("Source", actor.source))
    for name, key in _FIELDS[kind(event)]:
        params.append((name, fields.get(key)))
    for name, value in (extra or {}).items():
        params.append((name, value))
    return tuple((name, _text(value)) for name, value in params if value is not None)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
