"""The one implementation of :class:`~hubbub.store.contract.Store`, on SQLAlchemy Core.

Each resource lives in its own mixin module; this class only puts them together. What differs
between SQLite and PostgreSQL is in the :class:`~hubbub.store.db.Backend` it is given.
"""

from __future__ import annotations

from types import TracebackType

from hubbub.store.accounts import AccountOps
from hubbub.store.channels import ChannelOps
from hubbub.store.invites import InviteOps
from hubbub.store.logins import LoginOps
from hubbub.store.media import MediaOps
from hubbub.store.members import MemberOps
from hubbub.store.messages import MessageOps
from hubbub.store.notify import NotifyOps
from hubbub.store.outbox import OutboxOps
from hubbub.store.presence import PresenceOps
from hubbub.store.push import PushOps
from hubbub.store.services import ServiceOps
from hubbub.store.sync import SyncOps
from hubbub.store.users import UserOps
from hubbub.store.webhooks import ChannelWebhookOps


class SqlStore(
    AccountOps,
    ServiceOps,
    UserOps,
    ChannelOps,
    MemberOps,
    InviteOps,
    ChannelWebhookOps,
    MessageOps,
    MediaOps,
    PushOps,
    NotifyOps,
    LoginOps,
    PresenceOps,
    OutboxOps,
    SyncOps,
):
    """A :class:`~hubbub.store.contract.Store` over a SQL backend; see that class for the
    contract."""

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
