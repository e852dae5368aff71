"""The token server's tables: login users, login sessions, API tokens.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _dates() -> list[sa.Column[datetime]]:
    return [
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_updated", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "login_users",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        *_dates(),
        sa.PrimaryKeyConstraint("sid", name="pk_login_users"),
    )
    op.create_index("ix_login_users_username", "login_users", ["username"], unique=True)
    op.create_index("ix_login_users_date_created_sid", "login_users", ["date_created", "sid"])

    op.create_table(
        "login_sessions",
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("user_sid", sa.String(34), nullable=False),
        sa.Column("expires", sa.Integer(), nullable=False),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("secret_hash", name="pk_login_sessions"),
        sa.ForeignKeyConstraint(
            ["user_sid"],
            ["login_users.sid"],
            name="fk_login_sessions_user_sid_login_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_login_sessions_expires", "login_sessions", ["expires"])

    op.create_table(
        "api_tokens",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("friendly_name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        *_dates(),
        sa.PrimaryKeyConstraint("sid", name="pk_api_tokens"),
    )
    op.create_index("ix_api_tokens_token_hash", "api_tokens", ["token_hash"], unique=True)
    op.create_index("ix_api_tokens_date_created_sid", "api_tokens", ["date_created", "sid"])


def downgrade() -> None:
    for table in ("api_tokens", "login_sessions", "login_users"):
        op.drop_table(table)
