"""Request counts and latencies of the token server, batched before they reach ``Metrics``."""

from __future__ import annotations

from bisect import bisect_left

from hubbub.web.metrics import BUCKETS, Metrics


class Tally:
    """Request counts and latencies kept here and added to ``Metrics`` at most once a second:
    ``Metrics.observe`` walks every histogram bucket on each call, which on this path costs
    a good part of what minting a token does."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._counts: dict[tuple[str, str, int], int] = {}
        self._histograms: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}
        self._due = 0.0

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

    def flush(self, now: float) -> None:
        metrics = self.metrics
        for key, count in self._counts.items():
            metrics.requests[key] += count
        for route, histogram in self._histograms.items():
            cumulative = metrics.buckets[route]
            running = 0
            for index in range(len(BUCKETS)):
                running += histogram[index]
                cumulative[index] += running
            metrics.latency_count[route] += running + histogram[-1]
            metrics.latency_sum[route] += self._sums[route]
        self._counts.clear()
        self._histograms.clear()
        self._sums.clear()
        self._due = now + 1.0
