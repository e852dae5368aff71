"""User actions: update, delete, and reachability (online or not), which sessions set."""

from __future__ import annotations

from typing import Any

from hubbub.chat import access, render
from hubbub.chat.core import Actor, Core, Outcome
from hubbub.chat.errors import ApiError
from hubbub.chat.events import Event, channel_event, user_deleted, user_updated
from hubbub.chat.render import Urls
from hubbub.store import NotFound, Store
from hubbub.store.errors import StoreError
from hubbub.store.records import ServiceNotifications, User


def channel_sids(store: Store, service_sid: str, identity: str) -> list[str]:
    """The SIDs of every channel ``identity`` has joined."""
    sids: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list_user_channels(service_sid, identity, limit=1000, cursor=cursor)
        sids += [item.channel_sid for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return sids


def reachability(store: Store, account_sid: str, service_sid: str) -> bool:
    """Whether the service tracks reachability (whether its users' presence may be shown);
    ``False`` for a service deleted meanwhile."""
    try:
        return store.get_service(account_sid, service_sid).config.reachability_enabled
    except NotFound:
        return False


def ensure_user(store: Store, service_sid: str, identity: str) -> User:
    """The user of a verified token, created on first sight as Twilio does."""
    try:
        return store.get_user(service_sid, identity)
    except NotFound:
        pass
    try:
        return store.create_user(service_sid, identity)
    except StoreError:  # created meanwhile by another connection
        return store.get_user(service_sid, identity)


def update_user(core: Core, actor: Actor, ref: str, changes: dict[str, Any]) -> Outcome:
    """Change a user's role, friendly name or attributes (a user, names and attributes as
    their role allows). Everyone who shares a channel with them hears of it."""
    store = core.store
    subject = None
    if actor.identity is not None:
        if "role_sid" in changes:
            raise ApiError(403, 50107, f"{actor.identity} may not change roles")
        subject = store.get_user(actor.service_sid, ref)
        own = subject.identity == actor.identity
        access.require_service(core, actor, "editOwnUserInfo" if own else "editAnyUserInfo")
    changes = core.before("update_user", actor, changes, subject)
    with core.atomic():
        user = store.update_user(actor.service_sid, ref, **changes)
        shown = reachability(store, actor.account_sid, actor.service_sid)
        rendered = render.user(user, actor.account_sid, actor.urls, reachability=shown)
        event = user_updated(rendered, channel_sids(store, actor.service_sid, user.identity))
        return core.done("update_user", actor, Outcome(rendered, [event]))


def delete_user(core: Core, actor: Actor, ref: str) -> Outcome:
    """Remove a user with their memberships: their channels hear each one leave, and their
    sessions end."""
    store = core.store
    user = store.get_user(actor.service_sid, ref)
    members = [
        store.get_member(actor.service_sid, channel_sid, user.identity)
        for channel_sid in channel_sids(store, actor.service_sid, user.identity)
    ]
    core.before("delete_user", actor, {"user_sid": user.sid}, user)
    with core.atomic():
        store.delete_user(actor.service_sid, user.sid)
        events: list[Event] = []
        for member in members:
            rendered = render.member(member, actor.account_sid, actor.urls)
            events.append(channel_event("member_left", member.channel_sid, member=rendered))
        events.append(user_deleted(actor.service_sid, user.identity))
        shown = reachability(store, actor.account_sid, actor.service_sid)
        rendered_user = render.user(user, actor.account_sid, actor.urls, reachability=shown)
        return core.done("delete_user", actor, Outcome(rendered_user, events))


def set_online(
    core: Core,
    actor: Actor,
    channel_sids: list[str],
    online: bool,
    *,
    node: str,
    now: float,
    lease_until: float,
) -> list[Event]:
    """The acting user's first connection on ``node`` opened (``online``), or their last one
    there closed. If that makes them reachable or not anywhere, and the service tracks it,
    those who share a channel with them hear of it.

    Connections are recorded too where the service sends push notifications, which go only
    to users with no connection open (``hubbub.notify``); they are told nobody then."""
    store = core.store
    identity = actor.identity or ""
    try:
        if online:
            # Read fresh: a service's settings change over REST without an event to say so.
            config = store.get_service(actor.account_sid, actor.service_sid).config
            if not (config.reachability_enabled or _pushes(config.notifications)):
                return []
            user = store.join_presence(
                node, actor.service_sid, identity, now=now, lease_until=lease_until
            )
        else:  # always: the settings may have changed since they came
            user = store.leave_presence(node, actor.service_sid, identity, now=now)
            if user is not None:
                config = store.get_service(actor.account_sid, actor.service_sid).config
    except NotFound:  # the service or the user was deleted meanwhile
        return []
    if user is None or not config.reachability_enabled:
        return []
    rendered = render.user(user, actor.account_sid, actor.urls, reachability=True)
    events = [user_updated(rendered, channel_sids)]
    return core.recorded(actor, events)


def went_away(core: Core, account_sid: str, user: User, urls: Urls) -> list[Event]:
    """``user_updated`` for a user whose every node went silent; nothing where the service
    does not track reachability (presence is recorded for push notifications then)."""
    if not reachability(core.store, account_sid, user.service_sid):
        return []
    channels = channel_sids(core.store, user.service_sid, user.identity)
    rendered = render.user(user, account_sid, urls, reachability=True)
    events = [user_updated(rendered, channels)]
    return core.recorded(Actor(account_sid, user.service_sid, urls), events)


def _pushes(notifications: ServiceNotifications) -> bool:
    """Whether the service sends push notifications of any type."""
    return any(
        setting.enabled
        for setting in (
            notifications.new_message,
            notifications.added_to_channel,
            notifications.removed_from_channel,
            notifications.invited_to_channel,
        )
    )
