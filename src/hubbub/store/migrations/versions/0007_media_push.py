"""Media, and push credentials and bindings.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _dates() -> list[sa.Column[object]]:
    return [
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_updated", sa.DateTime(timezone=True), nullable=False),
    ]


def _cascade(table: str, column: str, parent: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{parent}.sid"], name=f"fk_{table}_{column}_{parent}", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("service_sid", sa.String(34), nullable=False),
        sa.Column("channel_sid", sa.String(34), nullable=True),
        sa.Column("message_sid", sa.String(34), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        *_dates(),
        _cascade("media", "service_sid", "services"),
        sa.PrimaryKeyConstraint("sid", name="pk_media"),
    )
    op.create_index("ix_media_message_sid", "media", ["message_sid"])
    op.create_index("ix_media_date_created", "media", ["date_created"])
    op.create_table(
        "media_chunks",
        sa.Column("media_sid", sa.String(34), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("media_sid", "seq", name="pk_media_chunks"),
    )
    op.create_table(
        "credentials",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("friendly_name", sa.Text(), nullable=True),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        *_dates(),
        _cascade("credentials", "account_sid", "accounts"),
        sa.PrimaryKeyConstraint("sid", name="pk_credentials"),
    )
    op.create_index(
        "ix_credentials_account_sid_date_created_sid",
        "credentials",
        ["account_sid", "date_created", "sid"],
    )
    op.create_table(
        "bindings",
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("service_sid", sa.String(34), nullable=False),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("credential_sid", sa.String(34), nullable=True),
        sa.Column("binding_type", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("message_types", sa.Text(), nullable=False),
        *_dates(),
        _cascade("bindings", "service_sid", "services"),
        sa.PrimaryKeyConstraint("sid", name="pk_bindings"),
    )
    op.create_index("ix_bindings_service_sid_identity", "bindings", ["service_sid", "identity"])
    op.create_index(
        "ix_bindings_service_sid_binding_type_address",
        "bindings",
        ["service_sid", "binding_type", "address"],
        unique=True,
    )
    op.create_index(
        "ix_bindings_service_sid_date_created_sid",
        "bindings",
        ["service_sid", "date_created", "sid"],
    )


def downgrade() -> None:
    op.drop_table("bindings")
    op.drop_table("credentials")
    op.drop_table("media_chunks")
    op.drop_table("media")
