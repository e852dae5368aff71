"""The journal of the Sync objects: per object, the last event id, and the recent events.

An object's ids are taken with an upsert of its ``sync_objects`` row, which holds the row's lock
until the transaction ends: two actions on one object commit in the order of their ids, so a
reader that saw id N has seen everything up to N. Inside ``Store.atomic`` the events are
inserted when the block ends, in one statement for all.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from hubbub.store import schema as s
from hubbub.store.db import Base
from hubbub.store.records import SyncEvent

_objects = s.sync_objects
_events = s.sync_events


class SyncOps(Base):
    def journal(
        self, events: Sequence[tuple[str, str, dict[str, Any] | None]], *, now: float
    ) -> list[int]:
        if not events:
            return []
        counts: dict[str, int] = {}
        for object_sid, _, _ in events:
            counts[object_sid] = counts.get(object_sid, 0) + 1
        with self._write() as conn:
            # One statement for every object; sorted, so that transactions touching several
            # objects lock them in one order.
            taken = conn.execute(
                _take(conn.dialect.name),
                [{"sid": sid, "n": n} for sid, n in sorted(counts.items())],
            )
            last = {row.sid: int(row.last_event_id) for row in taken}
            next_id = {sid: last[sid] - counts[sid] + 1 for sid in counts}
            ids: list[int] = []
            rows: list[dict[str, Any]] = []
            for object_sid, event_type, body in events:
                id_ = next_id[object_sid]
                next_id[object_sid] = id_ + 1
                ids.append(id_)
                if body is None:
                    continue
                rows.append(
                    {
                        "object_sid": object_sid,
                        "id": id_,
                        "event_type": event_type,
                        "body": json.dumps(body, separators=(",", ":")),
                        "created": now,
                    }
                )
            if rows and not self._append(_events, rows):
                conn.execute(_events.insert(), rows)
        return ids

    def last_event_ids(self, object_sids: Sequence[str]) -> dict[str, int]:
        if not object_sids:
            return {}
        stmt = select(_objects.c.sid, _objects.c.last_event_id).where(
            _objects.c.sid.in_(list(object_sids))
        )
        with self._read() as conn:
            found = {row.sid: int(row.last_event_id) for row in conn.execute(stmt)}
        return {sid: found.get(sid, 0) for sid in object_sids}

    def events_after(self, object_sid: str, after: int, *, limit: int) -> list[SyncEvent]:
        stmt = (
            select(_events)
            .where(_events.c.object_sid == object_sid, _events.c.id > after)
            .order_by(_events.c.id)
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [
            SyncEvent(row.object_sid, int(row.id), row.event_type, json.loads(row.body))
            for row in rows
        ]

    def first_event_id(self, object_sid: str) -> int | None:
        stmt = select(_events.c.id).where(_events.c.object_sid == object_sid)
        stmt = stmt.order_by(_events.c.id).limit(1)
        with self._read() as conn:
            found = conn.execute(stmt).scalar()
        return None if found is None else int(found)

    def prune_events(self, *, before: float, limit: int = 10_000) -> int:
        oldest = (
            select(_events.c.object_sid, _events.c.id)
            .where(_events.c.created < before)
            .limit(limit)
        )
        stmt = delete(_events).where(tuple_(_events.c.object_sid, _events.c.id).in_(oldest))
        with self._write() as conn:
            return conn.execute(stmt).rowcount


@functools.cache
def _take(dialect: str) -> Any:
    """``n`` more ids for the object: its new last id, the row locked to the end."""
    words = sqlite if dialect == "sqlite" else postgresql
    stmt = words.insert(_objects).values(sid=bindparam("sid"), last_event_id=bindparam("n"))
    stmt = stmt.on_conflict_do_update(
        index_elements=[_objects.c.sid],
        set_={"last_event_id": _objects.c.last_event_id + stmt.excluded.last_event_id},
    )
    return stmt.returning(_objects.c.sid, _objects.c.last_event_id)
