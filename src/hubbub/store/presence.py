"""Reachability across processes and machines: node leases and who is connected where.

Each server process is a node with a lease it renews; it records a row for each user it has a
connection of. A user is reachable while a row of theirs belongs to a live node. The changes
that decide it (a user's first connection anywhere, their last, a node gone silent) update
``users.is_online`` in the same transaction, with the user's row locked, so that two nodes
cannot interleave an "online" and an "offline" the wrong way round.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, bindparam, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hubbub.store import schema as s
from hubbub.store.codec import user_of
from hubbub.store.db import Base
from hubbub.store.errors import NotFound
from hubbub.store.records import User


class PresenceOps(Base):
    def join_presence(
        self, node: str, service_sid: str, identity: str, *, now: float, lease_until: float
    ) -> User | None:
        """``identity`` has a connection on ``node`` (whose lease runs to ``lease_until``).
        If no other live node had them, they are marked online and returned."""
        with self._write() as conn:
            user = _locked_user(conn, service_sid, identity)
            lease, row = _upserts(conn.dialect.name)
            conn.execute(lease, {"node": node, "lease_until": lease_until})
            elsewhere = _live_elsewhere(conn, user["sid"], node, now)
            conn.execute(row, {"node": node, "user_sid": user["sid"]})
            if elsewhere:
                return None
            return _set_online(conn, user["sid"], True)

    def leave_presence(
        self, node: str, service_sid: str, identity: str, *, now: float
    ) -> User | None:
        """``identity`` has no connection on ``node`` any more. If no live node has them, they
        are marked offline and returned (``None`` if they were not marked online)."""
        with self._write() as conn:
            try:
                user = _locked_user(conn, service_sid, identity)
            except NotFound:  # deleted meanwhile: their rows went with them
                return None
            conn.execute(_LEAVE, {"node": node, "user_sid": user["sid"]})
            if _live_elsewhere(conn, user["sid"], node, now) or not user["is_online"]:
                return None
            return _set_online(conn, user["sid"], False)

    def renew_presence(self, node: str, *, lease_until: float) -> bool:
        """Extend ``node``'s lease; whether it still had one (``False``: other nodes took it
        for dead, and forgot whom it has)."""
        n = s.presence_nodes
        with self._write() as conn:
            changed = conn.execute(
                update(n).where(n.c.node == node).values(lease_until=lease_until)
            )
            if changed.rowcount:
                return True
            _renew(conn, node, lease_until)
            return False

    def expire_presence(self, *, now: float, nodes: Collection[str] = ()) -> list[tuple[str, User]]:
        """Forget the nodes whose lease ran out by ``now`` (and ``nodes``, which are leaving),
        with their rows; the users no live node has any more are marked offline and returned,
        each with its account's SID."""
        n, p, t = s.presence_nodes, s.presence, s.users
        with self._write() as conn:
            gone_where = n.c.lease_until <= now
            if nodes:
                gone_where = gone_where | n.c.node.in_(list(nodes))
            gone = [row.node for row in conn.execute(select(n.c.node).where(gone_where))]
            if not gone:
                return []
            held = select(p.c.user_sid).where(p.c.node.in_(gone)).distinct()
            user_sids = sorted(row.user_sid for row in conn.execute(held))
            # Users first, in SID order, as joins and leaves lock them: no lock cycles.
            online = {
                row.sid: row.is_online
                for row in conn.execute(
                    select(t.c.sid, t.c.is_online)
                    .where(t.c.sid.in_(user_sids))
                    .order_by(t.c.sid)
                    .with_for_update()
                )
            }
            conn.execute(delete(p).where(p.c.node.in_(gone)))
            conn.execute(delete(n).where(n.c.node.in_(gone)))
            offline: list[tuple[str, User]] = []
            for sid in user_sids:
                if not online.get(sid) or _live_elsewhere(conn, sid, "", now):
                    continue
                user = _set_online(conn, sid, False)
                if user is not None:
                    services = s.services
                    account = select(services.c.account_sid).where(
                        services.c.sid == user.service_sid
                    )
                    offline.append((conn.execute(account).scalar_one(), user))
            return offline


# Built once: these run on every user's first and last connection on a node, where building a
# statement costs about as much as running it.
_users, _presence, _nodes = s.users, s.presence, s.presence_nodes
_LOCK_USER = (
    select(_users.c.sid, _users.c.is_online)
    .where(_users.c.service_sid == bindparam("service_sid"))
    .where(_users.c.identity == bindparam("identity"))
    .with_for_update()
)
_LIVE_ELSEWHERE = select(
    exists(
        select(_presence.c.node)
        .join(_nodes, _nodes.c.node == _presence.c.node)
        .where(_presence.c.user_sid == bindparam("user_sid"))
        .where(_presence.c.node != bindparam("node"))
        .where(_nodes.c.lease_until > bindparam("now"))
    )
)
_SET_ONLINE = (
    update(_users)
    .where(_users.c.sid == bindparam("user_sid"))
    .values(is_online=bindparam("online"))
    .returning(_users)
)
_LEAVE = delete(_presence).where(
    _presence.c.node == bindparam("node"), _presence.c.user_sid == bindparam("user_sid")
)


@functools.cache
def _upserts(dialect: str) -> tuple[Any, Any]:
    """The lease's upsert and the row's insert-if-missing, in ``dialect``'s words."""
    words = sqlite if dialect == "sqlite" else postgresql
    lease = words.insert(_nodes).values(
        node=bindparam("node"), lease_until=bindparam("lease_until")
    )
    lease = lease.on_conflict_do_update(
        index_elements=[_nodes.c.node], set_={"lease_until": lease.excluded.lease_until}
    )
    row = (
        words.insert(_presence)
        .values(node=bindparam("node"), user_sid=bindparam("user_sid"))
        .on_conflict_do_nothing()
    )
    return lease, row


def _locked_user(conn: Connection, service_sid: str, identity: str) -> Any:
    row = conn.execute(_LOCK_USER, {"service_sid": service_sid, "identity": identity}).first()
    if row is None:
        raise NotFound("User", identity)
    return row._mapping


def _renew(conn: Connection, node: str, lease_until: float) -> None:
    """Insert or extend the lease in one statement: a node's own joins and renewals may run at
    once in different threads."""
    conn.execute(_upserts(conn.dialect.name)[0], {"node": node, "lease_until": lease_until})


def _live_elsewhere(conn: Connection, user_sid: str, node: str, now: float) -> bool:
    found = conn.execute(_LIVE_ELSEWHERE, {"user_sid": user_sid, "node": node, "now": now})
    return bool(found.scalar())


def _set_online(conn: Connection, user_sid: str, online: bool) -> User | None:
    # date_updated is left alone, as by mark_all_offline: reachability is not an edit.
    row = conn.execute(_SET_ONLINE, {"user_sid": user_sid, "online": online}).first()
    return None if row is None else user_of(row)
