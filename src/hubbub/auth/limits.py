"""Rate limits as token buckets, one per key (an identity, an address, a username).

Pure bookkeeping with an injected clock: no I/O, no sleeping, so tests step time by hand.
Buckets live in the process; with several workers each keeps its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

_MAX_KEYS = 100_000


class RateLimit:
    """At most ``burst`` events at once, refilled at ``burst`` per ``period`` seconds."""

    def __init__(
        self, burst: int, period: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if burst < 1 or period <= 0:
            raise ValueError("a rate limit needs burst ≥ 1 and period > 0")
        self.burst = burst
        self.period = period
        self._rate = burst / period
        self._clock = clock
        #: key -> (tokens left, when counted)
        self._buckets: dict[str, tuple[float, float]] = {}

    def _level(self, key: str, now: float) -> float:
        found = self._buckets.get(key)
        if found is None:
            return float(self.burst)
        tokens, then = found
        return min(float(self.burst), tokens + (now - then) * self._rate)

    def retry_after(self, key: str) -> int:
        """Whole seconds until ``key`` may act again; 0 when it may now. Takes nothing."""
        tokens = self._level(key, self._clock())
        return 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) / self._rate))

    def take(self, key: str) -> int:
        """Count one event for ``key``: 0 if allowed, else the whole seconds to wait."""
        now = self._clock()
        tokens = self._level(key, now)
        if tokens < 1:
            return max(1, math.ceil((1 - tokens) / self._rate))
        if len(self._buckets) >= _MAX_KEYS:
            self._forget_full(now)
        self._buckets[key] = (tokens - 1, now)
        return 0

    def _forget_full(self, now: float) -> None:
        # Buckets that refilled completely hold no information; drop them to bound memory.
        full = [k for k in self._buckets if self._level(k, now) >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= _MAX_KEYS:
            self._buckets.clear()


def parse_rate(text: str) -> tuple[int, float] | None:
    """``"N/s"``, ``"N/m"``, ``"N/h"`` (or ``"N/300s"``) as ``(burst, period)``; ``"0"`` or
    ``"off"`` as ``None`` (no limit)."""
    text = text.strip().lower()
    if text in ("", "0", "off", "none"):
        return None
    count, slash, unit = text.partition("/")
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        burst = int(count)
        if not slash:
            raise ValueError
        if unit in units:
            period = units[unit]
        elif unit.endswith("s") and unit[:-1].isdigit():
            period = float(unit[:-1])
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"a rate is N/s, N/m, N/h or N/<seconds>s, or off; not {text!r}") from None
    if burst < 1 or period <= 0:
        raise ValueError(f"a rate needs a positive count and period, not {text!r}")
    return burst, period
