"""A broker for several server processes or machines: events travel over Redis pub/sub.

Each process delivers its own events to its hub at once (no Redis round trip for local
clients), publishes them on one channel, and skips its own echoes by a per-process id. One
writer task publishes in order, as many as are waiting in one pipelined round trip, and one
reader task delivers in order, so the events of one process reach every other process in the
order they were published. If the connection to Redis drops, both tasks reconnect with
backoff; events published meanwhile are queued (up to a bound) and sent once Redis is back,
and events from other processes are lost for that gap. A batch whose fate is unknown when the
connection drops is sent again; every event carries its process's sequence number, so a
receiver drops the repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from hubbub.chat.events import Event

log = logging.getLogger("hubbub.realtime.redis")

CHANNEL = "hubbub:events"
#: Events kept for Redis while it is unreachable; past this, new ones are dropped (counted).
MAX_QUEUED = 100_000
#: Events sent in one pipelined round trip.
BATCH = 512
BACKOFF_MAX = 5.0
SCHEMES = ("redis", "rediss", "unix")


class RedisUnavailable(RuntimeError):
    """The ``redis`` package is missing or the URL is not a Redis URL."""


def shown(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_url(url: str) -> None:
    """Raise ``RedisUnavailable`` unless ``url`` can name a Redis server and the client
    library is installed; what ``hubbub serve`` asks before it starts its workers."""
    if urlsplit(url).scheme not in SCHEMES:
        raise RedisUnavailable(
            "a Redis URL starts with redis://, rediss:// or unix:// (redis://HOST:PORT/DB)"
        )
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        raise RedisUnavailable(
            "the Redis broker needs the redis package: pip install 'hubbub[redis]'"
        ) from None


def encode(origin: str, sequence: int, event: Event) -> str:
    raw: dict[str, Any] = {
        "o": origin,
        "s": sequence,
        "a": list(event.audience),
        "f": event.frame,
        "e": event.ends_after,
        "t": round(time.time(), 6),  # when it was published, for the receivers' lag
    }
    # Rare, so only there when set: most events stay as short as they were.
    if event.follow is not None:
        raw["w"] = list(event.follow)
    if event.ends_sessions is not None:
        raw["x"] = event.ends_sessions
    if event.riders:
        raw["r"] = [[list(rider.audience), rider.frame] for rider in event.riders]
    return json.dumps(raw, separators=(",", ":"))


def decode(data: str | bytes) -> tuple[str, int, Event]:
    """The origin, sequence number and event of ``data``."""
    origin, sequence, event, _ = decode_stamped(data)
    return origin, sequence, event


def decode_stamped(data: str | bytes) -> tuple[str, int, Event, float | None]:
    """``decode``, and when the event was published, if its publisher said."""
    raw: dict[str, Any] = json.loads(data)
    sequence = raw["s"]
    if not isinstance(sequence, int):
        raise TypeError("the sequence number is an integer")
    follow = raw.get("w")
    event = Event(
        tuple(raw["a"]),
        raw["f"],
        raw["e"],
        follow=None if follow is None else (follow[0], follow[1]),
        ends_sessions=raw.get("x"),
        riders=tuple(Event(tuple(audience), frame) for audience, frame in raw.get("r", ())),
    )
    stamp = raw.get("t")
    return raw["o"], sequence, event, float(stamp) if isinstance(stamp, int | float) else None


class RedisBroker:
    """The ``Broker`` of one process among several sharing the Redis server at ``url``."""

    def __init__(self, url: str, *, channel: str = CHANNEL) -> None:
        check_url(url)
        self.url = url
        self.channel = channel
        self.origin = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._subscribers: list[Callable[[Event], None]] = []
        self._outbox: asyncio.Queue[tuple[int, str]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self._gap_watchers: list[Callable[[], None]] = []
        self._sequence = 0
        #: The sequence number of the last event Redis took.
        self._sent = 0
        #: The last sequence number heard from each other process.
        self._heard: dict[str, int] = {}
        #: Events not sent because the queue was full while Redis was unreachable.
        self.dropped = 0
        self._lag: Callable[[float], None] | None = None

    def watch_gaps(self, notice: Callable[[], None]) -> None:
        self._gap_watchers.append(notice)

    def watch_lag(self, observe: Callable[[float], None]) -> None:
        """Call ``observe`` with the seconds each event from another process took to arrive."""
        self._lag = observe

    def publish(self, event: Event) -> None:
        for deliver in self._subscribers:
            deliver(event)
        if self._outbox is None:
            return
        if self._outbox.qsize() >= MAX_QUEUED:
            self.dropped += 1
            return
        self._sequence += 1
        self._outbox.put_nowait((self._sequence, encode(self.origin, self._sequence, event)))

    def subscribe(self, deliver: Callable[[Event], None]) -> None:
        self._subscribers.append(deliver)

    async def start(self) -> None:
        """Start the writer and reader; returns once subscribed (or after 5 s trying, so that
        a server whose Redis is down still starts and serves its own clients)."""
        if self._tasks:
            return
        self._outbox = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._writer(), name="hubbub-redis-writer"),
            asyncio.create_task(self._reader(), name="hubbub-redis-reader"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def drained(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for Redis to have taken every event published so
        far; whether it has."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks and self._sent < self._sequence:
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return self._sent >= self._sequence

    async def close(self) -> None:
        """Stop, once the events published so far are sent (for up to a second)."""
        await self.drained(1.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._outbox = None

    def _deliver(self, data: str | bytes) -> None:
        try:
            origin, sequence, event, published = decode_stamped(data)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed event from Redis")
            return
        if origin == self.origin:
            return
        if sequence <= self._heard.get(origin, 0):
            return  # sent again after a dropped connection
        self._heard[origin] = sequence
        if self._lag is not None and published is not None:
            self._lag(max(0.0, time.time() - published))
        for deliver in self._subscribers:
            try:
                deliver(event)
            except Exception:
                log.exception("delivering an event from Redis failed")

    def _client(self) -> Any:
        import redis.asyncio as redis

        # Keepalives and health checks notice a peer that vanished without closing.
        return redis.Redis.from_url(self.url, socket_keepalive=True, health_check_interval=15)

    async def _writer(self) -> None:
        import redis.asyncio as redis

        outbox = self._outbox
        if outbox is None:  # pragma: no cover - started by start()
            return
        backoff = 0.1
        batch: list[tuple[int, str]] = []
        while True:
            client = self._client()
            try:
                while True:
                    if not batch:
                        batch.append(await outbox.get())
                        while len(batch) < BATCH and not outbox.empty():
                            batch.append(outbox.get_nowait())
                    pipe = client.pipeline(transaction=False)
                    for _, data in batch:
                        pipe.publish(self.channel, data)
                    await pipe.execute()
                    self._sent = batch[-1][0]
                    batch = []
                    backoff = 0.1
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                log.warning(
                    "Redis at %s unreachable (%s); retrying", shown(self.url), type(exc).__name__
                )
            finally:
                await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _reader(self) -> None:
        import redis.asyncio as redis

        backoff = 0.1
        while True:
            client = self._client()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if self._subscribed.is_set():  # back after a gap: others' events were lost
                    for notice in self._gap_watchers:
                        notice()
                self._subscribed.set()
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None and message["type"] == "message":
                        self._deliver(message["data"])
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                log.warning(
                    "Redis at %s unreachable (%s); resubscribing",
                    shown(self.url),
                    type(exc).__name__,
                )
            finally:
                await pubsub.aclose()
                await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
