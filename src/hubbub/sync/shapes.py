"""The data of the Sync objects, as Twilio's SDKs read it, from records as REST renders them.

One renderer per kind of item, used both for reads and for the events that change them, so a
client sees the same shape whichever way an item reached it. Field names are the SDKs'
(camelCase); ``attributes`` stay the JSON text REST carries, which the SDKs parse.
"""

from __future__ import annotations

from typing import Any, Literal

from hubbub.sync import objects
from hubbub.sync.objects import CHANNEL_DOCUMENT, MESSAGES, ROSTER, USER_INFO

Status = Literal["joined", "invited"]


def document(channel: dict[str, Any], last: dict[str, Any] | None) -> dict[str, Any]:
    """A channel's document: its properties, its last message, and its other objects' SIDs."""
    sid = channel["sid"]
    data: dict[str, Any] = {
        "friendlyName": channel["friendly_name"],
        "uniqueName": channel["unique_name"],
        "attributes": channel["attributes"],
        "type": channel["type"],
        "createdBy": channel["created_by"],
        "dateCreated": channel["date_created"],
        "dateUpdated": channel["date_updated"],
        "messages": objects.of(MESSAGES, sid),
        "roster": objects.of(ROSTER, sid),
    }
    if last is not None:
        data["lastMessage"] = {"index": last["index"], "timestamp": last["date_created"]}
    return data


def message_item(message: dict[str, Any]) -> dict[str, Any]:
    """An item of a channel's messages list (its index is the message's). A media message's
    file is in ``media`` (what Chat's SDKs read) and in ``medias`` (Conversations')."""
    media = message.get("media")
    item = {
        "sid": message["sid"],
        "text": message["body"],
        "author": message["from"],
        "attributes": message["attributes"],
        "timestamp": message["date_created"],
        "dateUpdated": message["date_updated"],
        "lastUpdatedBy": message["last_updated_by"],
        "type": "media" if media else "text",
        "media": None
        if not media
        else {
            "sid": media["sid"],
            "contentType": media["content_type"],
            "filename": media["filename"],
            "size": media["size"],
        },
    }
    if media:
        item["medias"] = [{**item["media"], "category": "media"}]
    return item


def member_item(member: dict[str, Any], user_sid: str | None) -> dict[str, Any]:
    """An item of a channel's roster map, under the member's SID."""
    return {
        "sid": member["sid"],
        "identity": member["identity"],
        "attributes": member["attributes"],
        "dateCreated": member["date_created"],
        "dateUpdated": member["date_updated"],
        "lastConsumedMessageIndex": member["last_consumed_message_index"],
        "lastConsumptionTimestamp": member["last_consumption_timestamp"],
        "roleSid": member["role_sid"],
        "type": "chat",
        "userInfo": None if user_sid is None else objects.of(USER_INFO, user_sid),
    }


def my_channel_item(
    channel_sid: str,
    status: Status,
    last_consumed: int | None = None,
    notification_level: str = "default",
) -> dict[str, Any]:
    """An item of a user's map of channels, under the channel's SID."""
    return {
        "status": status,
        "channel": objects.of(CHANNEL_DOCUMENT, channel_sid),
        "messages": objects.of(MESSAGES, channel_sid),
        "roster": objects.of(ROSTER, channel_sid),
        "lastConsumedMessageIndex": last_consumed,
        "notificationLevel": notification_level,
    }


def user_info_items(user: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A user's info map: name, attributes (JSON text) and reachability, by key."""
    return {
        "friendlyName": {"value": user["friendly_name"]},
        "attributes": {"value": user["attributes"]},
        "reachability": {"online": user["is_online"], "notifiable": user["is_notifiable"]},
    }
