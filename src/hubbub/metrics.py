"""What a server measures, in Prometheus' terms, for the whole server rather than one worker.

Each ``Metrics`` has its own registry (so that apps in one test process do not count into each
other). ``hubbub serve`` with several workers sets ``PROMETHEUS_MULTIPROC_DIR`` before they start:
prometheus_client then keeps every value in a file per process there, and ``render`` adds the
files of all workers up, so a scrape of any worker sees the whole node.
"""

from __future__ import annotations

import asyncio
import os
import time
from bisect import bisect_left

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

#: Upper bounds of the request latency histogram, in seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: Finer ones for what takes microseconds to milliseconds (fan-out, broker lag, a commit).
FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _shared_directory() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "hubbub_http_requests",
            "HTTP requests served, by method, route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "hubbub_http_request_duration_seconds",
            "Time to serve a request, by route.",
            ["route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.connections = Gauge(
            "hubbub_realtime_connections",
            "Open real-time connections.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.messages = Counter(
            "hubbub_realtime_messages",
            "Messages stored from real-time sessions (rate() gives messages per second).",
            registry=r,
        )
        self.fanout_seconds = Histogram(
            "hubbub_realtime_fanout_seconds",
            "Time to hand one event to every connection of its audience on this process.",
            buckets=FAST_BUCKETS,
            registry=r,
        )
        self.commit_seconds = Histogram(
            "hubbub_store_commit_seconds",
            "Time to store one batch of real-time messages (group commit).",
            buckets=FAST_BUCKETS,
            registry=r,
        )
        self.broker_lag_seconds = Histogram(
            "hubbub_broker_lag_seconds",
            "From an event's publication on another process to its delivery here (Redis).",
            buckets=FAST_BUCKETS,
            registry=r,
        )
        self.started = Gauge(
            "hubbub_process_start_time_seconds",
            "When the oldest server process started.",
            multiprocess_mode="min",
            registry=r,
        )
        self.started.set(time.time())
        self._tallies: list[Tally] = []

    def tally(self) -> Tally:
        """A batch of request counts for one caller (one event loop), flushed into these
        metrics at most once a second and whenever they are rendered."""
        tally = Tally(self)
        self._tallies.append(tally)
        return tally

    def render(self) -> bytes:
        """The exposition text: of every worker of this node when they share a directory."""
        for tally in self._tallies:
            tally.flush(time.monotonic())
        directory = _shared_directory()
        if directory is None:
            return generate_latest(self.registry)
        shared = CollectorRegistry()
        MultiProcessCollector(shared, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(shared)

    @staticmethod
    def process_ended(pid: int | None = None) -> None:
        """Drop what only a live process counts (its open connections) once it ends."""
        directory = _shared_directory()
        if directory is not None:
            pid = pid if pid is not None else os.getpid()
            mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


class Tally:
    """Request counts and latencies kept in plain dictionaries and added to ``Metrics`` at most
    once a second: a histogram observation costs microseconds (ten, when workers share their
    metrics through files), a good part of what serving a token or a message does."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._counts: dict[tuple[str, str, int], int] = {}
        self._histograms: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}
        self._due = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def note(self, method: str, route: str, status: int, seconds: float, now: float) -> None:
        key = (method, route, status)
        self._counts[key] = self._counts.get(key, 0) + 1
        histogram = self._histograms.get(route)
        if histogram is None:
            histogram = self._histograms[route] = [0] * (len(BUCKETS) + 1)
        histogram[bisect_left(BUCKETS, seconds)] += 1
        self._sums[route] = self._sums.get(route, 0.0) + seconds
        if now >= self._due:
            self.flush(now)
        elif self._timer is None:
            # Nothing may come after this request: flush when it is due all the same, so that
            # the other workers' scrapes see it.
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._timer = loop.call_later(self._due - now, self._flush_later)

    def _flush_later(self) -> None:
        self._timer = None
        self.flush(time.monotonic())

    def flush(self, now: float) -> None:
        metrics = self.metrics
        for (method, route, status), count in self._counts.items():
            metrics.requests.labels(method, route, str(status)).inc(count)
        for route, histogram in self._histograms.items():
            child = metrics.request_seconds.labels(route)
            # prometheus_client has no way to add many observations at once; its histogram
            # keeps a value per bucket (not cumulative) and one for the sum, which take sums.
            for index, count in enumerate(histogram):
                if count:
                    child._buckets[index].inc(count)
            child._sum.inc(self._sums[route])
        self._counts.clear()
        self._histograms.clear()
        self._sums.clear()
        self._due = now + 1.0
