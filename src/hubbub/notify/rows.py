"""A ``PUSH`` row of the outbox: one notification to one binding, as the courier sends it.

The row carries all its send needs (the device's address, the credential to use, the
notification as built when it was expanded), so that sending reads nothing but the credential.
Its lane is the binding's: one device's notifications arrive in order, and a provider slow for
one device holds up no other.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from hubbub.push import Notification
from hubbub.store.records import Binding, NewDelivery

#: The ``method`` of a push row, which the courier routes to the push sender.
PUSH = "PUSH"
#: Attempts after the first at a push a provider answered "later" (429, 5xx, no answer):
#: with the courier's backoff, the last comes some 15 s after the first.
RETRIES = 4


@dataclass(frozen=True, slots=True)
class PushRow:
    """What one ``PUSH`` row says."""

    binding_sid: str
    #: Empty in rows queued before it was written.
    service_sid: str
    binding_type: str
    address: str
    credential_sid: str | None
    identity: str
    #: The service's ``Notifications.LogEnabled`` when it was expanded.
    log: bool
    notification: Notification


def push_row(
    account_sid: str, binding: Binding, notification: Notification, *, log: bool
) -> NewDelivery:
    body = {
        "message_type": notification.message_type,
        "body": notification.body,
        "title": notification.title,
        "sound": notification.sound,
        "badge": notification.badge,
        "action": notification.action,
        "data": dict(notification.data),
    }
    params = (
        # What the courier's log names, should it give the row up; never the address.
        ("EventType", f"push {notification.message_type}"),
        ("binding_sid", binding.sid),
        ("service_sid", binding.service_sid),
        ("binding_type", binding.binding_type),
        ("address", binding.address),
        ("credential_sid", binding.credential_sid or ""),
        ("identity", binding.identity),
        ("log", "1" if log else ""),
        ("notification", json.dumps(body, separators=(",", ":"))),
    )
    return NewDelivery(
        f"push:{binding.sid}",
        account_sid,
        f"push://{binding.binding_type}/{binding.sid}",
        PUSH,
        params,
        RETRIES,
    )


def read_push(params: Sequence[tuple[str, str]]) -> PushRow:
    values = dict(params)
    body = json.loads(values["notification"])
    notification = Notification(
        body["message_type"],
        body=body.get("body"),
        title=body.get("title"),
        sound=body.get("sound"),
        badge=body.get("badge"),
        action=body.get("action"),
        data={str(key): str(value) for key, value in (body.get("data") or {}).items()},
    )
    return PushRow(
        values["binding_sid"],
        values.get("service_sid", ""),
        values["binding_type"],
        values["address"],
        values["credential_sid"] or None,
        values["identity"],
        values["log"] == "1",
        notification,
    )
