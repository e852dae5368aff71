"""Group commit: the messages sent by many connections meanwhile, stored in one transaction.

Messages that arrive in one turn of the event loop wait for the next commit; one commit is in
flight at a time, so messages are answered and pushed in the order of their indexes, whether
the store runs on the loop (SQLite, where a batch is what one turn brought) or in the thread
pool (PostgreSQL, where a batch is what came while the previous one was being written). Each
sender hears back after its commit; its later frames wait for it, so its commands keep their
order.

A message that carries media is committed alone, in its turn: the text messages before it form
one commit, it the next, those after it the one after. Its media may have been taken by another
message since it was checked; alone, only its own transaction is undone. Media messages are few
(each follows an upload), so they cost the batching little.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from hubbub.chat.messages import Draft, store_draft
from hubbub.metrics import Metrics
from hubbub.realtime.executor import Executor
from hubbub.realtime.protocol import CloseCode
from hubbub.realtime.session import Pending, Step
from hubbub.store import Store
from hubbub.store.errors import NotFound, StoreError
from hubbub.store.records import Message, NewMessage

if TYPE_CHECKING:
    from hubbub.realtime.link import Link

log = logging.getLogger("hubbub.gateway")
T = TypeVar("T")


def store_batch(
    store: Store, rows: list[NewMessage], complete: Callable[[int, Message | NotFound], T]
) -> list[tuple[Message | NotFound, T] | None]:
    """Store a batch of messages in one transaction, with what their post-action hooks write:
    ``complete(i, stored)`` ends the action of ``rows[i]`` inside it. Should the batch fail as
    a whole, each message is stored alone, so that whatever broke it costs only its own sender
    (``None``)."""
    try:
        return list(_store(store, rows, range(len(rows)), complete))
    except Exception:
        log.exception("storing %d messages together failed; storing them one by one", len(rows))
    results: list[tuple[Message | NotFound, T] | None] = []
    for i, row in enumerate(rows):
        try:
            results += _store(store, [row], [i], complete)
        except Exception:
            log.exception("storing a message failed")
            results.append(None)
    return results


def _store(
    store: Store,
    rows: list[NewMessage],
    places: Sequence[int],
    complete: Callable[[int, Message | NotFound], T],
) -> list[tuple[Message | NotFound, T]]:
    with store.atomic():
        stored = store.create_messages(rows)
        return [(message, complete(i, message)) for i, message in zip(places, stored, strict=True)]


def store_alone(
    store: Store, draft: Draft, complete: Callable[[int, Message | StoreError], T]
) -> list[tuple[Message | StoreError, T] | None]:
    """``store_batch`` for one draft that carries media: stored with its media marked carried
    in one transaction, or not at all (then ``complete`` hears why, outside it)."""
    try:
        with store.atomic():
            stored = store_draft(store, draft)
            return [(stored, complete(0, stored))]
    except StoreError as exc:
        return [(exc, complete(0, exc))]
    except Exception:
        log.exception("storing a message failed")
        return [None]


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
        batch = self._next_batch()
        self._committing = True
        started = time.perf_counter()

        def complete(i: int, stored: Message | StoreError) -> Step:
            link, pending = batch[i]
            return link.session.complete(pending, stored)

        first = batch[0][1].draft
        if first.media is not None:
            self._executor.submit(
                store_alone,
                (self._store, first, complete),
                lambda done: self._done(batch, done, started),
            )
            return
        rows = [pending.draft.row() for _, pending in batch]
        self._executor.submit(
            store_batch,
            (self._store, rows, complete),
            lambda done: self._done(batch, done, started),
        )

    def _next_batch(self) -> list[tuple[Link, Pending]]:
        """The waiting text messages up to the first media message, or that one alone."""
        waiting = self._waiting
        end = next(
            (i for i, (_, pending) in enumerate(waiting) if pending.draft.media is not None),
            len(waiting),
        )
        end = end or 1
        batch, self._waiting = waiting[:end], waiting[end:]
        return batch

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
