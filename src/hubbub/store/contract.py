"""The storage contract every backend honours, and that the one contract test suite checks.

One file on purpose, though over 500 lines: it is the one place a backend's author reads, every
method with its promise, and the conventions below hold for all of them.

Conventions shared by every method:

- Scoping: an account owns services and API keys; a service owns roles, users and channels; a
  channel owns members, messages, invites and webhooks. Every call names the parents, and a
  resource outside them is :class:`~hubbub.store.errors.NotFound`, exactly like one that does not
  exist.
- References: ``channel`` is a channel SID or unique name; a user or member ``ref`` is a SID or an
  identity. A value shaped like the SID is taken as the SID (natural keys may not look like SIDs).
- Lists return a :class:`~hubbub.store.records.Page` of at most ``limit`` items; pass its
  ``next_cursor`` back as ``cursor`` for the next page. Resources sort by ``(date_created, sid)``,
  messages by index.
- Updates take :data:`~hubbub.store.records.UNSET` for "leave as is"; every update stamps
  ``date_updated`` unless given. Explicit dates must be timezone-aware; they are kept in UTC,
  truncated to whole seconds.
- Errors: ``NotFound``, ``Conflict`` (a unique key is taken, or a role is in use),
  ``LimitExceeded`` (service limits), ``InvalidCursor``; ``ValueError`` for arguments the caller
  should have validated.
- Every call is one transaction. Calls are blocking; the store is safe to share between threads.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from hubbub.store.db import C
from hubbub.store.errors import NotFound
from hubbub.store.records import (
    UNSET,
    Account,
    AccountStatus,
    ApiKey,
    ApiToken,
    Binding,
    Channel,
    ChannelType,
    ChannelWebhook,
    Credential,
    CredentialType,
    Delivery,
    Invite,
    LoginSession,
    LoginUser,
    Media,
    MediaCategory,
    Member,
    Message,
    MessageMedia,
    NewDelivery,
    NewMessage,
    NotificationLevel,
    Order,
    Page,
    Role,
    RoleType,
    Service,
    ServiceConfig,
    SyncEvent,
    Unset,
    User,
    UserChannel,
    WebhookType,
)


class Store(Protocol):
    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        ...

    def close(self) -> None:
        """Release every connection; the store is unusable afterwards."""

    def atomic(self) -> AbstractContextManager[None]:
        """A block whose store calls (in this thread) are one transaction: all committed when it
        ends, none if it raises. Blocks nest. Each write inside is a savepoint: one that raises
        (``Conflict``, ``LimitExceeded``...) undoes only its own changes, so the block may
        catch it and go on."""
        ...

    def collector(self, key: Hashable, make: Callable[[], C]) -> C | None:
        """Inside an ``atomic`` block: the block's collector for ``key``, made by ``make`` the
        first time, whose ``flush`` runs once the block's work is done, before it commits (and
        is dropped if the block raises); ``None`` outside a block."""
        ...

    # Accounts and API keys ------------------------------------------------------------------------

    def create_account(
        self,
        *,
        friendly_name: str,
        auth_token_hash: str,
        status: AccountStatus = "active",
        sid: str | None = None,
        sealed_auth_token: str | None = None,
    ) -> Account:
        """Create an account; ``sid`` may be given (bootstrap), else a new ``AC`` SID is made.

        ``sealed_auth_token`` is the auth token sealed by :class:`hubbub.crypto.SecretBox`
        (what webhooks are signed with), ``auth_token_hash`` its hash (what Basic auth checks).
        """
        ...

    def get_account(self, sid: str) -> Account: ...

    def list_accounts(self, *, limit: int = 50, cursor: str | None = None) -> Page[Account]: ...

    def update_account(
        self,
        sid: str,
        *,
        friendly_name: str | Unset = UNSET,
        auth_token_hash: str | Unset = UNSET,
        status: AccountStatus | Unset = UNSET,
        sealed_auth_token: str | Unset | None = UNSET,
    ) -> Account:
        """A new auth token changes ``auth_token_hash`` and ``sealed_auth_token`` together."""
        ...

    def delete_account(self, sid: str) -> None:
        """Delete the account with its API keys and services (and everything under them)."""

    def create_api_key(
        self,
        account_sid: str,
        *,
        friendly_name: str,
        encrypted_secret: str,
        sid: str | None = None,
    ) -> ApiKey:
        """Store a key whose secret the caller sealed with :class:`hubbub.crypto.SecretBox`."""
        ...

    def get_api_key(self, sid: str) -> ApiKey:
        """Look a key up by SID alone, as authentication must; compare ``account_sid`` yourself."""
        ...

    def list_api_keys(
        self, account_sid: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[ApiKey]: ...

    def update_api_key(
        self,
        account_sid: str,
        sid: str,
        *,
        friendly_name: str | Unset = UNSET,
        revoked: bool | Unset = UNSET,
    ) -> ApiKey: ...

    def delete_api_key(self, account_sid: str, sid: str) -> None: ...

    def sealed_secret(self) -> str | None:
        """One sealed value: an API key secret (revoked keys' included) or, when there is
        none, a sealed auth token; ``None`` when nothing is sealed. What tells whether a master
        key opens this database."""
        ...

    def reseal_secrets(self, reseal: Callable[[str], str]) -> int:
        """Replace every sealed value, API key secrets and sealed auth tokens, with
        ``reseal(sealed)``, all in one transaction (none if ``reseal`` raises); returns how
        many. These are the only sealed values the store holds."""
        ...

    # Services and roles ---------------------------------------------------------------------------

    def create_service(self, account_sid: str, *, friendly_name: str) -> Service:
        """Create a service with Twilio's default configuration and its four default roles."""
        ...

    def get_service(self, account_sid: str, sid: str) -> Service: ...

    def list_services(
        self, account_sid: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Service]: ...

    def update_service(
        self,
        account_sid: str,
        sid: str,
        *,
        friendly_name: str | Unset = UNSET,
        config: ServiceConfig | Unset = UNSET,
    ) -> Service:
        """Replace the configuration whole (build it with ``dataclasses.replace``).

        Default role SIDs in it must name roles of this service (else NotFound).
        """
        ...

    def delete_service(self, account_sid: str, sid: str) -> None:
        """Delete the service and everything in it."""

    def create_role(
        self,
        service_sid: str,
        *,
        friendly_name: str,
        type: RoleType,
        permissions: Sequence[str],
    ) -> Role: ...

    def get_role(self, service_sid: str, sid: str) -> Role: ...

    def list_roles(
        self, service_sid: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Role]: ...

    def update_role(
        self,
        service_sid: str,
        sid: str,
        *,
        friendly_name: str | Unset = UNSET,
        permissions: Sequence[str] | Unset = UNSET,
    ) -> Role: ...

    def delete_role(self, service_sid: str, sid: str) -> None:
        """Conflict while the role is a service default or held by a user, member or invite."""

    # Users ----------------------------------------------------------------------------------------

    def create_user(
        self,
        service_sid: str,
        identity: str,
        *,
        role_sid: str | None = None,
        friendly_name: str | None = None,
        attributes: str = "{}",
    ) -> User:
        """Create a user; the role defaults to the service's default service role.

        Conflict when the identity is taken.
        """
        ...

    def get_user(self, service_sid: str, ref: str) -> User: ...

    def get_users(self, service_sid: str, identities: Collection[str]) -> list[User]:
        """The users of these identities that exist, in any order."""
        ...

    def list_users(
        self, service_sid: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[User]: ...

    def update_user(
        self,
        service_sid: str,
        ref: str,
        *,
        role_sid: str | Unset = UNSET,
        friendly_name: str | Unset | None = UNSET,
        attributes: str | Unset = UNSET,
        is_online: bool | Unset = UNSET,
        is_notifiable: bool | Unset = UNSET,
    ) -> User: ...

    def mark_all_offline(self) -> int:
        """Set every user of every service offline (a server that starts has no connections
        yet, whatever a crashed one left behind); how many were online."""
        ...

    def delete_user(self, service_sid: str, ref: str) -> None:
        """Delete the user and its memberships, keeping channel member counts right."""

    def list_user_channels(
        self, service_sid: str, user: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[UserChannel]:
        """The channels the user has joined, oldest membership first."""
        ...

    def get_user_channel(self, service_sid: str, user: str, channel: str) -> UserChannel: ...

    # Channels -------------------------------------------------------------------------------------

    def create_channel(
        self,
        service_sid: str,
        *,
        friendly_name: str | None = None,
        unique_name: str | None = None,
        attributes: str = "{}",
        type: ChannelType = "public",
        created_by: str = "system",
        date_created: datetime | None = None,
        date_updated: datetime | None = None,
    ) -> Channel:
        """Conflict when ``unique_name`` is taken in the service."""
        ...

    def get_channel(self, service_sid: str, ref: str) -> Channel: ...

    def get_channels(self, sids: Collection[str]) -> list[Channel]:
        """The channels of these SIDs that exist, in any order and service."""
        ...

    def list_channels(
        self,
        service_sid: str,
        *,
        types: Collection[ChannelType] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Channel]:
        """All channels of the service, or only those of the given ``types``."""
        ...

    def update_channel(
        self,
        service_sid: str,
        ref: str,
        *,
        friendly_name: str | Unset | None = UNSET,
        unique_name: str | Unset | None = UNSET,
        attributes: str | Unset = UNSET,
        created_by: str | Unset = UNSET,
        date_created: datetime | Unset = UNSET,
        date_updated: datetime | Unset = UNSET,
    ) -> Channel: ...

    def delete_channel(self, service_sid: str, ref: str) -> None:
        """Delete the channel with its members, messages, invites and webhooks."""

    # Members --------------------------------------------------------------------------------------

    def create_member(
        self,
        service_sid: str,
        channel: str,
        identity: str,
        *,
        role_sid: str | None = None,
        last_consumed_message_index: int | None = None,
        last_consumption_timestamp: datetime | None = None,
        attributes: str = "{}",
        date_created: datetime | None = None,
        date_updated: datetime | None = None,
    ) -> Member:
        """Add ``identity`` to the channel, creating its user on first sight.

        The role defaults to the service's default channel role. Counts the member on the channel
        and the channel on the user; Conflict (code 50404) when already a member; LimitExceeded
        past the service's ``channel_members`` or ``user_channels``.
        """
        ...

    def get_member(self, service_sid: str, channel: str, ref: str) -> Member: ...

    def list_members(
        self,
        service_sid: str,
        channel: str,
        *,
        identities: Collection[str] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Member]: ...

    def update_member(
        self,
        service_sid: str,
        channel: str,
        ref: str,
        *,
        role_sid: str | Unset = UNSET,
        last_consumed_message_index: int | Unset | None = UNSET,
        last_consumption_timestamp: datetime | Unset | None = UNSET,
        attributes: str | Unset = UNSET,
        notification_level: NotificationLevel | Unset = UNSET,
        date_created: datetime | Unset = UNSET,
        date_updated: datetime | Unset = UNSET,
    ) -> Member:
        """Setting ``last_consumed_message_index`` without a timestamp stamps it with now."""
        ...

    def delete_member(self, service_sid: str, channel: str, ref: str) -> None: ...

    # Messages -------------------------------------------------------------------------------------

    def create_message(
        self,
        service_sid: str,
        channel: str,
        *,
        body: str = "",
        from_: str = "system",
        attributes: str = "{}",
        media: MessageMedia | None = None,
        last_updated_by: str | None = None,
        date_created: datetime | None = None,
        date_updated: datetime | None = None,
    ) -> Message:
        """Append a message with the channel's next index (atomic across threads and processes)."""
        ...

    def create_messages(self, batch: Sequence[NewMessage]) -> list[Message | NotFound]:
        """Append text messages in one transaction (group commit). A channel's messages keep
        their order in ``batch`` and take consecutive indexes; a missing channel gives
        ``NotFound`` in its messages' places while the others are stored."""
        ...

    def get_message(self, service_sid: str, channel: str, sid: str) -> Message: ...

    def list_messages(
        self,
        service_sid: str,
        channel: str,
        *,
        order: Order = "asc",
        start_index: int | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Message]:
        """Messages by index, from ``start_index`` (inclusive) when given, in ``order``."""
        ...

    def update_message(
        self,
        service_sid: str,
        channel: str,
        sid: str,
        *,
        body: str | Unset = UNSET,
        attributes: str | Unset = UNSET,
        from_: str | Unset = UNSET,
        last_updated_by: str | Unset | None = UNSET,
        date_created: datetime | Unset = UNSET,
        date_updated: datetime | Unset = UNSET,
    ) -> Message:
        """Changing ``body`` marks the message ``was_edited``."""
        ...

    def delete_message(self, service_sid: str, channel: str, sid: str) -> None:
        """Delete one message; its index is never given out again."""

    # Invites --------------------------------------------------------------------------------------

    def create_invite(
        self,
        service_sid: str,
        channel: str,
        identity: str,
        *,
        role_sid: str | None = None,
        created_by: str | None = None,
    ) -> Invite:
        """Conflict when ``identity`` already has an invite to the channel."""
        ...

    def get_invite(self, service_sid: str, channel: str, sid: str) -> Invite: ...

    def list_invites(
        self,
        service_sid: str,
        channel: str,
        *,
        identities: Collection[str] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Invite]: ...

    def list_user_invites(
        self, service_sid: str, identity: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Invite]:
        """The invites ``identity`` has to channels of the service, oldest first."""
        ...

    def delete_invite(self, service_sid: str, channel: str, sid: str) -> None: ...

    # Channel webhooks -----------------------------------------------------------------------------

    def create_channel_webhook(
        self,
        service_sid: str,
        channel: str,
        *,
        type: WebhookType,
        url: str | None = None,
        method: str | None = None,
        filters: Sequence[str] = (),
        triggers: Sequence[str] = (),
        flow_sid: str | None = None,
        retry_count: int = 0,
    ) -> ChannelWebhook:
        """Add a webhook to the channel; LimitExceeded (limit ``channel_webhooks``) when it has
        :data:`~hubbub.store.records.MAX_CHANNEL_WEBHOOKS` (5) already, counted so that
        concurrent creates never pass it.

        Only ``type`` and ``retry_count`` (0-3) are checked here: what each type needs (a URL,
        filters that are event names, trigger words) is the caller's to check.
        """
        ...

    def get_channel_webhook(self, service_sid: str, channel: str, sid: str) -> ChannelWebhook: ...

    def list_channel_webhooks(
        self, service_sid: str, channel: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[ChannelWebhook]: ...

    def update_channel_webhook(
        self,
        service_sid: str,
        channel: str,
        sid: str,
        *,
        url: str | Unset | None = UNSET,
        method: str | Unset | None = UNSET,
        filters: Sequence[str] | Unset = UNSET,
        triggers: Sequence[str] | Unset = UNSET,
        flow_sid: str | Unset | None = UNSET,
        retry_count: int | Unset = UNSET,
    ) -> ChannelWebhook:
        """Change what is given, keep the rest; the type never changes."""
        ...

    def delete_channel_webhook(self, service_sid: str, channel: str, sid: str) -> None: ...

    def channel_webhooks(self, service_sid: str, channel_sid: str) -> list[ChannelWebhook]:
        """All the webhooks of the channel with this SID (not a unique name), oldest first: what
        the webhook sender reads for each event. An empty list for a channel that does not
        exist in the service, never NotFound."""
        ...

    # Token server: login users, login sessions, API tokens ------------------------------------

    # Presence across nodes ---------------------------------------------------------------------

    def join_presence(
        self, node: str, service_sid: str, identity: str, *, now: float, lease_until: float
    ) -> User | None:
        """``identity`` has a connection on ``node``, whose lease is renewed to ``lease_until``
        (Unix seconds). If no other node with a lease past ``now`` had them, the user is marked
        online and returned; else ``None``. ``NotFound`` for a missing user."""
        ...

    def leave_presence(
        self, node: str, service_sid: str, identity: str, *, now: float
    ) -> User | None:
        """``identity`` has no connection on ``node`` any more. If no live node has them and
        they were online, they are marked offline and returned; else ``None``."""
        ...

    def renew_presence(self, node: str, *, lease_until: float) -> bool:
        """Extend ``node``'s lease; ``False`` if it had none any more (other nodes expired it,
        and its rows with it: the node must join its users again)."""
        ...

    def expire_presence(self, *, now: float, nodes: Collection[str] = ()) -> list[tuple[str, User]]:
        """Forget the nodes whose lease ran out by ``now``, and ``nodes``; mark offline the
        users no live node has any more and return them with their account SIDs."""
        ...

    def create_login_user(self, username: str, *, identity: str, password_hash: str) -> LoginUser:
        """Conflict when ``username`` is taken. ``password_hash`` is never a password in clear."""
        ...

    def get_login_user(self, username: str) -> LoginUser: ...

    def list_login_users(
        self, *, limit: int = 50, cursor: str | None = None
    ) -> Page[LoginUser]: ...

    def update_login_user(
        self,
        username: str,
        *,
        identity: str | Unset = UNSET,
        password_hash: str | Unset = UNSET,
    ) -> LoginUser:
        """Changing the password ends every session of the user."""
        ...

    def rehash_login_user(self, username: str, *, old_hash: str, new_hash: str) -> bool:
        """Store a new hash of the same password (made with newer settings) in place of
        ``old_hash``, keeping the user's sessions; nothing is written if the hash is no longer
        ``old_hash`` (the password changed meanwhile). Whether it was written."""
        ...

    def delete_login_user(self, username: str) -> None:
        """Delete the user and end all its sessions."""

    def create_login_session(
        self, username: str, *, secret_hash: str, expires_at: datetime
    ) -> LoginSession: ...

    def get_login_session(self, secret_hash: str) -> LoginSession:
        """The session, expired or not (the caller compares ``expires_at``); NotFound after
        logout."""
        ...

    def delete_login_session(self, secret_hash: str) -> bool:
        """End a session; whether there was one."""
        ...

    def delete_expired_login_sessions(self, now: datetime) -> int:
        """Forget sessions that expired before ``now``; how many there were."""
        ...

    def create_api_token(self, *, identity: str, friendly_name: str, token_hash: str) -> ApiToken:
        """Store a bearer token by its hash; the token itself is never stored."""
        ...

    def get_api_token(self, sid: str) -> ApiToken: ...

    def find_api_token(self, token_hash: str) -> ApiToken:
        """The token with this hash, revoked or not; NotFound when none."""
        ...

    def list_api_tokens(self, *, limit: int = 50, cursor: str | None = None) -> Page[ApiToken]: ...

    def update_api_token(
        self,
        sid: str,
        *,
        friendly_name: str | Unset = UNSET,
        revoked: bool | Unset = UNSET,
    ) -> ApiToken: ...

    # The outbox of post-event webhooks, and leases --------------------------------------------

    def queue_deliveries(self, deliveries: Sequence[NewDelivery]) -> None:
        """Queue webhooks to send at once; inside ``atomic``, with the action that caused
        them. (Only retries wait, until a time on the courier's own clock: the clocks of the
        processes queueing need not agree with it.)"""

    def due_deliveries(
        self, *, now: float, limit: int, busy: Collection[str] = ()
    ) -> list[Delivery]:
        """Up to ``limit`` deliveries that may be sent now, oldest first: the first of each lane
        and those after it, from lanes neither in ``busy`` (being sent) nor waiting for a retry
        (whose first delivery is due later)."""
        ...

    def settle_deliveries(
        self, *, sent: Collection[int], retry: Sequence[tuple[int, float]] = ()
    ) -> None:
        """Forget the deliveries ``sent`` (or given up); count one more attempt for each of
        ``retry`` (id, when it is next due)."""

    def take_lease(self, name: str, holder: str, *, now: float, until: float) -> bool:
        """Hold the lease ``name`` to ``until``, if it is free, ran out before ``now``, or is
        ``holder``'s already; whether ``holder`` now holds it."""
        ...

    def drop_lease(self, name: str, holder: str) -> None:
        """Give the lease up, if ``holder`` holds it."""

    # The Sync journal ----------------------------------------------------------------------------

    def journal(
        self, events: Sequence[tuple[str, str, dict[str, Any] | None]], *, now: float
    ) -> list[int]:
        """Record ``(object_sid, event_type, body)`` events at ``now`` (Unix seconds), giving
        each the next id of its object; their ids, in order. An event without a body takes
        its id and is not kept (one that replaces all its object shows, which a replay makes
        afresh). Inside ``atomic``, with the action that caused them; an object's events
        commit in the order of their ids."""
        ...

    def last_event_ids(self, object_sids: Sequence[str]) -> dict[str, int]:
        """Each object's last event id (0 for an object without events)."""
        ...

    def events_after(self, object_sid: str, after: int, *, limit: int) -> list[SyncEvent]:
        """Up to ``limit`` of the object's events with an id above ``after``, oldest first."""
        ...

    def first_event_id(self, object_sid: str) -> int | None:
        """The id of the oldest event the journal still has of the object."""
        ...

    def prune_events(self, *, before: float, limit: int = 10_000) -> int:
        """Forget up to ``limit`` of the events recorded before ``before`` (in short writes,
        however far behind the pruning is); how many."""
        ...

    # Media -------------------------------------------------------------------------------------

    def create_media(
        self,
        account_sid: str,
        service_sid: str,
        sid: str,
        *,
        content_type: str,
        size: int,
        author: str | None = None,
        category: MediaCategory = "media",
        filename: str | None = None,
    ) -> Media:
        """Record an upload whose bytes are stored (under ``sid``), carried by no message yet."""
        ...

    def get_media(self, service_sid: str, sid: str, *, live: bool = False) -> Media:
        """The media; with ``live``, ``NotFound`` also once the message that carried it is
        deleted (the sweep frees its bytes later)."""
        ...

    def get_media_many(
        self, service_sid: str, sids: Sequence[str], *, live: bool = False
    ) -> list[Media]:
        """Those of ``sids`` that exist in the service (with ``live``, but for media of
        deleted messages), in no particular order."""
        ...

    def attach_media(
        self, service_sid: str, sid: str, *, channel_sid: str, message_sid: str
    ) -> Media:
        """Record that a message carries the media; ``Conflict`` if another already does."""
        ...

    def delete_media(self, service_sid: str, sid: str, *, unattached: bool = False) -> None:
        """Delete the row; with ``unattached``, only while no message carries it (else
        ``Conflict``)."""
        ...

    def unattached_media(self, before: datetime, *, limit: int = 1000) -> list[Media]:
        """Uploads that no message carries, made before ``before``."""
        ...

    def media_of_deleted_messages(self, *, limit: int = 1000) -> list[Media]:
        """Media whose message is gone (deleted, or its channel)."""
        ...

    def existing_media(self, sids: Sequence[str]) -> set[str]:
        """Those of ``sids`` that have a media row, in any service."""
        ...

    # Push --------------------------------------------------------------------------------------

    def create_credential(
        self,
        account_sid: str,
        *,
        type: CredentialType,
        sealed: str,
        friendly_name: str | None = None,
        sandbox: bool = False,
        settings: Mapping[str, Any] | None = None,
    ) -> Credential:
        """A push credential of the account; ``sealed`` holds its secrets (``reseal_secrets``
        reseals it with the others)."""
        ...

    def get_credential(self, account_sid: str, sid: str) -> Credential: ...

    def list_credentials(
        self, account_sid: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Credential]: ...

    def update_credential(
        self,
        account_sid: str,
        sid: str,
        *,
        friendly_name: str | Unset | None = UNSET,
        sandbox: bool | Unset = UNSET,
        settings: Mapping[str, Any] | Unset = UNSET,
        sealed: str | Unset = UNSET,
    ) -> Credential: ...

    def delete_credential(self, account_sid: str, sid: str) -> None: ...

    def register_binding(
        self,
        account_sid: str,
        service_sid: str,
        *,
        identity: str,
        binding_type: CredentialType,
        address: str,
        endpoint: str,
        message_types: Sequence[str],
        credential_sid: str | None = None,
    ) -> Binding:
        """The device's binding in the service: new, or the one of its address (of any user
        before) with these values."""
        ...

    def get_binding(self, service_sid: str, sid: str) -> Binding: ...

    def list_bindings(
        self,
        service_sid: str,
        *,
        identities: Sequence[str] = (),
        binding_types: Sequence[str] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Binding]:
        """The service's bindings, oldest first; of these users and types if given."""
        ...

    def bindings_for(
        self, service_sid: str, identities: Sequence[str], message_type: str
    ) -> list[Binding]:
        """The bindings of these users that take ``message_type``."""
        ...

    def delete_binding(self, service_sid: str, sid: str) -> None: ...

    def forget_address(self, service_sid: str, binding_type: str, address: str) -> int:
        """Delete the service's binding of an address its provider said is dead (no other
        service's); how many."""
        ...

    # What push notifications read -------------------------------------------------------------

    def channel_audience(self, channel_sid: str) -> list[tuple[str, str]]:
        """Every member of the channel: (identity, notification level)."""
        ...

    def unread_counts(self, service_sid: str, identities: Collection[str]) -> dict[str, int]:
        """Per user (each of ``identities``): the messages after their read horizon in all
        their channels of the service, counted by index (every message of a channel they never
        read)."""
        ...
