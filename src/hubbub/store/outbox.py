"""The outbox of post-event webhooks, and named leases.

Deliveries are queued in the transaction of the action that caused them (``Store.atomic``), so
a crash loses either both or neither, and one lane's rows get their ids in the order of its
actions. Inside a block they are inserted when it ends, all in one statement: a group commit
of many messages queues their webhooks at the cost of one insert. The courier
(``hubbub.webhooks.courier``) holds the lease ``outbox`` while it sends.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubbub.store import schema as s
from hubbub.store.db import Base
from hubbub.store.records import Delivery, NewDelivery


class OutboxOps(Base):
    def queue_deliveries(self, deliveries: Sequence[NewDelivery]) -> None:
        if not deliveries:
            return
        rows = [
            {
                "lane": d.lane,
                "account_sid": d.account_sid,
                "url": d.url,
                "method": d.method,
                "params": json.dumps(d.params, separators=(",", ":")),
                "retry_count": d.retry_count,
                "attempts": 0,
                "due": 0.0,
            }
            for d in deliveries
        ]
        if not self._append(s.outbox, rows):
            with self._write() as conn:
                conn.execute(insert(s.outbox), rows)

    def due_deliveries(
        self, *, now: float, limit: int, busy: Collection[str] = ()
    ) -> list[Delivery]:
        t = s.outbox
        waiting = select(t.c.lane).where(t.c.due > now)
        stmt = select(t).where(t.c.lane.not_in(waiting)).order_by(t.c.id).limit(limit)
        if busy:
            stmt = stmt.where(t.c.lane.not_in(list(busy)))
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [
            Delivery(
                row.id,
                NewDelivery(
                    row.lane,
                    row.account_sid,
                    row.url,
                    row.method,
                    tuple((name, value) for name, value in json.loads(row.params)),
                    row.retry_count,
                ),
                row.attempts,
            )
            for row in rows
        ]

    def settle_deliveries(
        self, *, sent: Collection[int], retry: Sequence[tuple[int, float]] = ()
    ) -> None:
        if not sent and not retry:
            return
        t = s.outbox
        with self._write() as conn:
            if sent:
                conn.execute(delete(t).where(t.c.id.in_(list(sent))))
            if retry:
                conn.execute(
                    update(t)
                    .where(t.c.id == bindparam("b_id"))
                    .values(attempts=t.c.attempts + 1, due=bindparam("b_due")),
                    [{"b_id": id_, "b_due": due} for id_, due in retry],
                )

    def take_lease(self, name: str, holder: str, *, now: float, until: float) -> bool:
        t = s.leases
        with self._write() as conn:
            row = conn.execute(
                select(t.c.holder, t.c.until).where(t.c.name == name).with_for_update()
            ).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(t).values(name=name, holder=holder, until=until))
                except IntegrityError:  # another holder took it first
                    return False
                return True
            if row.holder != holder and row.until >= now:
                return False
            conn.execute(update(t).where(t.c.name == name).values(holder=holder, until=until))
            return True

    def drop_lease(self, name: str, holder: str) -> None:
        t = s.leases
        with self._write() as conn:
            conn.execute(delete(t).where(t.c.name == name, t.c.holder == holder))
