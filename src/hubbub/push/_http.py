"""What the httpx-based senders (FCM, APNs) share: failures without an answer, error bodies."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from hubbub.push.notification import Outcome

#: Answers worth another try later, whatever the provider.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_KEEPALIVE = 120.0


def no_answer(provider: str, exc: httpx.HTTPError, hide: str = "") -> Outcome:
    """The outcome of a request that got no answer: worth another try later. ``hide`` (the
    device token) is cut from the message should httpx have put the URL in it."""
    if isinstance(exc, httpx.TimeoutException):
        return Outcome(False, retryable=True, detail=f"{provider}: timed out")
    message = str(exc).replace(hide, "…") if hide else str(exc)
    return Outcome(False, retryable=True, detail=f"{provider}: {type(exc).__name__}: {message}")


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or ``{}`` when it is none."""
    try:
        value = json.loads(response.content)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def retryable(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


class ClientPool:
    """HTTP/2 clients lent to one thread at a time.

    httpcore's synchronous HTTP/2 connection is not safe to share between threads: requests
    sent at once from several may open their streams out of order, which the server answers
    with a PROTOCOL_ERROR that ends the connection (encode/httpx#3072; seen here in tests).
    So each request borrows a client (with its connections) that no other thread uses
    meanwhile: as many connections to a provider as threads send at once, which Apple
    recommends anyway for throughput.
    """

    def __init__(self, verify: ssl.SSLContext | bool, *, keep: int = 16) -> None:
        self.verify = verify
        self.keep = keep  # idle clients kept; more are closed when given back
        self._idle: list[httpx.Client] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def client(self) -> Iterator[httpx.Client]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the pusher is closed")
            # The most recently used: its connections are the likeliest to be open still.
            client = self._idle.pop() if self._idle else None
        if client is None:
            # Providers keep idle HTTP/2 connections for a long while; httpx's 5 s would
            # mean a TLS handshake for most pushes of a quiet service.
            limits = httpx.Limits(keepalive_expiry=_KEEPALIVE)
            client = httpx.Client(http2=True, verify=self.verify, limits=limits)
        try:
            yield client
        finally:
            with self._lock:
                kept = not self._closed and len(self._idle) < self.keep
                if kept:
                    self._idle.append(client)
            if not kept:
                client.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for client in idle:
            client.close()
