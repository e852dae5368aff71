"""What push notifications read of the chat: a channel's whole audience, users' unread counts.

Both are read off the hot path (by the courier, expanding one queued notification into the
pushes of its recipients), in one statement each however many members a channel has.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import case, func, select

from hubbub.store import schema as s
from hubbub.store.db import Base


class NotifyOps(Base):
    def channel_audience(self, channel_sid: str) -> list[tuple[str, str]]:
        m = s.members
        stmt = select(m.c.identity, m.c.notification_level).where(m.c.channel_sid == channel_sid)
        with self._read() as conn:
            return [(row.identity, row.notification_level) for row in conn.execute(stmt)]

    def unread_counts(self, service_sid: str, identities: Collection[str]) -> dict[str, int]:
        if not identities:
            return {}
        m, c = s.members, s.channels
        # By index: the messages after the horizon (all of a channel never read), deleted ones
        # included; one join rather than a count of every unread message of every channel.
        after = c.c.next_message_index - 1 - func.coalesce(m.c.last_consumed_message_index, -1)
        unread = func.sum(case((after > 0, after), else_=0))
        stmt = (
            select(m.c.identity, unread.label("unread"))
            .join(c, c.c.sid == m.c.channel_sid)
            .where(m.c.service_sid == service_sid, m.c.identity.in_(list(identities)))
            .group_by(m.c.identity)
        )
        with self._read() as conn:
            found = {row.identity: int(row.unread or 0) for row in conn.execute(stmt)}
        return {identity: found.get(identity, 0) for identity in identities}
