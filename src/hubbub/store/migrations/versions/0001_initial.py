"""The initial schema: every table of the Chat Service store.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Written out in full rather than imported from ``schema.py``: a migration is a snapshot, and must
keep producing this schema after the tables move on. The contract tests check that migrating gives
exactly the tables of ``schema.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sid(name: str = "sid", *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(34), nullable=nullable)


def _parent(table: str, name: str, parent: str) -> list[SchemaItem]:
    return [
        _sid(name),
        sa.ForeignKeyConstraint(
            [name], [f"{parent}.sid"], name=f"fk_{table}_{name}_{parent}", ondelete="CASCADE"
        ),
    ]


def _role(table: str) -> list[SchemaItem]:
    return [
        _sid("role_sid"),
        sa.ForeignKeyConstraint(["role_sid"], ["roles.sid"], name=f"fk_{table}_role_sid_roles"),
    ]


def _dates() -> list[SchemaItem]:
    return [
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_updated", sa.DateTime(timezone=True), nullable=False),
    ]


def _table(name: str, *items: SchemaItem | list[SchemaItem]) -> None:
    flat: list[SchemaItem] = [sa.PrimaryKeyConstraint("sid", name=f"pk_{name}")]
    for item in items:
        flat.extend(item if isinstance(item, list) else [item])
    op.create_table(name, _sid(), *flat)


def _index(table: str, *columns: str, unique: bool = False) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns), unique=unique)


def upgrade() -> None:
    _table(
        "accounts",
        sa.Column("friendly_name", sa.Text(), nullable=False),
        sa.Column("auth_token_hash", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _dates(),
    )
    _index("accounts", "date_created", "sid")

    _table(
        "api_keys",
        _parent("api_keys", "account_sid", "accounts"),
        sa.Column("friendly_name", sa.Text(), nullable=False),
        sa.Column("encrypted_secret", sa.Text(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        _dates(),
    )
    _index("api_keys", "account_sid", "date_created", "sid")

    _table(
        "services",
        _parent("services", "account_sid", "accounts"),
        sa.Column("friendly_name", sa.Text(), nullable=False),
        _sid("default_service_role_sid", nullable=True),
        _sid("default_channel_role_sid", nullable=True),
        _sid("default_channel_creator_role_sid", nullable=True),
        sa.Column("read_status_enabled", sa.Boolean(), nullable=False),
        sa.Column("reachability_enabled", sa.Boolean(), nullable=False),
        sa.Column("typing_indicator_timeout", sa.Integer(), nullable=False),
        sa.Column("consumption_report_interval", sa.Integer(), nullable=False),
        sa.Column("pre_webhook_url", sa.Text(), nullable=True),
        sa.Column("post_webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_method", sa.String(8), nullable=False),
        sa.Column("pre_webhook_retry_count", sa.Integer(), nullable=False),
        sa.Column("post_webhook_retry_count", sa.Integer(), nullable=False),
        sa.Column("webhook_filters", sa.Text(), nullable=False),
        sa.Column("limits", sa.Text(), nullable=False),
        sa.Column("notifications", sa.Text(), nullable=False),
        sa.Column("media", sa.Text(), nullable=False),
        _dates(),
    )
    _index("services", "account_sid", "date_created", "sid")

    _table(
        "roles",
        _parent("roles", "service_sid", "services"),
        sa.Column("friendly_name", sa.Text(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("permissions", sa.Text(), nullable=False),
        _dates(),
    )
    _index("roles", "service_sid", "date_created", "sid")

    _table(
        "users",
        _parent("users", "service_sid", "services"),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("friendly_name", sa.Text(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        _role("users"),
        sa.Column("is_online", sa.Boolean(), nullable=False),
        sa.Column("is_notifiable", sa.Boolean(), nullable=False),
        sa.Column("joined_channels_count", sa.Integer(), nullable=False),
        _dates(),
    )
    _index("users", "service_sid", "identity", unique=True)
    _index("users", "service_sid", "date_created", "sid")

    _table(
        "channels",
        _parent("channels", "service_sid", "services"),
        sa.Column("unique_name", sa.Text(), nullable=True),
        sa.Column("friendly_name", sa.Text(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("members_count", sa.Integer(), nullable=False),
        sa.Column("messages_count", sa.Integer(), nullable=False),
        sa.Column("next_message_index", sa.Integer(), nullable=False),
        _dates(),
    )
    _index("channels", "service_sid", "unique_name", unique=True)
    _index("channels", "service_sid", "date_created", "sid")

    _table(
        "members",
        _parent("members", "channel_sid", "channels"),
        _parent("members", "service_sid", "services"),
        sa.Column("identity", sa.Text(), nullable=False),
        _role("members"),
        sa.Column("last_consumed_message_index", sa.Integer(), nullable=True),
        sa.Column("last_consumption_timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("notification_level", sa.String(16), nullable=False),
        _dates(),
    )
    _index("members", "channel_sid", "identity", unique=True)
    _index("members", "channel_sid", "date_created", "sid")
    _index("members", "service_sid", "identity", "date_created", "sid")

    _table(
        "messages",
        _parent("messages", "channel_sid", "channels"),
        _parent("messages", "service_sid", "services"),
        sa.Column("message_index", sa.Integer(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("media", sa.Text(), nullable=True),
        sa.Column("was_edited", sa.Boolean(), nullable=False),
        sa.Column("last_updated_by", sa.Text(), nullable=True),
        _dates(),
    )
    _index("messages", "channel_sid", "message_index", unique=True)

    _table(
        "invites",
        _parent("invites", "channel_sid", "channels"),
        _parent("invites", "service_sid", "services"),
        sa.Column("identity", sa.Text(), nullable=False),
        _role("invites"),
        sa.Column("created_by", sa.Text(), nullable=True),
        _dates(),
    )
    _index("invites", "channel_sid", "identity", unique=True)
    _index("invites", "channel_sid", "date_created", "sid")


def downgrade() -> None:
    for table in (
        "invites",
        "messages",
        "members",
        "channels",
        "users",
        "roles",
        "services",
        "api_keys",
        "accounts",
    ):
        op.drop_table(table)
