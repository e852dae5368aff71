"""``/v2/Services/{ServiceSid}/Channels`` with their Members, Messages and Invites.

Every path under a channel takes its SID or its unique name, and members take a SID or an
identity, as Twilio's do.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from hubbub.realtime.chat import Event, channel_event, user_event
from hubbub.store.records import ChannelType, Order
from hubbub.web import fields, render
from hubbub.web.context import Context
from hubbub.web.endpoint import Call
from hubbub.web.errors import invalid
from hubbub.web.fields import MAX_IDENTITY, MAX_INDEX, MAX_NAME
from hubbub.web.paging import envelope, page_request
from hubbub.web.params import Params
from hubbub.web.rest.users import identity_of

Result = tuple[int, dict[str, Any] | None]
# Parameter values to the store's literal types: checked and narrowed in one lookup.
_CHANNEL_TYPES: dict[str, ChannelType] = {"public": "public", "private": "private"}
_ORDERS: dict[str, Order] = {"asc": "asc", "desc": "desc"}


def _unique_name(form: Params) -> str | None:
    """The unique name given, or ``None`` for none (an empty one clears it)."""
    name = form.text("UniqueName", max_length=MAX_NAME) or None
    return None if name is None else fields.unique_name(name, "UniqueName")


def _body(form: Params, name: str = "Body") -> str | None:
    body = form.text(name, max_length=1 << 20)
    return None if body is None else fields.body(body, name)


def _dates(form: Params) -> dict[str, Any]:
    dates: dict[str, Any] = {}
    if (created := form.timestamp("DateCreated")) is not None:
        dates["date_created"] = created
    if (updated := form.timestamp("DateUpdated")) is not None:
        dates["date_updated"] = updated
    return dates


def routes(ctx: Context) -> list[Route]:
    store = ctx.store

    # -- channels ---------------------------------------------------------------------------
    def create(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        form = call.form
        kind = _CHANNEL_TYPES[form.choice("Type", _CHANNEL_TYPES) or "public"]
        channel = store.create_channel(
            service_sid,
            friendly_name=form.text("FriendlyName", max_length=MAX_NAME),
            unique_name=_unique_name(form),
            attributes=form.attributes() or "{}",
            type=kind,
            created_by=form.text("CreatedBy", max_length=MAX_IDENTITY) or "system",
            **_dates(form),
        )
        rendered = render.channel(channel, call.account_sid, call.urls)
        if channel.type == "public":
            # Public channels are announced to the whole service, as when a client creates one.
            ctx.publish(
                Event(("service", service_sid), {"type": "channel_added", "channel": rendered})
            )
        return 201, rendered

    def fetch(call: Call) -> Result:
        channel = store.get_channel(ctx.service_sid(call), call.path("Sid"))
        return 200, render.channel(channel, call.account_sid, call.urls)

    def update(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        form = call.form
        changes: dict[str, Any] = _dates(form)
        if "FriendlyName" in form:
            changes["friendly_name"] = form.text("FriendlyName", max_length=MAX_NAME) or None
        if "UniqueName" in form:
            changes["unique_name"] = _unique_name(form)
        if (attributes := form.attributes()) is not None:
            changes["attributes"] = attributes
        if (created_by := form.text("CreatedBy", max_length=MAX_IDENTITY)) is not None:
            changes["created_by"] = created_by
        channel = store.update_channel(service_sid, call.path("Sid"), **changes)
        rendered = render.channel(channel, call.account_sid, call.urls)
        ctx.publish(channel_event("channel_updated", channel.sid, channel=rendered))
        return 200, rendered

    def delete(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        channel = store.get_channel(service_sid, call.path("Sid"))
        store.delete_channel(service_sid, channel.sid)
        rendered = render.channel(channel, call.account_sid, call.urls)
        ctx.publish(channel_event("channel_removed", channel.sid, channel=rendered))
        return 204, None

    def listing(call: Call) -> Result:
        query = call.query
        page = page_request(query, ("Type",))
        types: list[ChannelType] = []
        for kind in query.repeated("Type", max_length=16):
            if kind not in _CHANNEL_TYPES:
                raise invalid(f"Type must be public or private, not {kind!r}")
            types.append(_CHANNEL_TYPES[kind])
        found = store.list_channels(
            ctx.service_sid(call), types=types, limit=page.size, cursor=page.token
        )
        items = [render.channel(channel, call.account_sid, call.urls) for channel in found.items]
        return 200, envelope("channels", items, page, call.url, found.next_cursor)

    # -- members ----------------------------------------------------------------------------
    def add_member(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        form = call.form
        member = store.create_member(
            service_sid,
            call.path("ChannelSid"),
            identity_of(form),
            role_sid=form.text("RoleSid", max_length=34),
            last_consumed_message_index=form.integer(
                "LastConsumedMessageIndex", minimum=0, maximum=MAX_INDEX
            ),
            last_consumption_timestamp=form.timestamp("LastConsumptionTimestamp"),
            attributes=form.attributes() or "{}",
            **_dates(form),
        )
        rendered = render.member(member, call.account_sid, call.urls)
        ctx.publish(channel_event("member_joined", member.channel_sid, member=rendered))
        channel = render.channel(
            store.get_channel(service_sid, member.channel_sid), call.account_sid, call.urls
        )
        ctx.publish(user_event("channel_joined", service_sid, member.identity, channel=channel))
        return 201, rendered

    def fetch_member(call: Call) -> Result:
        member = store.get_member(ctx.service_sid(call), call.path("ChannelSid"), call.path("Sid"))
        return 200, render.member(member, call.account_sid, call.urls)

    def update_member(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        form = call.form
        changes: dict[str, Any] = _dates(form)
        if (role_sid := form.text("RoleSid", max_length=34)) is not None:
            changes["role_sid"] = role_sid
        if "LastConsumedMessageIndex" in form:
            changes["last_consumed_message_index"] = form.integer(
                "LastConsumedMessageIndex", minimum=0, maximum=MAX_INDEX
            )
        if "LastConsumptionTimestamp" in form:
            changes["last_consumption_timestamp"] = form.timestamp("LastConsumptionTimestamp")
        if (attributes := form.attributes()) is not None:
            changes["attributes"] = attributes
        member = store.update_member(
            service_sid, call.path("ChannelSid"), call.path("Sid"), **changes
        )
        rendered = render.member(member, call.account_sid, call.urls)
        # Also what tells the gateway to forget the member's cached role at once.
        ctx.publish(channel_event("member_updated", member.channel_sid, member=rendered))
        return 200, rendered

    def remove_member(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        member = store.get_member(service_sid, call.path("ChannelSid"), call.path("Sid"))
        store.delete_member(service_sid, member.channel_sid, member.sid)
        rendered = render.member(member, call.account_sid, call.urls)
        ctx.publish(channel_event("member_left", member.channel_sid, member=rendered))
        channel = render.channel(
            store.get_channel(service_sid, member.channel_sid), call.account_sid, call.urls
        )
        ctx.publish(user_event("channel_left", service_sid, member.identity, channel=channel))
        return 204, None

    def list_members(call: Call) -> Result:
        query = call.query
        page = page_request(query, ("Identity",))
        found = store.list_members(
            ctx.service_sid(call),
            call.path("ChannelSid"),
            identities=query.repeated("Identity", max_length=MAX_IDENTITY),
            limit=page.size,
            cursor=page.token,
        )
        items = [render.member(member, call.account_sid, call.urls) for member in found.items]
        return 200, envelope("members", items, page, call.url, found.next_cursor)

    # -- messages ---------------------------------------------------------------------------
    def send(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        form = call.form
        if "MediaSid" in form:
            raise invalid("MediaSid: media messages are not supported by hubbub yet")
        message = store.create_message(
            service_sid,
            call.path("ChannelSid"),
            body=_body(form) or "",
            from_=form.text("From", max_length=MAX_IDENTITY) or "system",
            attributes=form.attributes() or "{}",
            last_updated_by=form.text("LastUpdatedBy", max_length=MAX_IDENTITY),
            **_dates(form),
        )
        rendered = render.message(message, call.account_sid, call.urls)
        ctx.publish(channel_event("message_added", message.channel_sid, message=rendered))
        return 201, rendered

    def fetch_message(call: Call) -> Result:
        message = store.get_message(
            ctx.service_sid(call), call.path("ChannelSid"), call.path("Sid")
        )
        return 200, render.message(message, call.account_sid, call.urls)

    def update_message(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        form = call.form
        changes: dict[str, Any] = _dates(form)
        if (body := _body(form)) is not None:
            changes["body"] = body
        if (attributes := form.attributes()) is not None:
            changes["attributes"] = attributes
        if (sender := form.text("From", max_length=MAX_IDENTITY)) is not None:
            changes["from_"] = sender
        if "LastUpdatedBy" in form:
            changes["last_updated_by"] = form.text("LastUpdatedBy", max_length=MAX_IDENTITY) or None
        message = store.update_message(
            service_sid, call.path("ChannelSid"), call.path("Sid"), **changes
        )
        rendered = render.message(message, call.account_sid, call.urls)
        ctx.publish(channel_event("message_updated", message.channel_sid, message=rendered))
        return 200, rendered

    def delete_message(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        message = store.get_message(service_sid, call.path("ChannelSid"), call.path("Sid"))
        store.delete_message(service_sid, message.channel_sid, message.sid)
        rendered = render.message(message, call.account_sid, call.urls)
        ctx.publish(channel_event("message_removed", message.channel_sid, message=rendered))
        return 204, None

    def list_messages(call: Call) -> Result:
        query = call.query
        page = page_request(query, ("Order",))
        order = _ORDERS[query.choice("Order", _ORDERS) or "asc"]
        found = store.list_messages(
            ctx.service_sid(call),
            call.path("ChannelSid"),
            order=order,
            limit=page.size,
            cursor=page.token,
        )
        items = [render.message(message, call.account_sid, call.urls) for message in found.items]
        return 200, envelope("messages", items, page, call.url, found.next_cursor)

    # -- invites ----------------------------------------------------------------------------
    def invite(call: Call) -> Result:
        service_sid = ctx.service_sid(call)
        form = call.form
        created = store.create_invite(
            service_sid,
            call.path("ChannelSid"),
            identity_of(form),
            role_sid=form.text("RoleSid", max_length=34),
        )
        channel = render.channel(
            store.get_channel(service_sid, created.channel_sid), call.account_sid, call.urls
        )
        ctx.publish(user_event("channel_invited", service_sid, created.identity, channel=channel))
        return 201, render.invite(created, call.account_sid, call.urls)

    def fetch_invite(call: Call) -> Result:
        found = store.get_invite(ctx.service_sid(call), call.path("ChannelSid"), call.path("Sid"))
        return 200, render.invite(found, call.account_sid, call.urls)

    def delete_invite(call: Call) -> Result:
        store.delete_invite(ctx.service_sid(call), call.path("ChannelSid"), call.path("Sid"))
        return 204, None

    def list_invites(call: Call) -> Result:
        query = call.query
        page = page_request(query, ("Identity",))
        found = store.list_invites(
            ctx.service_sid(call),
            call.path("ChannelSid"),
            identities=query.repeated("Identity", max_length=MAX_IDENTITY),
            limit=page.size,
            cursor=page.token,
        )
        items = [render.invite(item, call.account_sid, call.urls) for item in found.items]
        return 200, envelope("invites", items, page, call.url, found.next_cursor)

    channels = "/v2/Services/{ServiceSid}/Channels"
    one = channels + "/{ChannelSid}"
    table: list[tuple[str, str, Any]] = [
        (one + "/Messages", "POST", send),
        (one + "/Messages", "GET", list_messages),
        (one + "/Messages/{Sid}", "GET", fetch_message),
        (one + "/Messages/{Sid}", "POST", update_message),
        (one + "/Messages/{Sid}", "DELETE", delete_message),
        (one + "/Members", "GET", list_members),
        (one + "/Members", "POST", add_member),
        (one + "/Members/{Sid}", "GET", fetch_member),
        (one + "/Members/{Sid}", "POST", update_member),
        (one + "/Members/{Sid}", "DELETE", remove_member),
        (one + "/Invites", "GET", list_invites),
        (one + "/Invites", "POST", invite),
        (one + "/Invites/{Sid}", "GET", fetch_invite),
        (one + "/Invites/{Sid}", "DELETE", delete_invite),
        (channels, "GET", listing),
        (channels, "POST", create),
        (channels + "/{Sid}", "GET", fetch),
        (channels + "/{Sid}", "POST", update),
        (channels + "/{Sid}", "DELETE", delete),
    ]
    return [Route(path, ctx.endpoint(handler), methods=[method]) for path, method, handler in table]
