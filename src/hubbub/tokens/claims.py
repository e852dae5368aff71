"""Time claims: lifetime bounds, leeway, and how to say a moment to a person."""

from __future__ import annotations

import time
from datetime import UTC, datetime

#: Twilio's default token lifetime, in seconds.
DEFAULT_TTL = 3600
#: Twilio refuses tokens that live longer than a day (error 20157).
MAX_LIFETIME = 86400
#: Clock skew tolerated between the minting server and this one, in seconds. The same number
#: serves ``verify`` and the real-time lifecycle timers, so they never disagree.
DEFAULT_LEEWAY = 30
MAX_LEEWAY = 60


def now_seconds() -> int:
    """The current Unix time in whole seconds: the clock every default here reads."""
    return int(time.time())


def is_numeric_date(value: object) -> bool:
    """JWT NumericDate as the helper libraries write it: a whole number of seconds."""
    return type(value) is int


def check_leeway(leeway: int) -> int:
    if not is_numeric_date(leeway) or not 0 <= leeway <= MAX_LEEWAY:
        raise ValueError(f"leeway is a whole number of seconds from 0 to {MAX_LEEWAY}")
    return leeway


def timestamp(seconds: int) -> str:
    """``2026-11-28T12:03:10Z``: the format Twilio uses everywhere."""
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{seconds} (out of range)"


def span(seconds: int) -> str:
    """A duration a person reads at a glance: ``45 s``, ``4 min``, ``2 h 5 min``, ``3 days``."""
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def relative(moment: int, now: int) -> str:
    """``12:03:10Z (4 min ago)`` or ``... (in 59 min)``, with the date in full."""
    delta = moment - now
    when = "now" if delta == 0 else f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"
    return f"{timestamp(moment)} ({when})"
