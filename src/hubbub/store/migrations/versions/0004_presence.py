"""Presence across processes and machines: node leases, and who is connected where.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "presence_nodes",
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("lease_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("node", name="pk_presence_nodes"),
    )
    op.create_index("ix_presence_nodes_lease_until", "presence_nodes", ["lease_until"])
    op.create_table(
        "presence",
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("user_sid", sa.String(34), nullable=False),
        sa.ForeignKeyConstraint(
            ["node"],
            ["presence_nodes.node"],
            name="fk_presence_node_presence_nodes",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_sid"], ["users.sid"], name="fk_presence_user_sid_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("node", "user_sid", name="pk_presence"),
    )
    op.create_index("ix_presence_user_sid", "presence", ["user_sid"])


def downgrade() -> None:
    op.drop_index("ix_presence_user_sid", table_name="presence")
    op.drop_table("presence")
    op.drop_index("ix_presence_nodes_lease_until", table_name="presence_nodes")
    op.drop_table("presence_nodes")
