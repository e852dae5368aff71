"""``/v2/Services/{ServiceSid}/Channels`` with their Members, Messages and Invites.

Every path under a channel takes its SID or its unique name, and members take a SID or an
identity, as Twilio's do. Writes are chat operations (``hubbub.chat``), acted by the
application's server; these handlers read Twilio's parameters and answer.
"""

from __future__ import annotations

from typing import Any

from hubbub.chat import channels, fields, members, messages, render
from hubbub.chat.errors import invalid
from hubbub.chat.fields import MAX_IDENTITY, MAX_INDEX, MAX_NAME
from hubbub.store.records import ChannelType, Order
from hubbub.web.endpoint import Call, Result, Table
from hubbub.web.paging import envelope, page_request
from hubbub.web.params import Params
from hubbub.web.rest.users import identity_of

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


# -- channels ---------------------------------------------------------------------------------
def create_channel(call: Call) -> Result:
    form = call.form
    values = {
        "friendly_name": form.text("FriendlyName", max_length=MAX_NAME),
        "unique_name": _unique_name(form),
        "attributes": form.attributes() or "{}",
        "type": _CHANNEL_TYPES[form.choice("Type", _CHANNEL_TYPES) or "public"],
        "created_by": form.text("CreatedBy", max_length=MAX_IDENTITY),
        **_dates(form),
    }
    return 201, call.publish(channels.create_channel(call.ctx.core, call.actor(), values))


def fetch_channel(call: Call) -> Result:
    channel = call.ctx.store.get_channel(call.service_sid(), call.path("Sid"))
    return 200, render.channel(channel, call.account_sid, call.urls)


def update_channel(call: Call) -> Result:
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
    outcome = channels.update_channel(call.ctx.core, call.actor(), call.path("Sid"), changes)
    return 200, call.publish(outcome)


def delete_channel(call: Call) -> Result:
    call.publish(channels.delete_channel(call.ctx.core, call.actor(), call.path("Sid")))
    return 204, None


def list_channels(call: Call) -> Result:
    query = call.query
    page = page_request(query, ("Type",))
    types: list[ChannelType] = []
    for kind in query.repeated("Type", max_length=16):
        if kind not in _CHANNEL_TYPES:
            raise invalid(f"Type must be public or private, not {kind!r}")
        types.append(_CHANNEL_TYPES[kind])
    found = call.ctx.store.list_channels(
        call.service_sid(), types=types, limit=page.size, cursor=page.token
    )
    items = [render.channel(channel, call.account_sid, call.urls) for channel in found.items]
    return 200, envelope("channels", items, page, call.url, found.next_cursor)


# -- members ----------------------------------------------------------------------------------
def add_member(call: Call) -> Result:
    form = call.form
    values = {
        "identity": identity_of(form),
        "role_sid": form.text("RoleSid", max_length=34),
        "last_consumed_message_index": form.integer(
            "LastConsumedMessageIndex", minimum=0, maximum=MAX_INDEX
        ),
        "last_consumption_timestamp": form.timestamp("LastConsumptionTimestamp"),
        "attributes": form.attributes() or "{}",
        **_dates(form),
    }
    outcome = members.add_member(call.ctx.core, call.actor(), call.path("ChannelSid"), values)
    return 201, call.publish(outcome)


def fetch_member(call: Call) -> Result:
    member = call.ctx.store.get_member(
        call.service_sid(), call.path("ChannelSid"), call.path("Sid")
    )
    return 200, render.member(member, call.account_sid, call.urls)


def update_member(call: Call) -> Result:
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
    outcome = members.update_member(
        call.ctx.core, call.actor(), call.path("ChannelSid"), call.path("Sid"), changes
    )
    return 200, call.publish(outcome)


def remove_member(call: Call) -> Result:
    core, actor = call.ctx.core, call.actor()
    call.publish(members.remove_member(core, actor, call.path("ChannelSid"), call.path("Sid")))
    return 204, None


def list_members(call: Call) -> Result:
    query = call.query
    page = page_request(query, ("Identity",))
    found = call.ctx.store.list_members(
        call.service_sid(),
        call.path("ChannelSid"),
        identities=query.repeated("Identity", max_length=MAX_IDENTITY),
        limit=page.size,
        cursor=page.token,
    )
    items = [render.member(member, call.account_sid, call.urls) for member in found.items]
    return 200, envelope("members", items, page, call.url, found.next_cursor)


# -- messages ---------------------------------------------------------------------------------
def send_message(call: Call) -> Result:
    form = call.form
    values = {
        "body": _body(form) or "",
        "from_": form.text("From", max_length=MAX_IDENTITY),
        "attributes": form.attributes() or "{}",
        "last_updated_by": form.text("LastUpdatedBy", max_length=MAX_IDENTITY),
        **_dates(form),
    }
    if (media_sid := form.text("MediaSid", max_length=34)) is not None:
        values["media_sid"] = media_sid
    outcome = messages.send_message(call.ctx.core, call.actor(), call.path("ChannelSid"), values)
    return 201, call.publish(outcome)


def fetch_message(call: Call) -> Result:
    message = call.ctx.store.get_message(
        call.service_sid(), call.path("ChannelSid"), call.path("Sid")
    )
    return 200, render.message(message, call.account_sid, call.urls)


def update_message(call: Call) -> Result:
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
    outcome = messages.edit_message(
        call.ctx.core, call.actor(), call.path("ChannelSid"), call.path("Sid"), changes
    )
    return 200, call.publish(outcome)


def delete_message(call: Call) -> Result:
    core, actor = call.ctx.core, call.actor()
    call.publish(messages.remove_message(core, actor, call.path("ChannelSid"), call.path("Sid")))
    return 204, None


def list_messages(call: Call) -> Result:
    query = call.query
    page = page_request(query, ("Order",))
    order = _ORDERS[query.choice("Order", _ORDERS) or "asc"]
    found = call.ctx.store.list_messages(
        call.service_sid(),
        call.path("ChannelSid"),
        order=order,
        limit=page.size,
        cursor=page.token,
    )
    items = [render.message(message, call.account_sid, call.urls) for message in found.items]
    return 200, envelope("messages", items, page, call.url, found.next_cursor)


# -- invites ----------------------------------------------------------------------------------
def create_invite(call: Call) -> Result:
    form = call.form
    values = {"identity": identity_of(form), "role_sid": form.text("RoleSid", max_length=34)}
    outcome = members.invite(call.ctx.core, call.actor(), call.path("ChannelSid"), values)
    return 201, call.publish(outcome)


def fetch_invite(call: Call) -> Result:
    found = call.ctx.store.get_invite(call.service_sid(), call.path("ChannelSid"), call.path("Sid"))
    return 200, render.invite(found, call.account_sid, call.urls)


def delete_invite(call: Call) -> Result:
    core, actor = call.ctx.core, call.actor()
    call.publish(members.delete_invite(core, actor, call.path("ChannelSid"), call.path("Sid")))
    return 204, None


def list_invites(call: Call) -> Result:
    query = call.query
    page = page_request(query, ("Identity",))
    found = call.ctx.store.list_invites(
        call.service_sid(),
        call.path("ChannelSid"),
        identities=query.repeated("Identity", max_length=MAX_IDENTITY),
        limit=page.size,
        cursor=page.token,
    )
    items = [render.invite(item, call.account_sid, call.urls) for item in found.items]
    return 200, envelope("invites", items, page, call.url, found.next_cursor)


_CHANNELS = "/v2/Services/{ServiceSid}/Channels"
_ONE = _CHANNELS + "/{ChannelSid}"
# Starlette tries routes in order: the busiest paths (messages) first.
TABLE: Table = [
    (_ONE + "/Messages", "POST", send_message),
    (_ONE + "/Messages", "GET", list_messages),
    (_ONE + "/Messages/{Sid}", "GET", fetch_message),
    (_ONE + "/Messages/{Sid}", "POST", update_message),
    (_ONE + "/Messages/{Sid}", "DELETE", delete_message),
    (_ONE + "/Members", "GET", list_members),
    (_ONE + "/Members", "POST", add_member),
    (_ONE + "/Members/{Sid}", "GET", fetch_member),
    (_ONE + "/Members/{Sid}", "POST", update_member),
    (_ONE + "/Members/{Sid}", "DELETE", remove_member),
    (_ONE + "/Invites", "GET", list_invites),
    (_ONE + "/Invites", "POST", create_invite),
    (_ONE + "/Invites/{Sid}", "GET", fetch_invite),
    (_ONE + "/Invites/{Sid}", "DELETE", delete_invite),
    (_CHANNELS, "GET", list_channels),
    (_CHANNELS, "POST", create_channel),
    (_CHANNELS + "/{Sid}", "GET", fetch_channel),
    (_CHANNELS + "/{Sid}", "POST", update_channel),
    (_CHANNELS + "/{Sid}", "DELETE", delete_channel),
]
