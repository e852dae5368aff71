"""What each provider carries of a notification, in the fields Twilio's SDKs read.

twilio-chat's ``Client.parsePushNotification`` reads, from an FCM message's ``data``,
``twi_message_type`` (required), ``twi_title``, ``twi_body``, ``twi_sound``, ``twi_action``,
``channel_sid``, ``message_sid`` and ``message_index``; from an APNs payload ``aps.alert``
(a string, or ``{title, body}``), ``aps.sound``, ``aps.badge``, ``aps.category`` and the same
top-level ``twi_message_type``, ``channel_sid``, ``message_sid``, ``message_index``. A Web Push
message is FCM's ``data`` as JSON, plus plain ``body`` and ``title`` for a service worker's
``showNotification``.

Each provider caps a message's size; a body too long is cut (ending in "…") to fit, and
:class:`TooLarge` is raised when even an empty body would not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hubbub.push.notification import Notification
from hubbub.tokens.encoding import json_dumps_compact

__all__ = [
    "APNS_LIMIT",
    "FCM_LIMIT",
    "TooLarge",
    "apns_body",
    "apns_payload",
    "fcm_data",
    "fcm_message",
    "fit",
    "webpush_body",
    "webpush_payload",
]

#: Apple's limit for a notification's JSON payload.
APNS_LIMIT = 4096
#: FCM's limit for a data message is 4096 bytes; the JSON around the values counts here too,
#: so this stays a little below.
FCM_LIMIT = 4000
_ELLIPSIS = "…"
# Keys FCM refuses in ``data`` (its own, and any starting "google" or "gcm"): a data field of
# one of these names would fail the send.
_FCM_RESERVED = frozenset({"from", "notification", "message_type", "collapse_key"})


class TooLarge(ValueError):
    """The payload is over the provider's limit even with no body text."""


def fit(build: Callable[[str | None], bytes], body: str | None, limit: int) -> bytes:
    """``build(body)``, with ``body`` cut short as little as needed for it to be ``limit``
    bytes at most."""
    whole = build(body)
    if len(whole) <= limit:
        return whole
    if not body or len(build("")) > limit:
        raise TooLarge(f"the payload is over {limit} bytes even without its body text")
    low, high = 0, len(body) - 1  # the longest prefix that fits is in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if len(build(body[:middle] + _ELLIPSIS)) <= limit:
            low = middle
        else:
            high = middle - 1
    cut = build(body[:low] + _ELLIPSIS)
    return cut if len(cut) <= limit else build("")


def _json(value: Any) -> bytes:
    return json_dumps_compact(value).encode("utf-8")


def fcm_data(notification: Notification, body: str | None) -> dict[str, str]:
    """The ``data`` of an FCM message: every value a string, as FCM requires."""
    data = {
        key: str(value)
        for key, value in notification.data.items()
        if key not in _FCM_RESERVED and not key.lower().startswith(("google", "gcm"))
    }
    data["twi_message_type"] = notification.message_type
    for key, value in (
        ("twi_title", notification.title),
        ("twi_body", body),
        ("twi_sound", notification.sound),
        ("twi_action", notification.action),
    ):
        if value is not None:
            data[key] = value
    return data


def fcm_message(notification: Notification, token: str, ttl: int) -> bytes:
    """The request body of FCM HTTP v1's ``messages:send``, its data within FCM's limit."""
    # High priority: a data message at normal priority may wait hours on a dozing Android.
    android = {"priority": "high", "ttl": f"{ttl}s"}

    def build(body: str | None) -> bytes:
        return _json(fcm_data(notification, body))

    data = fit(build, notification.body, FCM_LIMIT)
    return b'{"message":{"token":%s,"data":%s,"android":%s}}' % (
        _json(token),
        data,
        _json(android),
    )


def apns_payload(notification: Notification, body: str | None) -> dict[str, Any]:
    """The JSON payload of an APNs notification."""
    aps: dict[str, Any] = {}
    if notification.title is not None:
        alert: dict[str, str] = {"title": notification.title}
        if body is not None:
            alert["body"] = body
        aps["alert"] = alert
    elif body is not None:
        aps["alert"] = body
    if notification.sound is not None:
        aps["sound"] = notification.sound
    if notification.badge is not None:
        aps["badge"] = notification.badge
    if notification.action is not None:
        aps["category"] = notification.action
    if not aps:
        aps["content-available"] = 1  # nothing to show: a background notification
    payload: dict[str, Any] = {"aps": aps}
    payload.update((key, value) for key, value in notification.data.items() if key != "aps")
    payload["twi_message_type"] = notification.message_type
    return payload


def apns_body(notification: Notification) -> bytes:
    """:func:`apns_payload` as JSON, within Apple's limit."""
    return fit(lambda body: _json(apns_payload(notification, body)), notification.body, APNS_LIMIT)


def webpush_payload(notification: Notification, body: str | None) -> dict[str, str]:
    """The JSON a service worker receives: FCM's data, plus ``body`` and ``title``."""
    payload = fcm_data(notification, body)
    if body is not None:
        payload["body"] = body
    if notification.title is not None:
        payload["title"] = notification.title
    return payload


def webpush_body(notification: Notification, limit: int) -> bytes:
    """:func:`webpush_payload` as JSON, ``limit`` bytes at most."""
    return fit(lambda body: _json(webpush_payload(notification, body)), notification.body, limit)
