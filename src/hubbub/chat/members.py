"""Membership actions: join or add, update, read horizon, leave or remove, invite, decline.

A member joining or leaving is told to the channel (``member_joined``/``member_left``) and
to the user's own connections (``channel_joined``/``channel_left``), which start or stop
hearing the channel.
"""

from __future__ import annotations

from typing import Any

from hubbub.chat import access, render
from hubbub.chat.core import Actor, Core, Outcome
from hubbub.chat.events import Event, channel_event, joined, left, user_event
from hubbub.store import NotFound
from hubbub.store.records import Channel, Member


def member_event(actor: Actor, kind: str, member: Member) -> Event:
    rendered = render.member(member, actor.account_sid, actor.urls)
    return channel_event(kind, member.channel_sid, member=rendered)


def _channel(actor: Actor, channel: Channel) -> dict[str, Any]:
    return render.channel(channel, actor.account_sid, actor.urls)


def add_member(core: Core, actor: Actor, ref: str, values: dict[str, Any]) -> Outcome:
    """The application's server adds ``values["identity"]`` to the channel (REST)."""
    values = core.before("add_member", actor, values)
    store = core.store
    with core.atomic():
        member = store.create_member(actor.service_sid, ref, values.pop("identity"), **values)
        channel = store.get_channel(actor.service_sid, member.channel_sid)
        return core.done("add_member", actor, _added(actor, member, channel))


def join(core: Core, actor: Actor, ref: str) -> Outcome:
    """The acting user joins: a public channel, or a private one they are invited to (with
    the invite's role; the invites are used up). Joining again answers with the membership
    they have, and changes nothing: Twilio's SDKs create a channel, whose creator is in it,
    and then join it."""
    store = core.store
    identity = actor.identity or ""
    channel = access.channel(core, actor, ref)
    try:
        member = store.get_member(actor.service_sid, channel.sid, identity)
    except NotFound:
        pass
    else:
        return Outcome(render.member(member, actor.account_sid, actor.urls))
    invites = store.list_invites(actor.service_sid, channel.sid, identities=[identity]).items
    if channel.type == "private" and not invites:
        raise access.hidden(ref)
    access.require_service(core, actor, "joinChannel")
    values = core.before("add_member", actor, {"identity": identity}, channel)
    with core.atomic():
        member = store.create_member(
            actor.service_sid,
            channel.sid,
            values["identity"],
            role_sid=invites[0].role_sid if invites else None,
        )
        for invite in invites:
            store.delete_invite(actor.service_sid, channel.sid, invite.sid)
        return core.done("add_member", actor, _added(actor, member, channel))


def _added(actor: Actor, member: Member, channel: Channel) -> Outcome:
    rendered = render.member(member, actor.account_sid, actor.urls)
    events = [
        channel_event("member_joined", member.channel_sid, member=rendered),
        joined(actor.service_sid, member.identity, _channel(actor, channel)),
    ]
    return Outcome(rendered, events)


def update_member(
    core: Core, actor: Actor, ref: str, member_ref: str, changes: dict[str, Any]
) -> Outcome:
    """Change a membership's role, read horizon, attributes or dates (REST)."""
    changes = core.before("update_member", actor, changes)
    with core.atomic():
        member = core.store.update_member(actor.service_sid, ref, member_ref, **changes)
        # member_updated is also what tells each process to forget the member's cached role.
        event = member_event(actor, "member_updated", member)
        return core.done("update_member", actor, Outcome(event.frame["member"], [event]))


def set_read_horizon(
    core: Core, actor: Actor, ref: str, index: int, *, backwards: bool = False
) -> Outcome:
    """The acting user has read up to message ``index``: never past the newest message (or
    messages sent later would count as read), and never backwards unless ``backwards`` (Twilio's
    SDKs' ``update…Index``, which may mark messages unread again)."""
    channel = access.channel(core, actor, ref)
    member = access.membership(core, actor, channel, ref=ref)
    index = min(index, channel.next_message_index - 1)
    last = member.last_consumed_message_index
    if not (index >= 0 and (last is None or index > last or (backwards and index != last))):
        event = member_event(actor, "member_updated", member)
        return Outcome(event.frame["member"], [event])  # nothing changed
    changes: dict[str, Any] = {"last_consumed_message_index": index}
    changes = core.before("update_member", actor, changes, member)
    with core.atomic():
        member = core.store.update_member(actor.service_sid, channel.sid, member.sid, **changes)
        event = member_event(actor, "member_updated", member)
        return core.done("update_member", actor, Outcome(event.frame["member"], [event]))


def remove_member(core: Core, actor: Actor, ref: str, member_ref: str | None = None) -> Outcome:
    """Take a member out of the channel: ``member_ref`` (SID or identity), or the acting
    user themselves, who leaves."""
    store = core.store
    if actor.identity is not None and member_ref is None:
        channel = access.channel(core, actor, ref)
        member = access.membership(core, actor, channel, ref=ref)
        access.require(core, actor, member, "leaveChannel")
    else:
        member = store.get_member(actor.service_sid, ref, member_ref or "")
        channel = store.get_channel(actor.service_sid, member.channel_sid)
    core.before("remove_member", actor, {"member_sid": member.sid}, member)
    with core.atomic():
        store.delete_member(actor.service_sid, channel.sid, member.sid)
        rendered = render.member(member, actor.account_sid, actor.urls)
        events = [
            channel_event("member_left", channel.sid, member=rendered),
            left(actor.service_sid, member.identity, _channel(actor, channel)),
        ]
        return core.done("remove_member", actor, Outcome(rendered, events))


def invite(core: Core, actor: Actor, ref: str, values: dict[str, Any]) -> Outcome:
    """Invite ``values["identity"]`` to the channel; the invitee hears of it."""
    store = core.store
    if actor.identity is not None:
        channel = access.channel(core, actor, ref)
        access.require(
            core, actor, access.membership(core, actor, channel, ref=ref), "inviteMember"
        )
        values = {**values, "created_by": actor.identity}
    values = core.before("invite", actor, values)
    with core.atomic():
        created = store.create_invite(actor.service_sid, ref, values.pop("identity"), **values)
        channel = store.get_channel(actor.service_sid, created.channel_sid)
        event = user_event(
            "channel_invited", actor.service_sid, created.identity, channel=_channel(actor, channel)
        )
        rendered = render.invite(created, actor.account_sid, actor.urls)
        return core.done("invite", actor, Outcome(rendered, [event]))


def decline(core: Core, actor: Actor, ref: str) -> Outcome:
    """The acting user turns down their invites to the channel."""
    store = core.store
    identity = actor.identity or ""
    channel = access.channel(core, actor, ref)
    invites = store.list_invites(actor.service_sid, channel.sid, identities=[identity]).items
    if not invites and channel.type == "private":
        access.membership(core, actor, channel, ref=ref)  # invisible to anyone else
    if invites:
        core.before("delete_invite", actor, {"invite_sids": [i.sid for i in invites]})
    with core.atomic():
        for found in invites:
            store.delete_invite(actor.service_sid, channel.sid, found.sid)
        # The user's own connections (and Twilio's SDKs, through their channel map) hear that
        # the invitation is gone, as when they leave a channel.
        events = [left(actor.service_sid, identity, _channel(actor, channel))] if invites else []
        return core.done("delete_invite", actor, Outcome(None, events))


def delete_invite(core: Core, actor: Actor, ref: str, sid: str) -> Outcome:
    """Withdraw an invite (REST); the invitee hears of it as of a decline."""
    core.before("delete_invite", actor, {"invite_sids": [sid]})
    store = core.store
    with core.atomic():
        invite = store.get_invite(actor.service_sid, ref, sid)
        store.delete_invite(actor.service_sid, ref, sid)
        channel = store.get_channel(actor.service_sid, invite.channel_sid)
        events = [left(actor.service_sid, invite.identity, _channel(actor, channel))]
        return core.done("delete_invite", actor, Outcome(None, events))
