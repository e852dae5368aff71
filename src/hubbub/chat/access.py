"""Who may see and do what: channel visibility, memberships and role permissions.

Only users are checked; the application's server (an actor without an identity) may do
anything in its own services. A private channel a user may not see looks missing, so that its
existence does not show.
"""

from __future__ import annotations

from hubbub.chat.core import Actor, Core
from hubbub.chat.errors import ApiError
from hubbub.store import NotFound
from hubbub.store.records import Channel, Member


def hidden(ref: str) -> NotFound:
    """What a private channel looks like to those who may not see it: missing."""
    return NotFound("Channel", ref)


def channel(core: Core, actor: Actor, ref: str, *, cached: bool = False) -> Channel:
    """The channel named by SID or unique name; ``cached`` for checks that need only its SID
    and type (counts and dates may be a moment old)."""
    if cached and core.lookups is not None:
        return core.lookups.channel(actor.service_sid, ref)
    return core.store.get_channel(actor.service_sid, ref)


def membership(
    core: Core, actor: Actor, found: Channel, *, ref: str | None = None, cached: bool = False
) -> Member:
    """The actor's membership of ``found``, which must exist."""
    identity = actor.identity or ""
    try:
        if cached and core.lookups is not None:
            return core.lookups.member(actor.service_sid, found.sid, identity)
        return core.store.get_member(actor.service_sid, found.sid, identity)
    except NotFound:
        if found.type == "private":
            raise hidden(ref or found.sid) from None
        raise ApiError(403, 50400, f"{identity} is not a member of this channel") from None


def invited(core: Core, actor: Actor, found: Channel) -> bool:
    invites = core.store.list_invites(
        actor.service_sid, found.sid, identities=[actor.identity or ""], limit=1
    )
    return bool(invites.items)


def visible(core: Core, actor: Actor, ref: str) -> Channel:
    """The channel, if the actor may see it: public, or private and theirs or invited to."""
    found = channel(core, actor, ref)
    if found.type == "private" and actor.identity is not None:
        try:
            core.store.get_member(actor.service_sid, found.sid, actor.identity)
        except NotFound:
            if not invited(core, actor, found):
                raise hidden(ref) from None
    return found


def permissions(core: Core, service_sid: str, role_sid: str) -> frozenset[str]:
    if core.lookups is not None:
        return core.lookups.permissions(service_sid, role_sid)
    return frozenset(core.store.get_role(service_sid, role_sid).permissions)


def require_service(core: Core, actor: Actor, permission: str) -> None:
    """The actor's service role must grant ``permission``."""
    if actor.identity is None:
        return
    user = core.store.get_user(actor.service_sid, actor.identity)
    if permission not in permissions(core, actor.service_sid, user.role_sid):
        raise ApiError(403, 50107, f"{actor.identity} may not {permission}")


def require(core: Core, actor: Actor, member: Member, permission: str) -> None:
    """The actor's channel role, or failing that their service role, must grant it."""
    if actor.identity is None:
        return
    if permission in permissions(core, actor.service_sid, member.role_sid):
        return
    require_service(core, actor, permission)
