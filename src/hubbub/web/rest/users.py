"""``/v2/Services/{ServiceSid}/Users`` and each user's ``/Channels``."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from hubbub.realtime.chat import (
    USER_DELETED,
    channel_event,
    channel_sids,
    user_event,
    user_updated,
)
from hubbub.web import fields, render
from hubbub.web.context import Context
from hubbub.web.endpoint import Call
from hubbub.web.fields import MAX_INDEX, MAX_NAME
from hubbub.web.paging import envelope, page_request
from hubbub.web.params import Params

Result = tuple[int, dict[str, Any] | None]


def identity_of(form: Params, name: str = "Identity") -> str:
    """A required identity: case-sensitive, non-empty, at most 256 characters, not a SID."""
    return fields.identity(form.required_text(name, max_length=1 << 16), name)


def routes(ctx: Context) -> list[Route]:
    def create(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        form = call.form
        user = ctx.store.create_user(
            service_sid,
            identity_of(form),
            role_sid=form.text("RoleSid", max_length=34),
            friendly_name=form.text("FriendlyName", max_length=MAX_NAME),
            attributes=form.attributes() or "{}",
        )
        return 201, render.user(user, call.account_sid, call.urls)

    def fetch(call: Call) -> Result:
        user = ctx.store.get_user(ctx.service_sid(call), call.path("Sid"))
        return 200, render.user(user, call.account_sid, call.urls)

    def update(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        form = call.form
        changes: dict[str, Any] = {}
        if (role_sid := form.text("RoleSid", max_length=34)) is not None:
            changes["role_sid"] = role_sid
        if (attributes := form.attributes()) is not None:
            changes["attributes"] = attributes
        if "FriendlyName" in form:
            changes["friendly_name"] = form.text("FriendlyName", max_length=MAX_NAME) or None
        user = ctx.store.update_user(service_sid, call.path("Sid"), **changes)
        rendered = render.user(user, call.account_sid, call.urls)
        ctx.publish(user_updated(rendered, channel_sids(ctx.store, service_sid, user.identity)))
        return 200, rendered

    def delete(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        user = ctx.store.get_user(service_sid, call.path("Sid"))
        members = [
            ctx.store.get_member(service_sid, channel_sid, user.identity)
            for channel_sid in channel_sids(ctx.store, service_sid, user.identity)
        ]
        ctx.store.delete_user(service_sid, user.sid)
        for member in members:
            rendered = render.member(member, call.account_sid, call.urls)
            ctx.publish(channel_event("member_left", member.channel_sid, member=rendered))
        ctx.publish(user_event(USER_DELETED, service_sid, user.identity))
        return 204, None

    def listing(call: Call) -> Result:
        page = page_request(call.query)
        found = ctx.store.list_users(ctx.service_sid(call), limit=page.size, cursor=page.token)
        items = [render.user(user, call.account_sid, call.urls) for user in found.items]
        return 200, envelope("users", items, page, call.url, found.next_cursor)

    def list_channels(call: Call) -> Result:
        page = page_request(call.query)
        found = ctx.store.list_user_channels(
            ctx.service_sid(call), call.path("UserSid"), limit=page.size, cursor=page.token
        )
        items = [render.user_channel(item, call.account_sid, call.urls) for item in found.items]
        return 200, envelope("channels", items, page, call.url, found.next_cursor)

    def fetch_channel(call: Call) -> Result:
        found = ctx.store.get_user_channel(
            ctx.service_sid(call), call.path("UserSid"), call.path("ChannelSid")
        )
        return 200, render.user_channel(found, call.account_sid, call.urls)

    def update_channel(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        form = call.form
        user = ctx.store.get_user(service_sid, call.path("UserSid"))
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
        ctx.store.update_member(service_sid, call.path("ChannelSid"), user.identity, **changes)
        found = ctx.store.get_user_channel(service_sid, user.sid, call.path("ChannelSid"))
        return 200, render.user_channel(found, call.account_sid, call.urls)

    def leave_channel(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        user = ctx.store.get_user(service_sid, call.path("UserSid"))
        ctx.store.delete_member(service_sid, call.path("ChannelSid"), user.identity)
        return 204, None

    users = "/v2/Services/{ServiceSid}/Users"
    channels = users + "/{UserSid}/Channels"
    return [
        Route(users, ctx.endpoint(listing), methods=["GET"]),
        Route(users, ctx.endpoint(create), methods=["POST"]),
        Route(users + "/{Sid}", ctx.endpoint(fetch), methods=["GET"]),
        Route(users + "/{Sid}", ctx.endpoint(update), methods=["POST"]),
        Route(users + "/{Sid}", ctx.endpoint(delete), methods=["DELETE"]),
        Route(channels, ctx.endpoint(list_channels), methods=["GET"]),
        Route(channels + "/{ChannelSid}", ctx.endpoint(fetch_channel), methods=["GET"]),
        Route(channels + "/{ChannelSid}", ctx.endpoint(update_channel), methods=["POST"]),
        Route(channels + "/{ChannelSid}", ctx.endpoint(leave_channel), methods=["DELETE"]),
    ]
