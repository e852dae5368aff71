"""The courier: sends the outbox's post-event webhooks, lane by lane, in order.

One courier runs beside the workers of each ``hubbub serve``; of those sharing a database,
the one holding the lease ``outbox`` sends and the others stand by, so each webhook is sent
once while they all live (and at least once when one dies mid-send: its successor sends again
what was not yet marked sent). A lane (one receiver's webhooks of a channel, or of a service's
user events) is sent one delivery at a time, oldest first, in runs of at most ``RUN`` marked
sent together; lanes go side by side, up to ``lanes`` at once. A delivery
that fails and may be retried holds its lane back until its next attempt (1 s, 2 s, 4 s ...
later); one that is given up (no retries left, or an answer not worth retrying) is logged and
forgotten, as Twilio forgets it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from hubbub.store import Store
from hubbub.store.records import Delivery
from hubbub.webhooks.params import Params
from hubbub.webhooks.sender import Attempt

log = logging.getLogger("hubbub.webhooks")

LEASE_NAME = "outbox"
#: The lease runs this long, and is renewed every ``RENEW`` seconds.
LEASE = 6.0
RENEW = 2.0
#: Deliveries read at a time, lanes sent side by side, and deliveries of one lane sent before
#: they are marked sent (what a courier that dies may send twice).
BATCH = 500
LANES = 32
RUN = 50
#: How often an idle courier looks for new deliveries.
POLL = 0.05
#: How often at most the courier marks what it sent: each time is a write transaction, and on
#: SQLite the workers' writes queue behind it.
SETTLE_EVERY = 0.25
#: The wait before the next attempt, by attempts so far (the last repeats).
BACKOFF = (1.0, 2.0, 4.0, 8.0)


class Sends(Protocol):
    """What the courier sends a row through: a webhook ``Sender``, or one that picks a sender
    by the row's kind (``hubbub.notify.dispatch``)."""

    def attempt(
        self, account_sid: str, url: str, method: str, params: Params, retry: int
    ) -> Attempt: ...


@dataclass(slots=True)
class Settled:
    """What one lane's run did: the deliveries to forget, and one to try again at a time."""

    done: list[int] = field(default_factory=list)
    retry: tuple[int, float] | None = None


class Courier:
    """Sends the deliveries of ``store``'s outbox through ``sender``."""

    def __init__(
        self,
        store: Store,
        sender: Sends,
        *,
        holder: str | None = None,
        lanes: int = LANES,
        poll: float = POLL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.sender = sender
        self.holder = holder or f"{os.getpid()}:{id(self):x}@{socket.gethostname()}"
        self.lanes = lanes
        self.poll = poll
        self._clock = clock
        self._leading = False
        self._renew_at = 0.0
        #: Until when this courier's lease surely runs: lanes stop sending before it.
        self._lease_until = 0.0
        self._stop = threading.Event()
        #: What lanes sent that the store has not yet been told, and when it last was.
        self._unsettled: dict[str, Settled] = {}
        self._settled_at = 0.0
        #: Lanes read and not started yet (none of them in flight or unsettled), oldest first,
        #: and when: with many short lanes (a push per device) a read serves many turns, not
        #: one, and it is read again at most ``poll`` seconds later.
        self._ready: list[tuple[str, list[Delivery]]] = []
        self._read_at = 0.0

    def run(self, stop: threading.Event) -> None:
        """Send until ``stop`` is set; then finish the delivery in hand of each lane and give
        the lease up."""
        self._stop = stop
        in_flight: dict[str, Future[Settled]] = {}
        with ThreadPoolExecutor(self.lanes, thread_name_prefix="hubbub-courier") as pool:
            while not stop.is_set():
                try:
                    self._turn(pool, in_flight, stop)
                except Exception:  # the database went away for a moment: try again soon
                    log.exception("the webhook courier failed a turn")
                    stop.wait(1.0)
            wait(in_flight.values())
            try:
                self._settle(in_flight, now=float("inf"))
            except Exception:
                log.exception("marking sent webhooks failed: they will be sent again")
        if self._leading:
            self.store.drop_lease(LEASE_NAME, self.holder)

    def _turn(
        self, pool: ThreadPoolExecutor, in_flight: dict[str, Future[Settled]], stop: threading.Event
    ) -> None:
        now = self._clock()
        if now >= self._renew_at:
            self._leading = self.store.take_lease(
                LEASE_NAME, self.holder, now=now, until=now + LEASE
            )
            self._renew_at = now + RENEW
            self._lease_until = now + LEASE - RENEW if self._leading else 0.0
        self._settle(in_flight, now=now)
        if not self._leading:
            self._ready = []
            stop.wait(RENEW)
            return
        started = False
        free = self.lanes - len(in_flight)
        if free > 0:
            if not self._ready or now - self._read_at >= self.poll:
                busy = [*in_flight, *self._unsettled]
                due = self.store.due_deliveries(now=now, limit=BATCH, busy=busy)
                self._ready, self._read_at = _lanes(due), now
            ready, self._ready = self._ready[:free], self._ready[free:]
            for lane, deliveries in ready:
                in_flight[lane] = pool.submit(self._send_lane, deliveries[:RUN])
                started = True
        if in_flight:
            if not started:
                wait(in_flight.values(), timeout=self.poll, return_when=FIRST_COMPLETED)
        else:
            stop.wait(self.poll)

    def _settle(self, in_flight: dict[str, Future[Settled]], *, now: float) -> None:
        """Mark what the finished lanes sent, every ``SETTLE_EVERY`` seconds at most. Until
        then (or while the store fails) their lanes stay out of the reads, so nothing is sent
        twice."""
        unsettled = self._unsettled
        for lane, future in list(in_flight.items()):
            if future.done():
                del in_flight[lane]
                unsettled[lane] = future.result()  # _send_lane raises nothing
        if not unsettled or now - self._settled_at < SETTLE_EVERY:
            return
        self._settled_at = now
        done = [id_ for settled in unsettled.values() for id_ in settled.done]
        retry = [settled.retry for settled in unsettled.values() if settled.retry is not None]
        self.store.settle_deliveries(sent=done, retry=retry)
        unsettled.clear()

    def _send_lane(self, deliveries: list[Delivery]) -> Settled:
        settled = Settled()
        for delivery in deliveries:
            # Stopping, or a lease that may be another's soon: the rest wait for the next turn
            # (of this courier or of the one that takes over), in order.
            if self._stop.is_set() or self._clock() >= self._lease_until:
                return settled
            new = delivery.new
            try:
                attempt = self.sender.attempt(
                    new.account_sid, new.url, new.method, new.params, delivery.attempts
                )
            except Exception:  # the store, or a sealed token that no longer opens
                log.exception("sending a post-event webhook failed")
                attempt = Attempt(None, "could not be sent", retryable=True)
            if not attempt.ok and attempt.retryable and delivery.attempts < new.retry_count:
                backoff = BACKOFF[min(delivery.attempts, len(BACKOFF) - 1)]
                settled.retry = (delivery.id, self._clock() + backoff)
                return settled
            if not attempt.ok:
                log.warning(
                    "post-event webhook %s to %s given up after %d attempts: %s",
                    _event(delivery),
                    urlsplit(new.url).hostname,
                    delivery.attempts + 1,
                    attempt.describe(),
                )
            settled.done.append(delivery.id)
        return settled


def _lanes(deliveries: list[Delivery]) -> list[tuple[str, list[Delivery]]]:
    """``deliveries`` by lane, lanes in the order of their oldest delivery."""
    lanes: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        lanes.setdefault(delivery.new.lane, []).append(delivery)
    return list(lanes.items())


def _event(delivery: Delivery) -> str:
    for name, value in delivery.new.params:
        if name == "EventType":
            return value
    return "?"
