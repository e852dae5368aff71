"""The tables, defined once for every backend; the migrations must produce exactly these.

Children point at their parents with ``ON DELETE CASCADE``, so deleting an account, service or
channel removes everything under it in one statement. Lists page by ``(parent, date_created, sid)``
or by ``(channel_sid, message_index)``, hence the composite indexes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so that migrations can name what they alter on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in and comes out as an aware UTC datetime, whatever is stored."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes aware datetimes")
        value = value.astimezone(UTC)
        # SQLite keeps the text without an offset, so it must be UTC before it is written.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sid(name: str = "sid", **kwargs: Any) -> Column[str]:
    return Column(name, String(34), **kwargs)


def _parent(name: str, table: str) -> Column[str]:
    return Column(name, String(34), ForeignKey(f"{table}.sid", ondelete="CASCADE"), nullable=False)


def _dates() -> list[Column[datetime]]:
    return [
        Column("date_created", UTCDateTime(), nullable=False),
        Column("date_updated", UTCDateTime(), nullable=False),
    ]


accounts = Table(
    "accounts",
    metadata,
    _sid(primary_key=True),
    Column("friendly_name", Text, nullable=False),
    Column("auth_token_hash", Text, nullable=False),
    # The auth token sealed by the master key, for signing webhooks (X-Twilio-Signature); the
    # hash checks REST credentials without opening it. NULL for accounts made before 0005.
    Column("sealed_auth_token", Text),
    Column("status", String(16), nullable=False),
    *_dates(),
    Index(None, "date_created", "sid"),
)

api_keys = Table(
    "api_keys",
    metadata,
    _sid(primary_key=True),
    _parent("account_sid", "accounts"),
    Column("friendly_name", Text, nullable=False),
    Column("encrypted_secret", Text, nullable=False),
    Column("revoked", Boolean, nullable=False),
    *_dates(),
    Index(None, "account_sid", "date_created", "sid"),
)

services = Table(
    "services",
    metadata,
    _sid(primary_key=True),
    _parent("account_sid", "accounts"),
    Column("friendly_name", Text, nullable=False),
    # No foreign keys to roles: roles point at their service; a cycle would only hinder deletes.
    _sid("default_service_role_sid"),
    _sid("default_channel_role_sid"),
    _sid("default_channel_creator_role_sid"),
    Column("read_status_enabled", Boolean, nullable=False),
    Column("reachability_enabled", Boolean, nullable=False),
    Column("typing_indicator_timeout", Integer, nullable=False),
    Column("consumption_report_interval", Integer, nullable=False),
    Column("pre_webhook_url", Text),
    Column("post_webhook_url", Text),
    Column("webhook_method", String(8), nullable=False),
    Column("pre_webhook_retry_count", Integer, nullable=False),
    Column("post_webhook_retry_count", Integer, nullable=False),
    # Nested settings as JSON text: read whole, written whole, never queried inside.
    Column("webhook_filters", Text, nullable=False),
    Column("limits", Text, nullable=False),
    Column("notifications", Text, nullable=False),
    Column("media", Text, nullable=False),
    *_dates(),
    Index(None, "account_sid", "date_created", "sid"),
)

roles = Table(
    "roles",
    metadata,
    _sid(primary_key=True),
    _parent("service_sid", "services"),
    Column("friendly_name", Text, nullable=False),
    Column("type", String(16), nullable=False),
    Column("permissions", Text, nullable=False),
    *_dates(),
    Index(None, "service_sid", "date_created", "sid"),
)


def _role() -> Column[str]:
    # No cascade: a role still in use cannot be deleted (the store reports a Conflict first).
    return Column("role_sid", String(34), ForeignKey("roles.sid"), nullable=False)


users = Table(
    "users",
    metadata,
    _sid(primary_key=True),
    _parent("service_sid", "services"),
    Column("identity", Text, nullable=False),
    Column("friendly_name", Text),
    Column("attributes", Text, nullable=False),
    _role(),
    Column("is_online", Boolean, nullable=False),
    Column("is_notifiable", Boolean, nullable=False),
    Column("joined_channels_count", Integer, nullable=False),
    *_dates(),
    Index(None, "service_sid", "identity", unique=True),
    Index(None, "service_sid", "date_created", "sid"),
)

channels = Table(
    "channels",
    metadata,
    _sid(primary_key=True),
    _parent("service_sid", "services"),
    Column("unique_name", Text),
    Column("friendly_name", Text),
    Column("attributes", Text, nullable=False),
    Column("type", String(16), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("members_count", Integer, nullable=False),
    Column("messages_count", Integer, nullable=False),
    # Bumped in the same transaction as each message insert: the index source, never reused.
    Column("next_message_index", Integer, nullable=False),
    *_dates(),
    # NULLs never collide in a unique index, on SQLite and PostgreSQL alike.
    Index(None, "service_sid", "unique_name", unique=True),
    Index(None, "service_sid", "date_created", "sid"),
)

members = Table(
    "members",
    metadata,
    _sid(primary_key=True),
    _parent("channel_sid", "channels"),
    _parent("service_sid", "services"),
    Column("identity", Text, nullable=False),
    _role(),
    Column("last_consumed_message_index", Integer),
    Column("last_consumption_timestamp", UTCDateTime()),
    Column("attributes", Text, nullable=False),
    Column("notification_level", String(16), nullable=False),
    *_dates(),
    Index(None, "channel_sid", "identity", unique=True),
    Index(None, "channel_sid", "date_created", "sid"),
    # A user's channels: /Users/{Sid}/Channels and the counters kept when a user goes.
    Index(None, "service_sid", "identity", "date_created", "sid"),
)

messages = Table(
    "messages",
    metadata,
    _sid(primary_key=True),
    _parent("channel_sid", "channels"),
    _parent("service_sid", "services"),
    Column("message_index", Integer, nullable=False),
    Column("author", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("attributes", Text, nullable=False),
    Column("type", String(8), nullable=False),
    Column("media", Text),
    Column("was_edited", Boolean, nullable=False),
    Column("last_updated_by", Text),
    *_dates(),
    Index(None, "channel_sid", "message_index", unique=True),
)

invites = Table(
    "invites",
    metadata,
    _sid(primary_key=True),
    _parent("channel_sid", "channels"),
    _parent("service_sid", "services"),
    Column("identity", Text, nullable=False),
    _role(),
    Column("created_by", Text),
    *_dates(),
    Index(None, "channel_sid", "identity", unique=True),
    Index(None, "channel_sid", "date_created", "sid"),
    Index(None, "service_sid", "identity", "date_created", "sid"),
)

# The token server's tables: not Twilio resources, and owned by no account.

login_users = Table(
    "login_users",
    metadata,
    _sid(primary_key=True),
    Column("username", Text, nullable=False),
    Column("identity", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    *_dates(),
    Index(None, "username", unique=True),
    Index(None, "date_created", "sid"),
)

login_sessions = Table(
    "login_sessions",
    metadata,
    # SHA-256 hex of the cookie's random secret: the secret itself is never stored.
    Column("secret_hash", String(64), primary_key=True),
    _parent("user_sid", "login_users"),
    # Unix seconds: compared on every token request, where parsing a date would cost more.
    Column("expires", Integer, nullable=False),
    Column("date_created", UTCDateTime(), nullable=False),
    Index(None, "expires"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    _sid(primary_key=True),
    Column("identity", Text, nullable=False),
    Column("friendly_name", Text, nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("revoked", Boolean, nullable=False),
    *_dates(),
    Index(None, "token_hash", unique=True),
    Index(None, "date_created", "sid"),
)

# Who is connected where, for reachability across processes and machines: a node (one server
# process) holds a lease it renews; a row says it has a connection of the user. A user is
# online while a row of theirs belongs to a node whose lease has not run out.
presence_nodes = Table(
    "presence_nodes",
    metadata,
    Column("node", String(64), primary_key=True),
    # Unix seconds, on the nodes' clocks (compared often; no date parsing).
    Column("lease_until", Float, nullable=False),
    Index(None, "lease_until"),
)

presence = Table(
    "presence",
    metadata,
    Column(
        "node",
        String(64),
        ForeignKey("presence_nodes.node", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "user_sid",
        String(34),
        ForeignKey("users.sid", ondelete="CASCADE"),
        primary_key=True,
    ),
    Index(None, "user_sid"),
)

# Channel-scoped webhooks (/v2/Services/{IS}/Channels/{CH}/Webhooks): ``filters`` and
# ``triggers`` are JSON lists of strings.
channel_webhooks = Table(
    "channel_webhooks",
    metadata,
    _sid(primary_key=True),
    _parent("service_sid", "services"),
    _parent("channel_sid", "channels"),
    Column("type", String(16), nullable=False),
    Column("url", Text),
    Column("method", String(8)),
    Column("filters", Text, nullable=False),
    Column("triggers", Text, nullable=False),
    Column("flow_sid", String(34)),
    Column("retry_count", Integer, nullable=False),
    *_dates(),
    Index(None, "channel_sid", "date_created", "sid"),
)

# Post-event webhooks waiting to be delivered, written before the action is answered so that
# none is lost to a crash. A lane (one receiver's webhooks of one channel, or of a service's user
# events) is delivered in ``id`` order; ``due`` (Unix seconds, on the courier's clock) is when a
# retried delivery's next attempt may start, 0 for a new one. No foreign keys: what a
# webhook tells of may be deleted before it is delivered.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("lane", String(64), nullable=False),
    Column("account_sid", String(34), nullable=False),
    Column("url", Text, nullable=False),
    Column("method", String(8), nullable=False),
    # JSON list of [name, value] pairs, in the order they are sent.
    Column("params", Text, nullable=False),
    Column("retry_count", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("due", Float, nullable=False),
    Index(None, "due"),
    Index(None, "lane", "id"),
)

# Named leases for work one process of a deployment does at a time (the outbox's courier).
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", Text, nullable=False),
    # Unix seconds, on the holders' clocks.
    Column("until", Float, nullable=False),
)

# The journal of the Sync objects Twilio's client SDKs read (``hubbub.sync``): each object's
# last event id, taken under the row's lock so that an object's events commit in id order, and
# its recent events (``body`` is the event's JSON without its id), replayed to a client that
# subscribes naming the last event it saw. ``created`` is Unix seconds, for pruning. No foreign
# keys: an object's last events outlive what they tell of.
sync_objects = Table(
    "sync_objects",
    metadata,
    Column("sid", String(34), primary_key=True),
    Column("last_event_id", BigInteger, nullable=False),
)
sync_events = Table(
    "sync_events",
    metadata,
    Column("object_sid", String(34), primary_key=True),
    Column("id", BigInteger, primary_key=True),
    Column("event_type", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("created", Float, nullable=False),
    Index(None, "created"),
)

# Media (``hubbub.media``): what was uploaded, by whom, and once a message carries it, where.
# A row is written only when its bytes are all stored, so a half-finished upload leaves none.
# ``author`` is the uploading user's identity, ``None`` for the application's server. The bytes
# live in the configured blob store: files on disk, or ``media_chunks`` on PostgreSQL.
media = Table(
    "media",
    metadata,
    _sid(primary_key=True),
    Column("account_sid", String(34), nullable=False),
    _parent("service_sid", "services"),
    Column("channel_sid", String(34)),
    Column("message_sid", String(34)),
    Column("author", Text),
    Column("category", String(16), nullable=False),
    Column("filename", Text),
    Column("content_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    *_dates(),
    Index(None, "message_sid"),
    Index(None, "date_created"),
)

# Media bytes on PostgreSQL, in chunks of at most ``hubbub.media.blobs.CHUNK`` bytes, so that
# neither an upload nor a download holds a whole file in memory. No foreign key: the chunks of an
# upload are written before its ``media`` row.
media_chunks = Table(
    "media_chunks",
    metadata,
    Column("media_sid", String(34), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

# Push credentials (/v2/Credentials): ``sealed`` is the JSON of the secrets (FCM's service
# account, APNs' key or certificate, a Web Push VAPID key), sealed with the master key and never
# returned; ``settings`` is the JSON of what is not secret (APNs' key id, team and topic...).
credentials = Table(
    "credentials",
    metadata,
    _sid(primary_key=True),
    _parent("account_sid", "accounts"),
    Column("friendly_name", Text),
    Column("type", String(8), nullable=False),
    Column("sandbox", Boolean, nullable=False),
    Column("settings", Text, nullable=False),
    Column("sealed", Text, nullable=False),
    *_dates(),
    Index(None, "account_sid", "date_created", "sid"),
)

# Push bindings: one device (or browser) of a user, made by the SDK's registration. ``address``
# is the provider's token (FCM registration id, APNs device token, a Web Push subscription's
# JSON); ``message_types`` is a JSON list of Twilio's message types. A device registers once per
# service and type: registering its address again replaces the binding.
bindings = Table(
    "bindings",
    metadata,
    _sid(primary_key=True),
    Column("account_sid", String(34), nullable=False),
    _parent("service_sid", "services"),
    Column("identity", Text, nullable=False),
    Column("credential_sid", String(34)),
    Column("binding_type", String(16), nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("message_types", Text, nullable=False),
    *_dates(),
    Index(None, "service_sid", "identity"),
    Index(None, "service_sid", "binding_type", "address", unique=True),
    Index(None, "service_sid", "date_created", "sid"),
)
