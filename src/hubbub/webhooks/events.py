"""Twilio's webhook event names, and the hubbub action each one follows."""

from __future__ import annotations

#: hubbub's action name -> (pre-event name, post-event name).
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
PRE_EVENTS = frozenset(pre for pre, _ in EVENTS.values())
POST_EVENTS = frozenset(post for _, post in EVENTS.values())
