"""Schema migrations with Alembic, configured in code: no ``alembic.ini`` is needed at run time.

The scripts live in ``migrations/versions``. To add one after changing :mod:`hubbub.store.schema`,
run ``make_revision("sqlite:///scratch.db", "what changed")`` against a database at the current head
and review the generated file.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from hubbub.store.connect import connect
from hubbub.store.db import Backend, transaction

_SCRIPTS = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same for every hubbub process on one database.
_LOCK_KEY = 0x68756262


def _config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.set_main_option("path_separator", "os")
    # env.py runs on this connection, inside the caller's transaction.
    config.attributes["connection"] = conn
    return config


def upgrade(backend: Backend) -> None:
    """Bring the backend's database to the newest schema, in one transaction.

    Concurrent callers are serialized: on SQLite by the write lock taken with ``BEGIN IMMEDIATE``,
    on PostgreSQL by an advisory lock; whoever comes second finds the schema at head.
    """
    with transaction(backend, write=True) as conn:
        if backend.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        command.upgrade(_config(conn), "head")


def migrate(url: str) -> None:
    """Run ``upgrade head`` on the database at ``url``."""
    backend = connect(url)
    try:
        upgrade(backend)
    finally:
        backend.engine.dispose()


def make_revision(url: str, message: str) -> None:
    """Write a new migration script from the difference between ``url``'s schema and the tables."""
    backend = connect(url)
    try:
        with transaction(backend, write=True) as conn:
            command.revision(_config(conn), message=message, autogenerate=True)
    finally:
        backend.engine.dispose()
