"""Group commit: the messages sent by many connections meanwhile, stored in one transaction.

Messages that arrive in one turn of the event loop wait for the next commit; one commit is in
flight at a time, so messages are answered and pushed in the order of their indexes, whether
the store runs on the loop (SQLite, where a batch is what one turn brought) or in the thread
pool (PostgreSQL, where a batch is what came while the previous one was being written). Each
sender hears back after its commit; its later frames wait for it, so its commands keep their
order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from hubbub.metrics import Metrics
from hubbub.realtime.executor import Executor
from hubbub.realtime.protocol import CloseCode
from hubbub.realtime.session import Pending, Step
from hubbub.store import Store
from hubbub.store.errors import NotFound
from hubbub.store.records import Message, NewMessage

if TYPE_CHECKING:
    from hubbub.realtime.link import Link

log = logging.getLogger("hubbub.gateway")


#: A stored message (or why its channel refused it) and the step that answers its sender.
Stored = tuple[Message | NotFound, Step]


def store_batch(store: Store, batch: list[tuple[Link, Pending]]) -> list[Stored | None]:
    """Store a batch of messages in one transaction, with what their post-action hooks write
    (``Session.complete`` runs the action's end). Should the batch fail as a whole, each
    message is stored alone, so that whatever broke it costs only its own sender (``None``)."""
    try:
        return list(_store(store, batch))
    except Exception:
        log.exception("storing %d messages together failed; storing them one by one", len(batch))
    results: list[Stored | None] = []
    for one in batch:
        try:
            results += _store(store, [one])
        except Exception:
            log.exception("storing a message failed")
            results.append(None)
    return results


def _store(store: Store, batch: list[tuple[Link, Pending]]) -> list[Stored]:
    with store.atomic():
        rows: list[NewMessage] = [pending.draft.row() for _, pending in batch]
        stored = store.create_messages(rows)
        return [
            (message, link.session.complete(pending, message))
            for (link, pending), message in zip(batch, stored, strict=True)
        ]


class Commits:
    """The messages waiting to be stored, and the commit in flight."""

    __slots__ = ("_committing", "_executor", "_metrics", "_scheduled", "_store", "_waiting")

    def __init__(self, store: Store, executor: Executor, metrics: Metrics) -> None:
        self._store = store
        self._executor = executor
        self._metrics = metrics
        self._waiting: list[tuple[Link, Pending]] = []
        self._scheduled = False
        self._committing = False

    def add(self, link: Link, pending: Pending) -> None:
        """Store ``pending`` with the next batch; ``link.resume()`` once it is answered."""
        self._waiting.append((link, pending))
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled and not self._committing and self._waiting:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._commit)

    def _commit(self) -> None:
        self._scheduled = False
        batch, self._waiting = self._waiting, []
        self._committing = True
        started = time.perf_counter()
        self._executor.submit(
            store_batch, (self._store, batch), lambda done: self._done(batch, done, started)
        )

    def _done(self, batch: list[tuple[Link, Pending]], results: Any, started: float) -> None:
        self._committing = False
        metrics = self._metrics
        metrics.commit_seconds.observe(time.perf_counter() - started)
        if isinstance(results, Exception):  # pragma: no cover - store_batch catches its own
            results = [None] * len(batch)
        metrics.messages.inc(
            sum(done is not None and isinstance(done[0], Message) for done in results)
        )
        for (link, _), done in zip(batch, results, strict=True):
            if done is None:
                link.end(CloseCode.SERVER_ERROR, "server error")
                continue
            try:
                link.perform(done[1])
            except Exception:
                log.exception("a real-time command failed")
                link.end(CloseCode.SERVER_ERROR, "server error")
        for link, _ in batch:
            link.resume()
        self._schedule()
