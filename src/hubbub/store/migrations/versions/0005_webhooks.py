"""Webhooks: the sealed auth token that signs them, channel webhooks, the outbox and leases.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("sealed_auth_token", sa.Text(), nullable=True))
    op.create_table(
        "channel_webhooks",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("service_sid", sa.String(34), nullable=False),
        sa.Column("channel_sid", sa.String(34), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("method", sa.String(8), nullable=True),
        sa.Column("filters", sa.Text(), nullable=False),
        sa.Column("triggers", sa.Text(), nullable=False),
        sa.Column("flow_sid", sa.String(34), nullable=True),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_sid"],
            ["services.sid"],
            name="fk_channel_webhooks_service_sid_services",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_sid"],
            ["channels.sid"],
            name="fk_channel_webhooks_channel_sid_channels",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sid", name="pk_channel_webhooks"),
    )
    op.create_index(
        "ix_channel_webhooks_channel_sid_date_created_sid",
        "channel_webhooks",
        ["channel_sid", "date_created", "sid"],
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lane", sa.String(64), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_due", "outbox", ["due"])
    op.create_index("ix_outbox_lane_id", "outbox", ["lane", "id"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_outbox_lane_id", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_channel_webhooks_channel_sid_date_created_sid", table_name="channel_webhooks")
    op.drop_table("channel_webhooks")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("sealed_auth_token")
