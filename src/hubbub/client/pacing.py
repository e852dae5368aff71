"""Keeping under the server's command rate limit (close code 4029). No I/O.

The server allows 50 commands a second sustained, with a burst of 100. A client that resyncs
many channels after a reconnect can exceed that; if it were cut off it would reconnect, resync
and be cut off again. ``Pacer`` is a token bucket set a little below the server's.
"""

from __future__ import annotations


class Pacer:
    """A token bucket: ``delay(now)`` says how long to wait before sending one more command."""

    def __init__(self, rate: float = 40.0, burst: float = 80.0) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("need rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp: float | None = None

    def delay(self, now: float) -> float:
        """Take one token (possibly borrowed from the future); return the wait it implies."""
        if self._stamp is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
