"""Twilio's push templates: the notification types, their default texts, ``${NAME}`` filled in.

A template names variables as ``${NAME}``; the known ones are replaced (by an empty string when
the event has no such value), anything else is left as written, as a typo is easier to see that
way. An action of the application's server (over REST) has no user: the default templates then
read without the "by ${USER}" part, and in a service's own template ``${USER}`` is ``system``,
the author Twilio gives a message sent over REST without ``From``. The text is cut to ``MAX_TEXT``
characters, which keeps the outbox's rows small; each provider cuts it further to its own limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

#: Characters of a rendered text at most (ending in "…" when cut).
MAX_TEXT = 1000
_ELLIPSIS = "…"
_VARIABLE = re.compile(r"\$\{([A-Z_]+)\}")


@dataclass(frozen=True, slots=True)
class Kind:
    """One type of notification: the service setting's name (``ServiceNotifications``), the
    message type the SDKs and bindings know it by, and its default template."""

    name: str
    message_type: str
    template: str

    @property
    def short_type(self) -> str:
        """The message type as Twilio's REST API lists a binding's (``new_message``)."""
        return self.name


NEW_MESSAGE = Kind("new_message", "twilio.channel.new_message", "${CHANNEL};${USER}: ${MESSAGE}")
ADDED_TO_CHANNEL = Kind(
    "added_to_channel",
    "twilio.channel.added_to_channel",
    "You have been added to channel ${CHANNEL} by ${USER}",
)
INVITED_TO_CHANNEL = Kind(
    "invited_to_channel",
    "twilio.channel.invited_to_channel",
    "${USER} has invited you to join the channel ${CHANNEL}",
)
REMOVED_FROM_CHANNEL = Kind(
    "removed_from_channel",
    "twilio.channel.removed_from_channel",
    "${USER} has removed you from the channel ${CHANNEL}",
)
#: Who ``${USER}`` names when no user caused the event.
SYSTEM = "system"
#: The default templates as they read when no user caused the event.
_WITHOUT_USER = {
    ADDED_TO_CHANNEL.template: "You have been added to channel ${CHANNEL}",
    INVITED_TO_CHANNEL.template: "You have been invited to join the channel ${CHANNEL}",
    REMOVED_FROM_CHANNEL.template: "You have been removed from the channel ${CHANNEL}",
}
KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (NEW_MESSAGE, ADDED_TO_CHANNEL, INVITED_TO_CHANNEL, REMOVED_FROM_CHANNEL)
}


def variables(
    *,
    user_identity: str | None,
    user_friendly_name: str | None,
    channel_sid: str,
    channel_unique_name: str | None,
    channel_friendly_name: str | None,
    message: str | None = None,
) -> dict[str, str]:
    """The values of a template's variables for one event (``user_*``: who caused it)."""
    return {
        "USER": user_friendly_name or user_identity or SYSTEM,
        "USER_FRIENDLY_NAME": user_friendly_name or "",
        "USER_IDENTITY": user_identity or "",
        "CHANNEL": channel_friendly_name or channel_unique_name or channel_sid,
        "CHANNEL_FRIENDLY_NAME": channel_friendly_name or "",
        "CHANNEL_UNIQUE_NAME": channel_unique_name or "",
        "CHANNEL_SID": channel_sid,
        "MESSAGE": message or "",
    }


def render(template: str, values: Mapping[str, str]) -> str:
    """``template`` with its known variables replaced, cut to ``MAX_TEXT`` characters."""
    if not values.get("USER_IDENTITY") and not values.get("USER_FRIENDLY_NAME"):
        template = _WITHOUT_USER.get(template, template)
    # One pass: a value that itself reads "${USER}" (a message's body) stays as it is.
    text = _VARIABLE.sub(lambda found: values.get(found.group(1), found.group(0)), template)
    return clip(text)


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text``, or its first ``limit`` - 1 characters and "…" when it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS
