"""Invites looked up by invitee: the channels a user is invited to.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_invites_service_sid_identity_date_created_sid",
        "invites",
        ["service_sid", "identity", "date_created", "sid"],
    )


def downgrade() -> None:
    op.drop_index("ix_invites_service_sid_identity_date_created_sid", table_name="invites")
