"""Request metrics in the Prometheus text format, kept per server process.

An ASGI middleware times each request and counts it by method, route template and status; the
route template (``/v2/Services/{ServiceSid}``), not the path, keeps the label set small.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Upper bounds of the latency histogram, in seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """Counters and a latency histogram; ``render()`` gives the exposition text."""

    def __init__(self) -> None:
        self.started = time.time()
        self.requests: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self.buckets: defaultdict[str, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self.latency_sum: defaultdict[str, float] = defaultdict(float)
        self.latency_count: defaultdict[str, int] = defaultdict(int)
        self.gauges: dict[str, Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        counts = self.buckets[route]
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
        self.latency_sum[route] += seconds
        self.latency_count[route] += 1

    def render(self) -> str:
        lines = [
            "# HELP hubbub_http_requests_total HTTP requests served, by method, route and status.",
            "# TYPE hubbub_http_requests_total counter",
        ]
        for (method, route, status), count in sorted(self.requests.items()):
            lines.append(
                f'hubbub_http_requests_total{{method="{method}",route="{_escape(route)}",'
                f'status="{status}"}} {count}'
            )
        lines += [
            "# HELP hubbub_http_request_duration_seconds Time to serve a request, by route.",
            "# TYPE hubbub_http_request_duration_seconds histogram",
        ]
        name = "hubbub_http_request_duration_seconds"
        for route, counts in sorted(self.buckets.items()):
            label = _escape(route)
            for bound, count in zip(BUCKETS, counts, strict=True):
                lines.append(f'{name}_bucket{{route="{label}",le="{bound}"}} {count}')
            total = self.latency_count[route]
            lines.append(f'{name}_bucket{{route="{label}",le="+Inf"}} {total}')
            lines.append(f'{name}_sum{{route="{label}"}} {self.latency_sum[route]:.6f}')
            lines.append(f'{name}_count{{route="{label}"}} {total}')
        lines += [
            "# HELP hubbub_process_start_time_seconds When this server process started.",
            "# TYPE hubbub_process_start_time_seconds gauge",
            f"hubbub_process_start_time_seconds {self.started:.3f}",
        ]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware:
    """Times every HTTP request into a ``Metrics``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - started)
