"""Twilio's SDKs' push registrations (ERS), tunnelled through twilsock.

``client.setPushRegistrationId('fcm', token)`` makes @twilio/notifications send
``POST https://ers.<region>.twilio.com/v1/registrations?productId=…`` with
``{endpoint_platform, channel_type, version, message_types, data: {registration_id}}``, and
keep the answer's ``id`` to remove it later (``DELETE …/registrations/{id}``); Conversations'
``removePushRegistrations(type, token)`` sends ``DELETE …/registrations`` with
``{binding_type, address}``. The host is not looked at (the session is hubbub's whatever it
names). The ``id`` is the binding's SID. Removing what is gone succeeds: the SDKs retry
failures, and the end they want is reached.
"""

from __future__ import annotations

from typing import Any

from hubbub.chat import push
from hubbub.chat.errors import invalid
from hubbub.realtime.commands import Identity
from hubbub.store import Store


def _object(body: Any) -> dict[str, Any]:
    if body in (None, ""):
        return {}
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object")
    return body


def register(store: Store, who: Identity, body: Any) -> dict[str, Any]:
    """Create or update the session user's binding; the answer the SDKs keep the ``id`` of."""
    found = _object(body)
    data = found.get("data")
    if not isinstance(data, dict):
        raise invalid("data.registration_id is required")
    types = found.get("message_types")
    if not isinstance(types, list):
        raise invalid("message_types must be a list")
    binding = push.register(
        store,
        who.account_sid,
        who.service_sid,
        who.identity,
        binding_type=found.get("channel_type"),
        address=data.get("registration_id"),
        message_types=types,
        credential_sid=who.push_credential_sid,
        endpoint_id=who.endpoint_id,
    )
    return {
        "id": binding.sid,
        "channel_type": binding.binding_type,
        "message_types": list(binding.message_types),
    }


def unregister(store: Store, who: Identity, body: Any, binding_sid: str | None) -> None:
    """Remove a binding of the session's user: by ``id`` (in the path) or by the body's
    ``binding_type`` and ``address``."""
    if binding_sid is not None:
        push.unregister(store, who.service_sid, who.identity, binding_sid=binding_sid)
        return
    found = _object(body)
    push.unregister(
        store,
        who.service_sid,
        who.identity,
        binding_type=found.get("binding_type"),
        address=found.get("address"),
    )
