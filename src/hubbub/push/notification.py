"""What a push sender is given (a credential, a notification) and what it answers (an outcome)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["CredentialType", "Notification", "Outcome", "PushCredential"]

CredentialType = Literal["fcm", "apn", "gcm", "webpush"]


@dataclass(frozen=True, slots=True)
class PushCredential:
    """One opened push credential.

    ``settings`` are not secret: apn ``{"key_id", "team_id", "topic"}`` (``topic`` may be left
    out for a certificate that names it), webpush ``{"public_key", "subject"}``. ``secrets``
    are: fcm ``{"service_account": {...}}`` (Google's service-account JSON), apn
    ``{"private_key"}`` (the .p8 key) or ``{"certificate", "private_key"}`` (PEM, for mTLS),
    webpush ``{"private_key"}`` (PEM, P-256).
    """

    sid: str
    type: CredentialType
    #: APNs only: send to Apple's sandbox (development builds).
    sandbox: bool
    settings: Mapping[str, Any]
    secrets: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Notification:
    """A provider-neutral notification, in Twilio's terms."""

    #: Twilio's ``twi_message_type``, e.g. ``twilio.channel.new_message``.
    message_type: str
    #: The rendered template text.
    body: str | None = None
    title: str | None = None
    sound: str | None = None
    #: APNs only.
    badge: int | None = None
    #: APNs ``category``, FCM ``twi_action``.
    action: str | None = None
    #: ``channel_sid``, ``message_sid``, ``message_index``, ``author``, ``channel_title``, …
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one send went."""

    ok: bool
    #: Another attempt later may go better: 429, 5xx, a timeout, a connection that failed.
    retryable: bool = False
    #: The device token or subscription is dead: the caller deletes the binding.
    gone: bool = False
    #: For logs: the status and the provider's reason, never the token or the payload.
    detail: str = ""
