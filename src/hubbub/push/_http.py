"""What the httpx-based senders (FCM, APNs) share: failures without an answer, error bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx

from hubbub.push.notification import Outcome

#: Answers worth another try later, whatever the provider.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


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
