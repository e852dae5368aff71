"""The records the store hands out: frozen, slotted dataclasses, one per stored resource.

Dates are timezone-aware UTC datetimes truncated to whole seconds. ``attributes`` stay the JSON text
the client sent, because Twilio returns them as a string.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Generic, Literal, TypeVar

#: SID prefixes of the resources this store creates, beyond those in :mod:`hubbub.sids`.
ROLE = "RL"
USER = "US"
CHANNEL = "CH"
MEMBER = "MB"
MESSAGE = "IM"
INVITE = "IN"

AccountStatus = Literal["active", "suspended", "closed"]
RoleType = Literal["channel", "deployment"]
ChannelType = Literal["public", "private"]
MessageType = Literal["text", "media"]
NotificationLevel = Literal["default", "muted"]
Order = Literal["asc", "desc"]


class Unset(enum.Enum):
    """Type of :data:`UNSET`, the default of every optional update argument."""

    UNSET = "UNSET"


#: "Leave this field as it is" in ``update_*`` calls (``None`` clears a field that may be null).
UNSET: Final = Unset.UNSET

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list. ``next_cursor`` fetches the next page, ``None`` on the last one."""

    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Account:
    """An account. Its auth token is kept twice: hashed, to check Basic auth, and sealed by
    :class:`hubbub.crypto.SecretBox`, to sign webhooks; ``sealed_auth_token`` is ``None`` for
    an account made before hubbub sealed them (``hubbub keys auth-token`` gives it one)."""

    sid: str
    friendly_name: str
    auth_token_hash: str
    status: AccountStatus
    date_created: datetime
    date_updated: datetime
    sealed_auth_token: str | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key; ``encrypted_secret`` is the secret sealed by :class:`hubbub.crypto.SecretBox`."""

    sid: str
    account_sid: str
    friendly_name: str
    encrypted_secret: str
    revoked: bool
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class ServiceLimits:
    # Defaults as the v2 API description states them; both may be set up to 1,000.
    channel_members: int = 250
    user_channels: int = 100


@dataclass(frozen=True, slots=True)
class NotificationSetting:
    """Push settings for one event; ``badge_count_enabled`` only means something for new
    messages."""

    enabled: bool = False
    template: str | None = None
    sound: str | None = None
    badge_count_enabled: bool = False


@dataclass(frozen=True, slots=True)
class ServiceNotifications:
    new_message: NotificationSetting = NotificationSetting()
    added_to_channel: NotificationSetting = NotificationSetting()
    removed_from_channel: NotificationSetting = NotificationSetting()
    invited_to_channel: NotificationSetting = NotificationSetting()
    log_enabled: bool = False


@dataclass(frozen=True, slots=True)
class ServiceMedia:
    size_limit_mb: int = 150
    compatibility_message: str | None = None
    #: Content types uploads may have (``image/*``, ``application/pdf``); empty: any. A hubbub
    #: extension, set with ``Media.AllowedTypes``.
    allowed_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """What ``POST /v2/Services/{Sid}`` may change about a service, with Twilio's defaults.

    The role SIDs are filled in when the service and its default roles are created.
    """

    default_service_role_sid: str | None = None
    default_channel_role_sid: str | None = None
    default_channel_creator_role_sid: str | None = None
    read_status_enabled: bool = True
    reachability_enabled: bool = False
    typing_indicator_timeout: int = 5
    consumption_report_interval: int = 10
    pre_webhook_url: str | None = None
    post_webhook_url: str | None = None
    webhook_method: str = "POST"
    webhook_filters: tuple[str, ...] = ()
    pre_webhook_retry_count: int = 0
    post_webhook_retry_count: int = 0
    limits: ServiceLimits = ServiceLimits()
    notifications: ServiceNotifications = ServiceNotifications()
    media: ServiceMedia = ServiceMedia()


@dataclass(frozen=True, slots=True)
class Service:
    sid: str
    account_sid: str
    friendly_name: str
    config: ServiceConfig
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class Role:
    sid: str
    service_sid: str
    friendly_name: str
    type: RoleType
    permissions: tuple[str, ...]
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class User:
    sid: str
    service_sid: str
    identity: str
    friendly_name: str | None
    attributes: str
    role_sid: str
    is_online: bool
    is_notifiable: bool
    joined_channels_count: int
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel; ``next_message_index`` is the next message's index (indexes are never reused)."""

    sid: str
    service_sid: str
    unique_name: str | None
    friendly_name: str | None
    attributes: str
    type: ChannelType
    created_by: str
    members_count: int
    messages_count: int
    next_message_index: int
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class Member:
    sid: str
    channel_sid: str
    service_sid: str
    identity: str
    role_sid: str
    last_consumed_message_index: int | None
    last_consumption_timestamp: datetime | None
    attributes: str
    notification_level: NotificationLevel
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class MessageMedia:
    sid: str
    content_type: str
    filename: str | None
    size: int


@dataclass(frozen=True, slots=True)
class Message:
    sid: str
    channel_sid: str
    service_sid: str
    index: int
    from_: str
    body: str
    attributes: str
    type: MessageType
    media: MessageMedia | None
    was_edited: bool
    last_updated_by: str | None
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class Invite:
    sid: str
    channel_sid: str
    service_sid: str
    identity: str
    role_sid: str
    created_by: str | None
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class UserChannel:
    """A channel the user is a member of, seen from the user (``/Users/{Sid}/Channels``)."""

    service_sid: str
    channel_sid: str
    user_sid: str
    member_sid: str
    status: Literal["joined"]
    last_consumed_message_index: int | None
    #: ``None`` while the member has no consumption horizon, as Twilio reports it.
    unread_messages_count: int | None
    notification_level: NotificationLevel


# Channel webhooks ------------------------------------------------------------------------------

#: SID prefix of channel webhooks.
CHANNEL_WEBHOOK = "WH"
#: How many webhooks one channel may have, as on Twilio.
MAX_CHANNEL_WEBHOOKS = 5

WebhookType = Literal["webhook", "trigger", "studio"]


@dataclass(frozen=True, slots=True)
class ChannelWebhook:
    """A webhook target of one channel. A ``webhook`` is called at ``url`` on the events named
    in ``filters``, a ``trigger`` for each message whose body holds one of ``triggers``; a
    ``studio`` one names a Studio flow (``flow_sid``) and has no URL or method."""

    sid: str
    service_sid: str
    channel_sid: str
    type: WebhookType
    url: str | None
    method: str | None
    filters: tuple[str, ...]
    triggers: tuple[str, ...]
    flow_sid: str | None
    #: Attempts after the first that a failed call may take (0-3).
    retry_count: int
    date_created: datetime
    date_updated: datetime


# Token server: built-in login users, their sessions, operator API tokens -----------------------

#: SID prefixes of the token server's own records (not Twilio resources).
LOGIN_USER = "LU"
API_TOKEN = "AT"  # noqa: S105 - a SID prefix, not a secret


@dataclass(frozen=True, slots=True)
class LoginUser:
    """A person who signs in to the token server; only an argon2 hash of the password is kept."""

    sid: str
    username: str
    identity: str
    password_hash: str
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class LoginSession:
    """A signed-in browser. ``secret_hash`` is the SHA-256 (hex) of the cookie's secret; the
    secret itself is never stored. ``identity`` is the user's identity at lookup time."""

    secret_hash: str
    username: str
    identity: str
    expires_at: datetime
    date_created: datetime


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An operator's bearer token; ``token_hash`` is the SHA-256 (hex) of the token."""

    sid: str
    identity: str
    friendly_name: str
    token_hash: str
    revoked: bool
    date_created: datetime
    date_updated: datetime


#: One message of ``Store.create_messages``: (service_sid, channel SID or unique name, from_,
#: body, attributes).
NewMessage = tuple[str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A post-event webhook to send: to ``url`` with ``method``, signed for ``account_sid``.
    Deliveries of one ``lane`` (at most 64 characters: one receiver's webhooks of one channel,
    say) are sent one at a time, in the order they were queued."""

    lane: str
    account_sid: str
    url: str
    method: str
    #: The form parameters, in the order they are sent.
    params: tuple[tuple[str, str], ...]
    #: Attempts after the first that a failure may take.
    retry_count: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """A queued ``NewDelivery``: ``id`` orders it, ``attempts`` counts the tries it had."""

    id: int
    new: NewDelivery
    attempts: int


# The Sync journal ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncEvent:
    """An event of a Sync object (``hubbub.sync``): ``id`` increases per object; ``body`` is
    the event as Twilio's Sync sends it, without its id."""

    object_sid: str
    id: int
    event_type: str
    body: dict[str, Any]


# Media ---------------------------------------------------------------------------------------

#: SID prefix of media.
MEDIA = "ME"
#: What an upload is for, as Twilio's media service names it.
MediaCategory = Literal["media", "body", "history"]


@dataclass(frozen=True, slots=True)
class Media:
    """An uploaded file: who uploaded it and, once a message carries it, which one."""

    sid: str
    account_sid: str
    service_sid: str
    channel_sid: str | None
    message_sid: str | None
    #: The uploading user's identity; ``None`` for the application's server.
    author: str | None
    category: MediaCategory
    filename: str | None
    content_type: str
    size: int
    date_created: datetime
    date_updated: datetime

    def carried(self) -> MessageMedia:
        """What a message that carries it says of it."""
        return MessageMedia(self.sid, self.content_type, self.filename, self.size)


# Push ----------------------------------------------------------------------------------------

#: SID prefixes of push credentials and bindings.
CREDENTIAL = "CR"
BINDING = "BS"
#: Twilio's credential types, and hubbub's own for browsers (Web Push with VAPID).
CredentialType = Literal["fcm", "apn", "gcm", "webpush"]


@dataclass(frozen=True, slots=True)
class Credential:
    """What hubbub needs to reach one push provider for an account's apps."""

    sid: str
    account_sid: str
    friendly_name: str | None
    type: CredentialType
    #: APNs: the sandbox host rather than production.
    sandbox: bool
    #: What is not secret (APNs' key id, team and topic; a VAPID public key...).
    settings: dict[str, Any]
    #: The secrets' JSON, sealed with the master key; never shown.
    sealed: str
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class Binding:
    """One device (or browser) of a user that is told of chat events by push."""

    sid: str
    account_sid: str
    service_sid: str
    identity: str
    credential_sid: str | None
    binding_type: CredentialType
    #: The client's endpoint id (from its access token), as Twilio reports it.
    endpoint: str
    #: The provider's address of the device: a registration token, a device token, or a Web
    #: Push subscription's JSON.
    address: str
    message_types: tuple[str, ...]
    date_created: datetime
    date_updated: datetime
