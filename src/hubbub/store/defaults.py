"""The four roles every new Chat Service starts with, and which ones it uses by default."""

from __future__ import annotations

from dataclasses import dataclass

from hubbub.store.records import RoleType


@dataclass(frozen=True, slots=True)
class DefaultRole:
    friendly_name: str
    type: RoleType
    permissions: tuple[str, ...]
    #: The ``ServiceConfig`` fields that point at this role.
    defaults_for: tuple[str, ...]


# Service roles: Twilio's "Roles and Permissions" page for Programmable Chat, as quoted in FACTS.md.
SERVICE_ADMIN = DefaultRole(
    "service admin",
    "deployment",
    (
        "createChannel",
        "joinChannel",
        "destroyChannel",
        "editChannelAttributes",
        "editChannelName",
        "addMember",
        "inviteMember",
        "removeMember",
        "editAnyMemberAttributes",
        "editAnyMessage",
        "deleteAnyMessage",
        "editAnyMessageAttributes",
        "editAnyUserInfo",
    ),
    (),
)
SERVICE_USER = DefaultRole(
    "service user",
    "deployment",
    ("createChannel", "editOwnUserInfo", "joinChannel"),
    ("default_service_role_sid",),
)
# Channel roles: the same Twilio page lists "channel admin" (the default channel creator role) and
# "channel user" (the default member role). Its channel tables are not quoted in FACTS.md, so these
# lists are our best reading of Twilio's published defaults: the channel user can send (also media),
# leave, and edit or delete only what it owns; the admin can in addition manage the channel, its
# members and anyone's messages. A v1 API example shows an older, shorter channel user role
# (sendMessage, leaveChannel, editOwnMessage, deleteOwnMessage). Services may edit both freely.
CHANNEL_ADMIN = DefaultRole(
    "channel admin",
    "channel",
    (
        "sendMessage",
        "sendMediaMessage",
        "leaveChannel",
        "addMember",
        "inviteMember",
        "removeMember",
        "editChannelName",
        "editChannelAttributes",
        "destroyChannel",
        "editOwnMessage",
        "editAnyMessage",
        "editOwnMessageAttributes",
        "editAnyMessageAttributes",
        "deleteOwnMessage",
        "deleteAnyMessage",
        "editOwnMemberAttributes",
        "editAnyMemberAttributes",
    ),
    ("default_channel_creator_role_sid",),
)
CHANNEL_USER = DefaultRole(
    "channel user",
    "channel",
    (
        "sendMessage",
        "sendMediaMessage",
        "leaveChannel",
        "editOwnMessage",
        "editOwnMessageAttributes",
        "deleteOwnMessage",
        "editOwnMemberAttributes",
    ),
    ("default_channel_role_sid",),
)

DEFAULT_ROLES = (SERVICE_ADMIN, SERVICE_USER, CHANNEL_ADMIN, CHANNEL_USER)
