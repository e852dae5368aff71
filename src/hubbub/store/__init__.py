"""Storage for the Chat Service: one contract (:class:`Store`), SQLite and PostgreSQL backends.

Typical use::

    store = open_store("sqlite:///hubbub.db")  # or "postgresql://user:pass@host:5432/db"
    account = store.create_account(friendly_name="me", auth_token_hash=hash_auth_token(token))
    service = store.create_service(account.sid, friendly_name="support")
    store.create_message(service.sid, "general", body="hello", from_="alice")

The store is synchronous and thread-safe; async code calls it on worker threads. PostgreSQL needs
the ``postgres`` extra (``pip install 'hubbub[postgres]'``); its driver is imported only when a
``postgresql://`` URL is opened.
"""

from __future__ import annotations

from hubbub.store.connect import connect
from hubbub.store.contract import Store
from hubbub.store.db import Clock, utc_now
from hubbub.store.errors import Conflict, InvalidCursor, LimitExceeded, NotFound, StoreError
from hubbub.store.migrate import migrate, upgrade
from hubbub.store.records import (
    UNSET,
    Account,
    ApiKey,
    ApiToken,
    Binding,
    Channel,
    ChannelWebhook,
    Credential,
    Invite,
    LoginSession,
    LoginUser,
    Media,
    Member,
    Message,
    MessageMedia,
    NewMessage,
    NotificationSetting,
    Page,
    Role,
    Service,
    ServiceConfig,
    ServiceLimits,
    ServiceMedia,
    ServiceNotifications,
    User,
    UserChannel,
)
from hubbub.store.sql import SqlStore

__all__ = [
    "UNSET",
    "Account",
    "ApiKey",
    "ApiToken",
    "Binding",
    "Channel",
    "ChannelWebhook",
    "Conflict",
    "Credential",
    "InvalidCursor",
    "Invite",
    "LimitExceeded",
    "LoginSession",
    "LoginUser",
    "Media",
    "Member",
    "Message",
    "MessageMedia",
    "NewMessage",
    "NotFound",
    "NotificationSetting",
    "Page",
    "Role",
    "Service",
    "ServiceConfig",
    "ServiceLimits",
    "ServiceMedia",
    "ServiceNotifications",
    "Store",
    "StoreError",
    "User",
    "UserChannel",
    "migrate",
    "open_store",
]


def open_store(url: str, *, clock: Clock = utc_now, run_migrations: bool = True) -> Store:
    """Open the store at ``url`` (``sqlite:///path`` or ``postgresql://...``), migrated to head.

    ``clock`` returns the current time (tests pass a fixed one); ``run_migrations=False`` skips the
    upgrade for processes that know it already ran.
    """
    backend = connect(url)
    try:
        if run_migrations:
            upgrade(backend)
    except BaseException:
        backend.engine.dispose()
        raise
    return SqlStore(backend, clock)
