"""The journal of the Sync objects that Twilio's client SDKs read.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_objects",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sid", name="pk_sync_objects"),
    )
    op.create_table(
        "sync_events",
        sa.Column("object_sid", sa.String(34), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("object_sid", "id", name="pk_sync_events"),
    )
    op.create_index("ix_sync_events_created", "sync_events", ["created"])


def downgrade() -> None:
    op.drop_index("ix_sync_events_created", table_name="sync_events")
    op.drop_table("sync_events")
    op.drop_table("sync_objects")
