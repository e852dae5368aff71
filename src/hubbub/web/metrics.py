"""Request metrics: an ASGI middleware that times each request into ``hubbub.metrics``.

Requests are counted by method, route template and status; the route template
(``/v2/Services/{ServiceSid}``), not the path, keeps the label set small.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubbub.metrics import Metrics


class MetricsMiddleware:
    """Times every HTTP request into a ``Metrics``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.tally = metrics.tally()

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
            ended = time.perf_counter()
            self.tally.note(scope["method"], template, status, ended - started, time.monotonic())
