"""The brokers: one contract for the in-process and the Redis broker, then what only Redis does
(events crossing processes in order, repeats dropped, surviving a Redis restart)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import redis.asyncio

from hubbub.chat.events import Event
from hubbub.realtime.hub import Broker, MemoryBroker
from hubbub.realtime.redis_broker import (
    RedisBroker,
    RedisUnavailable,
    check_url,
    decode,
    encode,
    shown,
)
from tests.redis_servers import OwnRedis


def event(n: int) -> Event:
    return Event(("channel", "CH1"), {"type": "message_added", "n": n})


def fresh_channel() -> str:
    """A pub/sub channel of this test's own on the shared Redis."""
    return f"hubbub:test:{os.getpid()}:{time.monotonic_ns()}"


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def from_elsewhere(broker: Broker, marker: Event) -> None:
    """Publish ``marker`` as another process would, once Redis has taken everything ``broker``
    published: Redis keeps the order, so whatever was still to come back to ``broker`` (echoes,
    repeats) comes before ``marker``. The memory broker has nothing in flight: it delivers
    ``marker`` at once."""
    if not isinstance(broker, RedisBroker):
        broker.publish(marker)
        return
    assert await broker.drained(10)
    raw = redis.asyncio.Redis.from_url(broker.url)
    try:
        await raw.publish(broker.channel, encode("elsewhere", 1, marker))
    finally:
        await raw.aclose()


@pytest.fixture(params=["memory", "redis"])
def make_broker(request: pytest.FixtureRequest) -> Iterator[Callable[[], Broker]]:
    if request.param == "memory":
        yield MemoryBroker
    else:
        url = request.getfixturevalue("redis_url")
        channel = fresh_channel()
        yield lambda: RedisBroker(url, channel=channel)


@asynccontextmanager
async def started(broker: Broker) -> AsyncIterator[Broker]:
    await broker.start()
    try:
        yield broker
    finally:
        await broker.close()


class TestContract:
    """What the gateway relies on, whichever broker carries its events."""

    def test_subscribers_hear_each_event_at_once_in_order(
        self, make_broker: Callable[[], Broker]
    ) -> None:
        async def scenario() -> None:
            async with started(make_broker()) as broker:
                first: list[Event] = []
                second: list[Event] = []
                broker.subscribe(first.append)
                broker.subscribe(second.append)
                for n in range(100):
                    broker.publish(event(n))
                    # Delivered before publish returns: a sender's own client hears its
                    # message before anything else can happen on the loop.
                    assert first[-1] == second[-1] == event(n)
                await from_elsewhere(broker, event(-1))
                await until(lambda: event(-1) in first)  # no echo arrived before it either
                assert first == second == [*(event(n) for n in range(100)), event(-1)]

        asyncio.run(scenario())

    def test_publishing_outside_start_and_close_still_delivers_here(
        self, make_broker: Callable[[], Broker]
    ) -> None:
        async def scenario() -> None:
            broker = make_broker()
            heard: list[Event] = []
            broker.subscribe(heard.append)
            broker.publish(event(1))
            await broker.start()
            await broker.close()
            broker.publish(event(2))
            assert heard == [event(1), event(2)]

        asyncio.run(scenario())


def test_two_redis_brokers_exchange_events_in_order(redis_url: str) -> None:
    async def scenario() -> None:
        channel = fresh_channel()
        a, b = RedisBroker(redis_url, channel=channel), RedisBroker(redis_url, channel=channel)
        heard_a: list[Event] = []
        heard_b: list[Event] = []
        a.subscribe(heard_a.append)
        b.subscribe(heard_b.append)
        async with started(a), started(b):
            for n in range(2000):
                a.publish(event(n))
            await until(lambda: len(heard_b) >= 2000)
            assert heard_b == [event(n) for n in range(2000)]  # in order, none lost
            b.publish(event(-1))
            await until(lambda: len(heard_a) > 2000)
            await from_elsewhere(b, event(-2))  # echoes would come before it
            await until(lambda: event(-2) in heard_a and event(-2) in heard_b)
            assert heard_a == [*(event(n) for n in range(2000)), event(-1), event(-2)]  # no echoes
            assert heard_b[-2:] == [event(-1), event(-2)]
            assert len(heard_b) == 2002

    asyncio.run(scenario())


def test_repeats_and_malformed_events_are_dropped(redis_url: str) -> None:
    """A batch is sent again when the connection drops mid-way; receivers keep one copy."""

    async def scenario() -> None:
        channel = fresh_channel()
        broker = RedisBroker(redis_url, channel=channel)
        heard: list[Event] = []
        broker.subscribe(heard.append)
        raw = redis.asyncio.Redis.from_url(redis_url)
        async with started(broker):
            for data in [
                encode("other", 1, event(1)),
                encode("other", 2, event(2)),
                encode("other", 1, event(1)),  # a repeat
                "not json",
                '{"o": "other", "s": "3", "a": [], "f": {}, "e": null}',
                encode("other", 2, event(2)),  # a repeat
                encode("third", 1, event(30)),
                encode("other", 3, event(3)),
                encode("other", 4, event(4)),  # the last: whatever is kept came before it
            ]:
                await raw.publish(channel, data)
            await until(lambda: event(4) in heard)
        await raw.aclose()
        assert heard == [event(1), event(2), event(30), event(3), event(4)]

    asyncio.run(scenario())


def test_events_flow_again_after_redis_restarts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis down: each process keeps serving its own clients; Redis back: events cross again,
    without a restart of the server processes."""
    caplog.set_level(logging.WARNING, logger="hubbub.realtime.redis")
    server = OwnRedis(tmp_path)
    server.start()

    async def scenario() -> None:
        a, b = RedisBroker(server.url), RedisBroker(server.url)
        heard_a: list[Event] = []
        heard_b: list[Event] = []
        a.subscribe(heard_a.append)
        b.subscribe(heard_b.append)
        gaps: list[str] = []
        b.watch_gaps(lambda: gaps.append("b"))
        async with started(a), started(b):
            a.publish(event(0))
            await until(lambda: heard_b == [event(0)])
            assert gaps == []  # the first subscription is no gap
            server.kill()

            def lost(what: str) -> int:
                return sum(what in r.getMessage() for r in caplog.records)

            # The readers have lost Redis, and tried in vain to get it back.
            await until(lambda: lost("resubscribing") >= 3)
            for n in range(1, 50):
                a.publish(event(n))
            assert heard_a == [event(n) for n in range(50)]  # local delivery goes on
            await until(lambda: lost("retrying") >= 1)  # a's writer has found Redis gone
            server.start()
            # Once b has resubscribed, a's new events reach it, in order after what it had.
            n = 100
            while not any(e.frame["n"] >= 100 for e in heard_b):
                a.publish(event(n))
                n += 1
                assert n < 100 + 20 * 30, "events never crossed again after the restart"
                await asyncio.sleep(0.05)
            numbers = [e.frame["n"] for e in heard_b]
            assert numbers == sorted(set(numbers))
            # b was told that what a published meanwhile may be lost (it was: 1 to 49).
            assert gaps == ["b"]

    try:
        asyncio.run(scenario())
    finally:
        server.kill()


def test_a_url_that_cannot_be_redis_is_refused() -> None:
    with pytest.raises(RedisUnavailable, match="a Redis URL starts with"):
        check_url("http://127.0.0.1:6379")
    with pytest.raises(RedisUnavailable, match="a Redis URL starts with"):
        RedisBroker("127.0.0.1:6379")
    check_url("redis://127.0.0.1:6379/0")
    check_url("unix:///run/redis.sock")


def test_the_logged_url_has_no_password() -> None:
    assert shown("redis://user:s3cret@example.com:6380/2") == "redis://example.com:6380/2"


def test_riders_cross_the_broker_with_their_event() -> None:
    """The Sync journal's events ride with the chat event that caused them: one message on
    Redis, decoded whole on the other side."""
    rider = Event(
        ("object", "ES" + "0" * 32), {"event_type": "list_item_added", "event": {"id": 7}}
    )
    sent = Event(("channel", "CH" + "0" * 32), {"type": "message_added"}, riders=(rider,))
    origin, sequence, received = decode(encode("elsewhere", 5, sent))
    assert (origin, sequence) == ("elsewhere", 5)
    assert received.riders == (rider,)
    assert received.frame == sent.frame
