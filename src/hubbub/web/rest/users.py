"""``/v2/Services/{ServiceSid}/Users`` and each user's ``/Channels``."""

from __future__ import annotations

from typing import Any

from hubbub.chat import fields, members, render, users
from hubbub.chat.fields import MAX_INDEX, MAX_NAME
from hubbub.store.records import User
from hubbub.web.endpoint import Call, Result, Table
from hubbub.web.paging import envelope, page_request
from hubbub.web.params import Params


def identity_of(form: Params, name: str = "Identity") -> str:
    """A required identity: case-sensitive, non-empty, at most 256 characters, not a SID."""
    return fields.identity(form.required_text(name, max_length=1 << 16), name)


def create_user(call: Call) -> Result:
    form = call.form
    user = call.ctx.store.create_user(
        call.service_sid(),
        identity_of(form),
        role_sid=form.text("RoleSid", max_length=34),
        friendly_name=form.text("FriendlyName", max_length=MAX_NAME),
        attributes=form.attributes() or "{}",
    )
    return 201, _rendered(call, user)


def fetch_user(call: Call) -> Result:
    user = call.ctx.store.get_user(call.service_sid(), call.path("Sid"))
    return 200, _rendered(call, user)


def update_user(call: Call) -> Result:
    form = call.form
    changes: dict[str, Any] = {}
    if (role_sid := form.text("RoleSid", max_length=34)) is not None:
        changes["role_sid"] = role_sid
    if (attributes := form.attributes()) is not None:
        changes["attributes"] = attributes
    if "FriendlyName" in form:
        changes["friendly_name"] = form.text("FriendlyName", max_length=MAX_NAME) or None
    outcome = users.update_user(call.ctx.core, call.actor(), call.path("Sid"), changes)
    return 200, call.publish(outcome)


def delete_user(call: Call) -> Result:
    call.publish(users.delete_user(call.ctx.core, call.actor(), call.path("Sid")))
    return 204, None


def list_users(call: Call) -> Result:
    page = page_request(call.query)
    found = call.ctx.store.list_users(call.service_sid(), limit=page.size, cursor=page.token)
    shown = users.reachability(call.ctx.store, call.account_sid, call.service_sid())
    items = [
        render.user(user, call.account_sid, call.urls, reachability=shown) for user in found.items
    ]
    return 200, envelope("users", items, page, call.url, found.next_cursor)


def list_user_channels(call: Call) -> Result:
    page = page_request(call.query)
    found = call.ctx.store.list_user_channels(
        call.service_sid(), call.path("UserSid"), limit=page.size, cursor=page.token
    )
    items = [render.user_channel(item, call.account_sid, call.urls) for item in found.items]
    return 200, envelope("channels", items, page, call.url, found.next_cursor)


def fetch_user_channel(call: Call) -> Result:
    found = call.ctx.store.get_user_channel(
        call.service_sid(), call.path("UserSid"), call.path("ChannelSid")
    )
    return 200, render.user_channel(found, call.account_sid, call.urls)


def update_user_channel(call: Call) -> Result:
    """The user's view of one of their channels: notification level and read horizon, which
    are their membership's."""
    store, actor = call.ctx.store, call.actor()
    form = call.form
    user = store.get_user(actor.service_sid, call.path("UserSid"))
    changes: dict[str, Any] = {}
    level = form.choice("NotificationLevel", ("default", "muted"))
    if level is not None:
        changes["notification_level"] = level
    index = form.integer("LastConsumedMessageIndex", minimum=0, maximum=MAX_INDEX)
    if index is not None:
        changes["last_consumed_message_index"] = index
    consumed_at = form.timestamp("LastConsumptionTimestamp")
    if consumed_at is not None:
        changes["last_consumption_timestamp"] = consumed_at
    channel_ref = call.path("ChannelSid")
    call.publish(members.update_member(call.ctx.core, actor, channel_ref, user.identity, changes))
    found = store.get_user_channel(actor.service_sid, user.sid, channel_ref)
    return 200, render.user_channel(found, call.account_sid, call.urls)


def leave_user_channel(call: Call) -> Result:
    store, actor = call.ctx.store, call.actor()
    user = store.get_user(actor.service_sid, call.path("UserSid"))
    outcome = members.remove_member(call.ctx.core, actor, call.path("ChannelSid"), user.identity)
    call.publish(outcome)
    return 204, None


_USERS = "/v2/Services/{ServiceSid}/Users"
_CHANNELS = _USERS + "/{UserSid}/Channels"
TABLE: Table = [
    (_USERS, "GET", list_users),
    (_USERS, "POST", create_user),
    (_USERS + "/{Sid}", "GET", fetch_user),
    (_USERS + "/{Sid}", "POST", update_user),
    (_USERS + "/{Sid}", "DELETE", delete_user),
    (_CHANNELS, "GET", list_user_channels),
    (_CHANNELS + "/{ChannelSid}", "GET", fetch_user_channel),
    (_CHANNELS + "/{ChannelSid}", "POST", update_user_channel),
    (_CHANNELS + "/{ChannelSid}", "DELETE", leave_user_channel),
]


def _rendered(call: Call, user: User) -> dict[str, Any]:
    shown = users.reachability(call.ctx.store, call.account_sid, call.service_sid())
    return render.user(user, call.account_sid, call.urls, reachability=shown)
