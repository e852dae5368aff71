"""Alembic's entry point, run by :mod:`hubbub.store.migrate` on a connection it provides."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from hubbub.store.schema import UTCDateTime, metadata


def _render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    # New scripts must not import hubbub's column types: a migration has to keep working after
    # schema.py changes. UTCDateTime is a plain timezone-aware DateTime in the database.
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run hubbub's migrations with hubbub.store.migrate(url), not alembic's CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite can alter little in place; batch mode rebuilds tables when a later migration must.
    render_as_batch=connection.dialect.name == "sqlite",
    render_item=_render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
