"""Twilio's names for the events its Chat webhooks report, in one place.

Each action hubbub performs has a pre-event (sent before it is committed, which may veto it) and
a post-event (sent once it happened). A service's ``WebhookFilters`` may name either kind; a
channel webhook's ``Configuration.Filters`` only post-events of things that happen in a channel.
"""

from __future__ import annotations

#: hubbub's action names (as ``hubbub.chat`` calls its hooks) to Twilio's (pre, post) event names.
EVENTS: dict[str, tuple[str, str]] = {
    "send_message": ("onMessageSend", "onMessageSent"),
    "edit_message": ("onMessageUpdate", "onMessageUpdated"),
    "remove_message": ("onMessageRemove", "onMessageRemoved"),
    "create_channel": ("onChannelAdd", "onChannelAdded"),
    "update_channel": ("onChannelUpdate", "onChannelUpdated"),
    "delete_channel": ("onChannelDestroy", "onChannelDestroyed"),
    "add_member": ("onMemberAdd", "onMemberAdded"),
    "update_member": ("onMemberUpdate", "onMemberUpdated"),
    "remove_member": ("onMemberRemove", "onMemberRemoved"),
    "update_user": ("onUserUpdate", "onUserUpdated"),
}

PRE_EVENTS: frozenset[str] = frozenset(pre for pre, _ in EVENTS.values())
POST_EVENTS: frozenset[str] = frozenset(post for _, post in EVENTS.values())

#: The post-events a channel webhook may be called on: those of an existing channel. A channel
#: cannot have webhooks before it is created, and users are not in any one channel.
CHANNEL_POST_EVENTS: frozenset[str] = frozenset(
    EVENTS[action][1]
    for action in (
        "send_message",
        "edit_message",
        "remove_message",
        "update_channel",
        "delete_channel",
        "add_member",
        "update_member",
        "remove_member",
    )
)
