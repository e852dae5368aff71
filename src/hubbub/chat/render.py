"""Store records as Twilio's REST API v2 returns them: snake_case JSON with ``url`` and ``links``.

Dates are ``YYYY-MM-DDTHH:MM:SSZ`` exactly: the official Python client parses that format and
quietly hands back the raw string for any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from hubbub.store.records import (
    ApiKey,
    Binding,
    Channel,
    ChannelWebhook,
    Credential,
    Invite,
    Member,
    Message,
    NotificationSetting,
    Role,
    Service,
    User,
    UserChannel,
)


def date(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Urls:
    """Absolute URLs of the resources, from the base the client reached the server at."""

    base: str

    def service(self, sid: str) -> str:
        return f"{self.base}/v2/Services/{sid}"

    def channel(self, service_sid: str, sid: str) -> str:
        return f"{self.service(service_sid)}/Channels/{sid}"

    def user(self, service_sid: str, sid: str) -> str:
        return f"{self.service(service_sid)}/Users/{sid}"


def service(record: Service, urls: Urls) -> dict[str, Any]:
    config = record.config
    url = urls.service(record.sid)
    notes = config.notifications
    return {
        "sid": record.sid,
        "account_sid": record.account_sid,
        "friendly_name": record.friendly_name,
        "date_created": date(record.date_created),
        "date_updated": date(record.date_updated),
        "default_service_role_sid": config.default_service_role_sid,
        "default_channel_role_sid": config.default_channel_role_sid,
        "default_channel_creator_role_sid": config.default_channel_creator_role_sid,
        "read_status_enabled": config.read_status_enabled,
        "reachability_enabled": config.reachability_enabled,
        "typing_indicator_timeout": config.typing_indicator_timeout,
        "consumption_report_interval": config.consumption_report_interval,
        "limits": {
            "channel_members": config.limits.channel_members,
            "user_channels": config.limits.user_channels,
        },
        "pre_webhook_url": config.pre_webhook_url,
        "post_webhook_url": config.post_webhook_url,
        "webhook_method": config.webhook_method,
        "webhook_filters": list(config.webhook_filters),
        "pre_webhook_retry_count": config.pre_webhook_retry_count,
        "post_webhook_retry_count": config.post_webhook_retry_count,
        "notifications": {
            "new_message": _notification(notes.new_message, badge=True),
            "added_to_channel": _notification(notes.added_to_channel),
            "removed_from_channel": _notification(notes.removed_from_channel),
            "invited_to_channel": _notification(notes.invited_to_channel),
            "log_enabled": notes.log_enabled,
        },
        "media": {
            "size_limit_mb": config.media.size_limit_mb,
            "compatibility_message": config.media.compatibility_message,
        },
        "url": url,
        "links": {
            "channels": f"{url}/Channels",
            "roles": f"{url}/Roles",
            "users": f"{url}/Users",
            "bindings": f"{url}/Bindings",
        },
    }


def _notification(setting: NotificationSetting, *, badge: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {
        "enabled": setting.enabled,
        "template": setting.template,
        "sound": setting.sound,
    }
    if badge:
        result["badge_count_enabled"] = setting.badge_count_enabled
    return result


def role(record: Role, account_sid: str, urls: Urls) -> dict[str, Any]:
    return {
        "sid": record.sid,
        "account_sid": account_sid,
        "service_sid": record.service_sid,
        "friendly_name": record.friendly_name,
        "type": record.type,
        "permissions": list(record.permissions),
        "date_created": date(record.date_created),
        "date_updated": date(record.date_updated),
        "url": f"{urls.service(record.service_sid)}/Roles/{record.sid}",
    }


def user(record: User, account_sid: str, urls: Urls, *, reachability: bool) -> dict[str, Any]:
    """The user; ``is_online`` and ``is_notifiable`` are null unless the service tracks
    reachability (``reachability``), as Twilio's are: presence is recorded for push
    notifications too, and must not show where the service's owner turned reachability off."""
    url = urls.user(record.service_sid, record.sid)
    return {
        "sid": record.sid,
        "account_sid": account_sid,
        "service_sid": record.service_sid,
        "attributes": record.attributes,
        "friendly_name": record.friendly_name,
        "role_sid": record.role_sid,
        "identity": record.identity,
        "is_online": record.is_online if reachability else None,
        "is_notifiable": record.is_notifiable if reachability else None,
        "date_created": date(record.date_created),
        "date_updated": date(record.date_updated),
        "joined_channels_count": record.joined_channels_count,
        "links": {"user_channels": f"{url}/Channels", "user_bindings": f"{url}/Bindings"},
        "url": url,
    }


def channel(record: Channel, account_sid: str, urls: Urls) -> dict[str, Any]:
    url = urls.channel(record.service_sid, record.sid)
    return {
        "sid": record.sid,
        "account_sid": account_sid,
        "service_sid": record.service_sid,
        "friendly_name": record.friendly_name,
        "unique_name": record.unique_name,
        "attributes": record.attributes,
        "type": record.type,
        "date_created": date(record.date_created),
        "date_updated": date(record.date_updated),
        "created_by": record.created_by,
        "members_count": record.members_count,
        "messages_count": record.messages_count,
        "url": url,
        "links": {
            "members": f"{url}/Members",
            "messages": f"{url}/Messages",
            "invites": f"{url}/Invites",
            "webhooks": f"{url}/Webhooks",
            "last_message": None,
        },
    }


def member(record: Member, account_sid: str, urls: Urls) -> dict[str, Any]:
    return {
        "sid": record.sid,
        "account_sid": account_sid,
        "channel_sid": record.channel_sid,
        "service_sid": record.service_sid,
        "identity": record.identity,
        "date_created": date(record.date_created),
        "date_updated": date(record.date_updated),
        "role_sid": record.role_sid,
        "last_consumed_message_index": record.last_consumed_message_index,
        "last_consumption_timestamp": date(record.last_consumption_timestamp),
        "url": f"{urls.channel(record.service_sid, record.channel_sid)}/Members/{record.sid}",
        "attributes": record.attributes,
    }


def message(record: Message, account_sid: str, urls: Urls) -> dict[str, Any]:
    media = record.media
    return {
        "sid": record.sid,
        "account_sid": account_sid,
        "attributes": record.attributes,
        "service_sid": record.service_sid,
        "to": record.channel_sid,
        "channel_sid": record.channel_sid,
        "date_created": date(record.date_created),
        "date_updated": date(record.date_updated),
        "last_updated_by": record.last_updated_by,
        "was_edited": record.was_edited,
        "from": record.from_,
        "body": record.body,
        "index": record.index,
        "type": record.type,
        "media": None
        if media is None
        else {
            "sid": media.sid,
            "content_type": media.content_type,
            "filename": media.filename,
            "size": media.size,
        },
        "url": f"{urls.channel(record.service_sid, record.channel_sid)}/Messages/{record.sid}",
    }


def invite(record: Invite, account_sid: str, urls: Urls) -> dict[str, Any]:
    return {
        "sid": record.sid,
        "account_sid": account_sid,
        "channel_sid": record.channel_sid,
        "service_sid": record.service_sid,
        "identity": record.identity,
        "date_created": date(record.date_created),
        "date_updated": date(record.date_updated),
        "role_sid": record.role_sid,
        "created_by": record.created_by,
        "url": f"{urls.channel(record.service_sid, record.channel_sid)}/Invites/{record.sid}",
    }


def channel_webhook(record: ChannelWebhook, account_sid: str, urls: Urls) -> dict[str, Any]:
    config: dict[str, Any]
    if record.type == "studio":
        config = {"flow_sid": record.flow_sid}
    else:
        config = {"url": record.url, "method": record.method}
    config["filters"] = list(record.filters)
    if record.type == "trigger":
        config["triggers"] = list(record.triggers)
    config["retry_count"] = record.retry_count
    return {
        "sid": record.sid,
        "account_sid": account_sid,
        "service_sid": record.service_sid,
        "channel_sid": record.channel_sid,
        "type": record.type,
        "configuration": config,
        "date_created": date(record.date_created),
        "date_updated": date(record.date_updated),
        "url": f"{urls.channel(record.service_sid, record.channel_sid)}/Webhooks/{record.sid}",
    }


def user_channel(record: UserChannel, account_sid: str, urls: Urls) -> dict[str, Any]:
    channel_url = urls.channel(record.service_sid, record.channel_sid)
    return {
        "account_sid": account_sid,
        "service_sid": record.service_sid,
        "channel_sid": record.channel_sid,
        "user_sid": record.user_sid,
        "member_sid": record.member_sid,
        "status": record.status,
        "last_consumed_message_index": record.last_consumed_message_index,
        "unread_messages_count": record.unread_messages_count,
        "links": {"channel": channel_url, "member": f"{channel_url}/Members/{record.member_sid}"},
        "url": f"{urls.user(record.service_sid, record.user_sid)}/Channels/{record.channel_sid}",
        "notification_level": record.notification_level,
    }


def credential(record: Credential, urls: Urls) -> dict[str, Any]:
    """A push credential as ``/v2/Credentials`` returns it: never its secrets. ``sandbox`` is
    a string (``"True"``/``"False"``), as Twilio's is; a ``webpush`` credential adds its
    ``public_key`` (hubbub's own), which a page subscribes with."""
    result: dict[str, Any] = {
        "sid": record.sid,
        "account_sid": record.account_sid,
        "friendly_name": record.friendly_name,
        "type": record.type,
        "sandbox": str(record.sandbox),
        "date_created": date(record.date_created),
        "date_updated": date(record.date_updated),
        "url": f"{urls.base}/v2/Credentials/{record.sid}",
    }
    if record.type == "webpush":
        result["public_key"] = record.settings.get("public_key")
    return result


def binding(record: Binding, urls: Urls, *, user_sid: str | None = None) -> dict[str, Any]:
    """A push binding, as ``/Bindings`` lists it, or as ``/Users/{US}/Bindings`` does when
    ``user_sid`` is given. Message types by the REST API's short names (``new_message``)."""
    user_url = urls.user(record.service_sid, quote(record.identity, safe=""))
    if user_sid is None:
        url = f"{urls.service(record.service_sid)}/Bindings/{record.sid}"
    else:
        url = f"{urls.user(record.service_sid, user_sid)}/Bindings/{record.sid}"
    result: dict[str, Any] = {
        "sid": record.sid,
        "account_sid": record.account_sid,
        "service_sid": record.service_sid,
        "date_created": date(record.date_created),
        "date_updated": date(record.date_updated),
        "endpoint": record.endpoint,
        "identity": record.identity,
        "credential_sid": record.credential_sid,
        "binding_type": record.binding_type,
        "message_types": [name.removeprefix("twilio.channel.") for name in record.message_types],
        "url": url,
        "links": {"user": user_url},
    }
    if user_sid is not None:
        result["user_sid"] = user_sid
    return result


def api_key(record: ApiKey, *, secret: str | None = None) -> dict[str, Any]:
    """An API key as ``/2010-04-01/Accounts/{AC}/Keys`` returns it; the secret only on creation."""
    result: dict[str, Any] = {
        "sid": record.sid,
        "friendly_name": record.friendly_name,
        # The 2010 API writes dates in RFC 2822, and the official client parses them so.
        "date_created": record.date_created.strftime("%a, %d %b %Y %H:%M:%S +0000"),
        "date_updated": record.date_updated.strftime("%a, %d %b %Y %H:%M:%S +0000"),
    }
    if secret is not None:
        result["secret"] = secret
    return result
