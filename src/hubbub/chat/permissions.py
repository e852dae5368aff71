"""Role permissions: which names exist, and for which kind of role.

Deployment roles (a user's service-wide role) and channel roles (a member's role in one
channel) accept different permissions; a few apply to both. Names are Twilio's.
"""

from __future__ import annotations

from typing import Final

BOTH: Final = frozenset(
    {
        "addMember",
        "inviteMember",
        "removeMember",
        "destroyChannel",
        "editChannelName",
        "editChannelAttributes",
        "editAnyMessage",
        "editAnyMessageAttributes",
        "deleteAnyMessage",
        "editAnyMemberAttributes",
    }
)
DEPLOYMENT: Final = BOTH | {"createChannel", "joinChannel", "editOwnUserInfo", "editAnyUserInfo"}
CHANNEL: Final = BOTH | {
    "sendMessage",
    "sendMediaMessage",
    "leaveChannel",
    "editOwnMessage",
    "editOwnMessageAttributes",
    "deleteOwnMessage",
    "editOwnMemberAttributes",
    "editNotificationLevel",
}

BY_ROLE_TYPE: Final = {"deployment": DEPLOYMENT, "channel": CHANNEL}


def unknown_permissions(role_type: str, permissions: list[str]) -> list[str]:
    """The names in ``permissions`` that a role of ``role_type`` cannot hold."""
    allowed = BY_ROLE_TYPE[role_type]
    return [name for name in permissions if name not in allowed]
