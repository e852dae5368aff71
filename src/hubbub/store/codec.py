"""Rows to records and back: JSON text columns, and columns named unlike their fields."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row

from hubbub.store.records import (
    Account,
    ApiKey,
    Channel,
    ChannelWebhook,
    Invite,
    Member,
    Message,
    MessageMedia,
    NotificationSetting,
    Role,
    Service,
    ServiceConfig,
    ServiceLimits,
    ServiceMedia,
    ServiceNotifications,
    User,
)

_EVENTS = ("new_message", "added_to_channel", "removed_from_channel", "invited_to_channel")


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def config_columns(config: ServiceConfig) -> dict[str, Any]:
    """The ``services`` columns that hold ``config``."""
    notifications: dict[str, Any] = {
        event: _setting_json(getattr(config.notifications, event)) for event in _EVENTS
    }
    notifications["log_enabled"] = config.notifications.log_enabled
    return {
        "default_service_role_sid": config.default_service_role_sid,
        "default_channel_role_sid": config.default_channel_role_sid,
        "default_channel_creator_role_sid": config.default_channel_creator_role_sid,
        "read_status_enabled": config.read_status_enabled,
        "reachability_enabled": config.reachability_enabled,
        "typing_indicator_timeout": config.typing_indicator_timeout,
        "consumption_report_interval": config.consumption_report_interval,
        "pre_webhook_url": config.pre_webhook_url,
        "post_webhook_url": config.post_webhook_url,
        "webhook_method": config.webhook_method,
        "pre_webhook_retry_count": config.pre_webhook_retry_count,
        "post_webhook_retry_count": config.post_webhook_retry_count,
        "webhook_filters": _dumps(list(config.webhook_filters)),
        "limits": _dumps(
            {
                "channel_members": config.limits.channel_members,
                "user_channels": config.limits.user_channels,
            }
        ),
        "notifications": _dumps(notifications),
        "media": _dumps(
            {
                "size_limit_mb": config.media.size_limit_mb,
                "compatibility_message": config.media.compatibility_message,
                "allowed_types": list(config.media.allowed_types),
            }
        ),
    }


def _setting_json(setting: NotificationSetting) -> dict[str, Any]:
    return {
        "enabled": setting.enabled,
        "template": setting.template,
        "sound": setting.sound,
        "badge_count_enabled": setting.badge_count_enabled,
    }


def _setting(data: dict[str, Any]) -> NotificationSetting:
    # Keys missing from older rows fall back to the defaults, so new settings need no data
    # migration.
    return NotificationSetting(
        enabled=bool(data.get("enabled", False)),
        template=data.get("template"),
        sound=data.get("sound"),
        badge_count_enabled=bool(data.get("badge_count_enabled", False)),
    )


def limits_of(text: str) -> ServiceLimits:
    data = json.loads(text)
    defaults = ServiceLimits()
    return ServiceLimits(
        channel_members=int(data.get("channel_members", defaults.channel_members)),
        user_channels=int(data.get("user_channels", defaults.user_channels)),
    )


def service_of(row: Row[Any]) -> Service:
    notes = json.loads(row.notifications)
    media = json.loads(row.media)
    config = ServiceConfig(
        default_service_role_sid=row.default_service_role_sid,
        default_channel_role_sid=row.default_channel_role_sid,
        default_channel_creator_role_sid=row.default_channel_creator_role_sid,
        read_status_enabled=row.read_status_enabled,
        reachability_enabled=row.reachability_enabled,
        typing_indicator_timeout=row.typing_indicator_timeout,
        consumption_report_interval=row.consumption_report_interval,
        pre_webhook_url=row.pre_webhook_url,
        post_webhook_url=row.post_webhook_url,
        webhook_method=row.webhook_method,
        webhook_filters=tuple(json.loads(row.webhook_filters)),
        pre_webhook_retry_count=row.pre_webhook_retry_count,
        post_webhook_retry_count=row.post_webhook_retry_count,
        limits=limits_of(row.limits),
        notifications=ServiceNotifications(
            **{event: _setting(notes.get(event, {})) for event in _EVENTS},
            log_enabled=bool(notes.get("log_enabled", False)),
        ),
        media=ServiceMedia(
            size_limit_mb=int(media.get("size_limit_mb", ServiceMedia().size_limit_mb)),
            compatibility_message=media.get("compatibility_message"),
            allowed_types=tuple(media.get("allowed_types", ())),
        ),
    )
    return Service(
        row.sid, row.account_sid, row.friendly_name, config, row.date_created, row.date_updated
    )


def account_of(row: Row[Any]) -> Account:
    return Account(
        row.sid,
        row.friendly_name,
        row.auth_token_hash,
        row.status,
        row.date_created,
        row.date_updated,
        row.sealed_auth_token,
    )


def api_key_of(row: Row[Any]) -> ApiKey:
    return ApiKey(
        row.sid,
        row.account_sid,
        row.friendly_name,
        row.encrypted_secret,
        row.revoked,
        row.date_created,
        row.date_updated,
    )


def permissions_json(permissions: tuple[str, ...] | list[str]) -> str:
    return _dumps(list(permissions))


def role_of(row: Row[Any]) -> Role:
    return Role(
        row.sid,
        row.service_sid,
        row.friendly_name,
        row.type,
        tuple(json.loads(row.permissions)),
        row.date_created,
        row.date_updated,
    )


def user_of(row: Row[Any]) -> User:
    return User(
        row.sid,
        row.service_sid,
        row.identity,
        row.friendly_name,
        row.attributes,
        row.role_sid,
        row.is_online,
        row.is_notifiable,
        row.joined_channels_count,
        row.date_created,
        row.date_updated,
    )


def channel_of(row: Row[Any]) -> Channel:
    return Channel(
        row.sid,
        row.service_sid,
        row.unique_name,
        row.friendly_name,
        row.attributes,
        row.type,
        row.created_by,
        row.members_count,
        row.messages_count,
        row.next_message_index,
        row.date_created,
        row.date_updated,
    )


def member_of(row: Row[Any]) -> Member:
    return Member(
        row.sid,
        row.channel_sid,
        row.service_sid,
        row.identity,
        row.role_sid,
        row.last_consumed_message_index,
        row.last_consumption_timestamp,
        row.attributes,
        row.notification_level,
        row.date_created,
        row.date_updated,
    )


def media_json(media: MessageMedia | None) -> str | None:
    if media is None:
        return None
    return _dumps(
        {
            "sid": media.sid,
            "content_type": media.content_type,
            "filename": media.filename,
            "size": media.size,
        }
    )


def _media_of(text: str | None) -> MessageMedia | None:
    if text is None:
        return None
    data = json.loads(text)
    return MessageMedia(data["sid"], data["content_type"], data.get("filename"), int(data["size"]))


def message_of(row: Row[Any]) -> Message:
    return Message(
        row.sid,
        row.channel_sid,
        row.service_sid,
        row.message_index,
        row.author,
        row.body,
        row.attributes,
        row.type,
        _media_of(row.media),
        row.was_edited,
        row.last_updated_by,
        row.date_created,
        row.date_updated,
    )


def invite_of(row: Row[Any]) -> Invite:
    return Invite(
        row.sid,
        row.channel_sid,
        row.service_sid,
        row.identity,
        row.role_sid,
        row.created_by,
        row.date_created,
        row.date_updated,
    )


def strings_json(values: Sequence[str]) -> str:
    """A list of strings as the JSON text a column holds."""
    return _dumps(list(values))


def channel_webhook_of(row: Row[Any]) -> ChannelWebhook:
    return ChannelWebhook(
        row.sid,
        row.service_sid,
        row.channel_sid,
        row.type,
        row.url,
        row.method,
        tuple(json.loads(row.filters)),
        tuple(json.loads(row.triggers)),
        row.flow_sid,
        row.retry_count,
        row.date_created,
        row.date_updated,
    )
