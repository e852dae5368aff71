"""``/v2/Services`` and ``/v2/Services/{ServiceSid}/Roles``."""

from __future__ import annotations

import dataclasses
from typing import Any

from hubbub.chat import fields, render, services
from hubbub.chat.core import Actor
from hubbub.chat.errors import (
    INVALID_CHANNEL_MEMBERS_LIMIT,
    INVALID_PERMISSION,
    INVALID_POST_WEBHOOK_URL,
    INVALID_PRE_WEBHOOK_URL,
    INVALID_ROLE_TYPE,
    INVALID_USER_CHANNELS_LIMIT,
    INVALID_WEBHOOK_FORMAT,
    INVALID_WEBHOOK_RETRY_COUNT,
    invalid,
)
from hubbub.chat.permissions import unknown_permissions
from hubbub.media.types import MAX_PATTERNS as MAX_MEDIA_TYPES
from hubbub.media.types import MAX_SIZE_MB as MAX_MEDIA_MB
from hubbub.media.types import is_pattern as media_type_pattern
from hubbub.store.records import NotificationSetting, RoleType, ServiceConfig, ServiceMedia
from hubbub.web.endpoint import Call, Result, Table
from hubbub.web.paging import envelope, page_request
from hubbub.web.params import Params
from hubbub.webhooks import targets
from hubbub.webhooks.events import POST_EVENTS, PRE_EVENTS

MAX_NAME = 256
MAX_LIMIT = 1000
_ROLE_TYPES: dict[str, RoleType] = {"channel": "channel", "deployment": "deployment"}
_NOTIFICATIONS = {
    "NewMessage": "new_message",
    "AddedToChannel": "added_to_channel",
    "RemovedFromChannel": "removed_from_channel",
    "InvitedToChannel": "invited_to_channel",
}


def create_service(call: Call) -> Result:
    name = call.form.required_text("FriendlyName", max_length=MAX_NAME)
    service = call.ctx.store.create_service(call.account_sid, friendly_name=name)
    return 201, render.service(service, call.urls)


def fetch_service(call: Call) -> Result:
    return 200, render.service(call.service("Sid"), call.urls)


def update_service(call: Call) -> Result:
    service = call.service("Sid")
    form = call.form
    config = updated_config(service.config, form)
    name = form.text("FriendlyName", max_length=MAX_NAME)
    changes: dict[str, Any] = {"config": config}
    if name is not None:
        changes["friendly_name"] = name
    service = call.ctx.store.update_service(call.account_sid, service.sid, **changes)
    call.ctx.publish(targets.changed(service.sid))  # every process reads its webhooks again
    return 200, render.service(service, call.urls)


def delete_service(call: Call) -> Result:
    service = call.service("Sid")
    actor = Actor(call.account_sid, service.sid, call.urls, webhooks=call.webhooks_enabled)
    call.publish(services.delete_service(call.ctx.core, actor))
    call.ctx.forget_service(call.account_sid, service.sid)
    return 204, None


def list_services(call: Call) -> Result:
    page = page_request(call.query)
    found = call.ctx.store.list_services(call.account_sid, limit=page.size, cursor=page.token)
    items = [render.service(service, call.urls) for service in found.items]
    return 200, envelope("services", items, page, call.url, found.next_cursor)


def create_role(call: Call) -> Result:
    service_sid = call.service_sid()
    form = call.form
    name = form.required_text("FriendlyName", max_length=MAX_NAME)
    given = form.required_text("Type", max_length=16)
    if given not in _ROLE_TYPES:
        raise invalid(f"Type must be channel or deployment, not {given!r}", INVALID_ROLE_TYPE)
    role_type = _ROLE_TYPES[given]
    permissions = _permissions(form, role_type)
    role = call.ctx.store.create_role(
        service_sid, friendly_name=name, type=role_type, permissions=permissions
    )
    return 201, render.role(role, call.account_sid, call.urls)


def fetch_role(call: Call) -> Result:
    role = call.ctx.store.get_role(call.service_sid(), call.path("Sid"))
    return 200, render.role(role, call.account_sid, call.urls)


def update_role(call: Call) -> Result:
    service_sid = call.service_sid()
    store = call.ctx.store
    role = store.get_role(service_sid, call.path("Sid"))
    permissions = _permissions(call.form, role.type)
    role = store.update_role(service_sid, role.sid, permissions=permissions)
    return 200, render.role(role, call.account_sid, call.urls)


def delete_role(call: Call) -> Result:
    call.ctx.store.delete_role(call.service_sid(), call.path("Sid"))
    return 204, None


def list_roles(call: Call) -> Result:
    page = page_request(call.query)
    found = call.ctx.store.list_roles(call.service_sid(), limit=page.size, cursor=page.token)
    items = [render.role(role, call.account_sid, call.urls) for role in found.items]
    return 200, envelope("roles", items, page, call.url, found.next_cursor)


_ROLES = "/v2/Services/{ServiceSid}/Roles"
TABLE: Table = [
    ("/v2/Services", "GET", list_services),
    ("/v2/Services", "POST", create_service),
    ("/v2/Services/{Sid}", "GET", fetch_service),
    ("/v2/Services/{Sid}", "POST", update_service),
    ("/v2/Services/{Sid}", "DELETE", delete_service),
    (_ROLES, "GET", list_roles),
    (_ROLES, "POST", create_role),
    (_ROLES + "/{Sid}", "GET", fetch_role),
    (_ROLES + "/{Sid}", "POST", update_role),
    (_ROLES + "/{Sid}", "DELETE", delete_role),
]


def _permissions(form: Params, role_type: str) -> list[str]:
    permissions = form.repeated("Permission", max_length=64)
    if not permissions:
        raise invalid("Missing required parameter Permission in the post body")
    unknown = unknown_permissions(role_type, permissions)
    if unknown:
        raise invalid(
            f"Unknown permission for a {role_type} role: {', '.join(unknown)}", INVALID_PERMISSION
        )
    return permissions


def updated_config(config: ServiceConfig, form: Params) -> ServiceConfig:
    """``config`` with every setting the form names changed, each checked first."""
    changes: dict[str, Any] = _webhook_settings(form)
    for name, field in (
        ("DefaultServiceRoleSid", "default_service_role_sid"),
        ("DefaultChannelRoleSid", "default_channel_role_sid"),
        ("DefaultChannelCreatorRoleSid", "default_channel_creator_role_sid"),
    ):
        value = form.text(name, max_length=2048)
        if value is not None:
            changes[field] = value or None
    for name, field in (
        ("ReadStatusEnabled", "read_status_enabled"),
        ("ReachabilityEnabled", "reachability_enabled"),
    ):
        flag = form.boolean(name)
        if flag is not None:
            changes[field] = flag
    for name, field, low, high in (
        ("TypingIndicatorTimeout", "typing_indicator_timeout", 1, 3600),
        ("ConsumptionReportInterval", "consumption_report_interval", 1, 3600),
    ):
        number = form.integer(name, minimum=low, maximum=high)
        if number is not None:
            changes[field] = number

    limits = config.limits
    for name, field, code in (
        ("Limits.ChannelMembers", "channel_members", INVALID_CHANNEL_MEMBERS_LIMIT),
        ("Limits.UserChannels", "user_channels", INVALID_USER_CHANNELS_LIMIT),
    ):
        limit = form.integer(name, minimum=1, maximum=MAX_LIMIT, code=code)
        if limit is not None:
            limits = dataclasses.replace(limits, **{field: limit})
    changes["limits"] = limits

    notifications = config.notifications
    for prefix, field in _NOTIFICATIONS.items():
        setting: NotificationSetting = getattr(notifications, field)
        setting = _notification(
            form, f"Notifications.{prefix}", setting, badge=prefix == "NewMessage"
        )
        changed: dict[str, Any] = {field: setting}
        notifications = dataclasses.replace(notifications, **changed)
    log_enabled = form.boolean("Notifications.LogEnabled")
    if log_enabled is not None:
        notifications = dataclasses.replace(notifications, log_enabled=log_enabled)
    changes["notifications"] = notifications

    changes["media"] = _media_settings(config.media, form)
    return dataclasses.replace(config, **changes)


def _media_settings(media: ServiceMedia, form: Params) -> ServiceMedia:
    """``media`` with the form's changes: Twilio's compatibility message, and hubbub's
    ``Media.SizeLimitMb`` (at most Twilio's 150) and ``Media.AllowedTypes``."""
    message = form.text("Media.CompatibilityMessage", max_length=1024)
    if message is not None:
        media = dataclasses.replace(media, compatibility_message=message)
    size = form.integer("Media.SizeLimitMb", minimum=1, maximum=MAX_MEDIA_MB)
    if size is not None:
        media = dataclasses.replace(media, size_limit_mb=size)
    if "Media.AllowedTypes" in form:
        # Empty values are dropped, so that "Media.AllowedTypes=" allows every type again.
        given = [p for p in form.repeated("Media.AllowedTypes", max_length=255) if p]
        if len(given) > MAX_MEDIA_TYPES:
            raise invalid(f"Media.AllowedTypes takes at most {MAX_MEDIA_TYPES} patterns")
        for pattern in given:
            if not media_type_pattern(pattern):
                raise invalid(
                    f"Media.AllowedTypes: {pattern!r} is not a content type like image/png "
                    "or image/*"
                )
        media = dataclasses.replace(media, allowed_types=tuple(p.lower() for p in given))
    return media


def _webhook_settings(form: Params) -> dict[str, Any]:
    """The service's webhook settings the form changes, each checked with Twilio's code."""
    changes: dict[str, Any] = {}
    for name, field, code in (
        ("PreWebhookUrl", "pre_webhook_url", INVALID_PRE_WEBHOOK_URL),
        ("PostWebhookUrl", "post_webhook_url", INVALID_POST_WEBHOOK_URL),
    ):
        url = form.text(name)
        if url is not None:  # an empty one turns the webhook off
            changes[field] = fields.webhook_url(url, name, code) if url else None
    for name, field in (
        ("PreWebhookRetryCount", "pre_webhook_retry_count"),
        ("PostWebhookRetryCount", "post_webhook_retry_count"),
    ):
        number = form.integer(name, minimum=0, maximum=3, code=INVALID_WEBHOOK_RETRY_COUNT)
        if number is not None:
            changes[field] = number
    method = form.text("WebhookMethod")
    if method is not None:
        changes["webhook_method"] = fields.webhook_method(method, "WebhookMethod")
    if "WebhookFilters" in form:
        # Empty values are dropped, so that "WebhookFilters=" clears the list.
        given = form.repeated("WebhookFilters", max_length=fields.MAX_TEXT)
        given = [name for name in given if name]
        for name in given:
            if name not in PRE_EVENTS and name not in POST_EVENTS:
                raise invalid(
                    f"WebhookFilters: {fields.shown(name)} is not a Chat webhook event",
                    INVALID_WEBHOOK_FORMAT,
                )
        changes["webhook_filters"] = tuple(dict.fromkeys(given))
    return changes


def _notification(
    form: Params, prefix: str, setting: NotificationSetting, *, badge: bool
) -> NotificationSetting:
    changes: dict[str, Any] = {}
    enabled = form.boolean(f"{prefix}.Enabled")
    if enabled is not None:
        changes["enabled"] = enabled
    for part, field in (("Template", "template"), ("Sound", "sound")):
        value = form.text(f"{prefix}.{part}", max_length=1024)
        if value is not None:
            changes[field] = value or None
    if badge:
        flag = form.boolean(f"{prefix}.BadgeCountEnabled")
        if flag is not None:
            changes["badge_count_enabled"] = flag
    return dataclasses.replace(setting, **changes) if changes else setting
