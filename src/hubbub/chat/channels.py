"""Channel actions: create, update, delete.

``values`` and ``changes`` are the store's keyword arguments, already checked by the door
against ``chat.fields`` (each door names its parameters as its protocol does).
"""

from __future__ import annotations

from typing import Any

from hubbub.chat import access, render
from hubbub.chat.core import Actor, Core, Outcome
from hubbub.chat.events import Event, channel_event, joined, removed, service_event
from hubbub.chat.members import member_event


def create_channel(core: Core, actor: Actor, values: dict[str, Any]) -> Outcome:
    """A new channel. A user who creates one joins it at once, with the service's creator
    role; public channels are announced to the whole service."""
    access.require_service(core, actor, "createChannel")
    values = {**values, "created_by": values.get("created_by") or actor.identity or "system"}
    values = core.before("create_channel", actor, values)
    store = core.store
    with core.atomic():
        channel = store.create_channel(actor.service_sid, **values)
        rendered = render.channel(channel, actor.account_sid, actor.urls)
        events: list[Event] = []
        member = None
        if actor.identity is not None:
            service = store.get_service(actor.account_sid, actor.service_sid)
            member = store.create_member(
                actor.service_sid,
                channel.sid,
                actor.identity,
                role_sid=service.config.default_channel_creator_role_sid,
            )
            events.append(joined(actor.service_sid, actor.identity, rendered))
        if channel.type == "public":
            events.append(service_event("channel_added", actor.service_sid, channel=rendered))
        if member is not None:
            events.append(member_event(actor, "member_joined", member))
        return core.done("create_channel", actor, Outcome(rendered, events))


def update_channel(core: Core, actor: Actor, ref: str, changes: dict[str, Any]) -> Outcome:
    """Change a channel's names, attributes or dates; a user needs their role's permission
    for each change."""
    subject = None
    if actor.identity is not None:
        channel = subject = access.channel(core, actor, ref)
        member = access.membership(core, actor, channel, ref=ref)
        if {"friendly_name", "unique_name"} & changes.keys():
            access.require(core, actor, member, "editChannelName")
        if "attributes" in changes:
            access.require(core, actor, member, "editChannelAttributes")
    changes = core.before("update_channel", actor, changes, subject)
    with core.atomic():
        channel = core.store.update_channel(actor.service_sid, ref, **changes)
        rendered = render.channel(channel, actor.account_sid, actor.urls)
        event = channel_event("channel_updated", channel.sid, channel=rendered)
        return core.done("update_channel", actor, Outcome(rendered, [event]))


def delete_channel(core: Core, actor: Actor, ref: str) -> Outcome:
    """Remove a channel with its members, messages and invites."""
    channel = access.channel(core, actor, ref)
    if actor.identity is not None:
        member = access.membership(core, actor, channel, ref=ref)
        access.require(core, actor, member, "destroyChannel")
    core.before("delete_channel", actor, {"channel_sid": channel.sid}, channel)
    rendered = render.channel(channel, actor.account_sid, actor.urls)
    with core.atomic():
        # The hooks first, while the channel's own webhooks are still there to be read; the
        # delete commits with what they queue.
        outcome = core.done("delete_channel", actor, Outcome(rendered, [removed(rendered)]))
        core.store.delete_channel(actor.service_sid, channel.sid)
        return outcome
