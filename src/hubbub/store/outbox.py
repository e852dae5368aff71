"""The outbox of post-event webhooks, and named leases.

Deliveries are queued in the transaction of the action that caused them (``Store.atomic``), so
a crash loses either both or neither, and one lane's rows get their ids in the order of its
actions. Inside a block they are inserted when it ends, all in one statement: a group commit
of many messages queues their webhooks at the cost of one insert. The courier
(``hubbub.webhooks.courier``) holds the lease ``outbox`` while it sends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubbub.store import schema as s
from hubbub.store.db import Base
from hubbub.store.records import Delivery, NewDelivery

#: Rows one statement inserts, and ids one settling transaction deletes, at most.
CHUNK = 100
#: Seconds a writer of many chunks waits between them, for others' writes to go first.
WRITER_PAUSE = 0.001
_COLUMNS = ("lane", "account_sid", "url", "method", "params", "retry_count", "attempts", "due")


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
        if self._append(s.outbox, rows):
            return
        # The statements are built before the write lock is taken, and sent to the driver as
        # they are: one multi-row VALUES per ``CHUNK`` rows. Whatever Python runs while it is
        # held keeps the workers waiting, and in a courier whose lanes' threads share the GIL
        # it runs at a fraction of its speed (and each statement lets go of the GIL once).
        statements = []
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            values = ", ".join([f"({', '.join([self._marker] * len(_COLUMNS))})"] * len(chunk))
            flat = tuple(row[column] for row in chunk for column in _COLUMNS)
            # Only constant names and parameter markers go into the text.
            sql = f"INSERT INTO outbox ({', '.join(_COLUMNS)}) VALUES {values}"  # noqa: S608
            statements.append((sql, flat))
        with self._write() as conn:
            for sql, flat in statements:
                conn.exec_driver_sql(sql, flat)

    @property
    def _marker(self) -> str:
        """The driver's positional parameter: ``?`` (sqlite3) or ``%s`` (psycopg)."""
        return "?" if self._backend.engine.dialect.paramstyle == "qmark" else "%s"

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
        ids = sorted(sent)
        # Bounded transactions, oldest first (a courier dying between them sends the rest
        # again, in order): on SQLite each worker's write waits for the one in progress, and
        # a short pause between them lets a waiting one go first.
        chunks = [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)] or [[]]
        marker = self._marker
        for number, chunk in enumerate(chunks):
            if number:
                time.sleep(WRITER_PAUSE)
            sql = f"DELETE FROM outbox WHERE id IN ({', '.join([marker] * len(chunk))})"  # noqa: S608
            with self._write() as conn:
                if chunk:
                    conn.exec_driver_sql(sql, tuple(chunk))
                if retry and number == len(chunks) - 1:
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
