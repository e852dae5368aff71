"""Rate limits as token buckets, one per key (an identity, an address, a username).

Pure bookkeeping with an injected clock: no I/O, no sleeping, so tests step time by hand.
Buckets live in the process; with several workers each keeps its own. Memory is bounded: a
table holds at most ``max_keys`` buckets, the least recently counted go first, and a bucket
exists only while it holds something (a refused or forgiven attempt leaves none behind).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence

_MAX_KEYS = 100_000


def digest(text: str) -> str:
    """A fixed-size key for ``text`` (a username can be as long as a request body)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class RateLimit:
    """At most ``burst`` events at once, refilled at ``burst`` per ``period`` seconds."""

    def __init__(
        self,
        burst: int,
        period: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = _MAX_KEYS,
    ) -> None:
        if burst < 1 or period <= 0 or max_keys < 1:
            raise ValueError("a rate limit needs burst ≥ 1, period > 0 and max_keys ≥ 1")
        self.burst = burst
        self.period = period
        self._rate = burst / period
        self._clock = clock
        self._max_keys = max_keys
        #: key -> (tokens left, when counted), least recently counted first
        self._buckets: dict[str, tuple[float, float]] = {}

    def __len__(self) -> int:
        """How many buckets are held."""
        return len(self._buckets)

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
            return max(1, math.ceil((1 - tokens) / self._rate))  # refused: nothing stored
        # Moved to the end, so the first bucket is always the least recently counted: the one
        # closest to full again, and so the cheapest to forget when the table is full.
        self._buckets.pop(key, None)
        while len(self._buckets) >= self._max_keys:
            del self._buckets[next(iter(self._buckets))]
        self._buckets[key] = (tokens - 1, now)
        return 0

    def give_back(self, key: str) -> None:
        """Undo one ``take`` of ``key`` (an attempt that turned out not to count)."""
        if key in self._buckets:
            now = self._clock()
            tokens = self._level(key, now) + 1
            if tokens >= self.burst:
                del self._buckets[key]  # full again: it holds nothing a new bucket would not
            else:
                self._buckets[key] = (tokens, now)


#: One rate limit and the key an attempt was counted under, to give it back.
Counted = tuple[RateLimit, str]


class LoginLimits:
    """Failed sign-in limits, counted before the password is checked so that simultaneous
    guesses are stopped like sequential ones; a right password gives its attempt back.

    Three buckets: per username from one client address (a guesser there is stopped without
    locking the user out everywhere), per address (one address trying many usernames), and a
    ceiling per username from all addresses together (guesses spread over many addresses).
    Addresses the user signed in from in the last ``remember`` seconds skip the ceiling, so an
    attack spread over many addresses does not lock the user out where they usually are.
    """

    def __init__(
        self,
        per_username: tuple[int, float] | None,
        per_address: tuple[int, float] | None,
        per_username_total: tuple[int, float] | None,
        *,
        remember: float = 7 * 24 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = _MAX_KEYS,
    ) -> None:
        def limit(rate: tuple[int, float] | None) -> RateLimit | None:
            if rate is None:
                return None
            return RateLimit(rate[0], rate[1], clock=clock, max_keys=max_keys)

        self._per_username = limit(per_username)
        self._per_address = limit(per_address)
        self._total = limit(per_username_total)
        self._remember = remember
        self._clock = clock
        self._max_keys = max_keys
        #: digest of "username\0address" -> until when that address skips the username's
        #: ceiling, soonest first (every entry lives ``remember`` seconds)
        self._known: dict[str, float] = {}

    def __len__(self) -> int:
        """How many entries all the tables hold together."""
        limits = (self._per_username, self._per_address, self._total)
        return len(self._known) + sum(len(limit) for limit in limits if limit is not None)

    def begin(self, username: str, address: str) -> tuple[int, tuple[Counted, ...]]:
        """Count an attempt: ``(0, what was counted)``, or ``(seconds to wait, ())`` with
        nothing counted, nor stored, when a limit is reached."""
        # Keyed by digests: the table's size does not depend on what a client sends.
        pair = digest(f"{username}\0{address}")
        checks: list[Counted] = []
        if self._per_username is not None:
            checks.append((self._per_username, pair))
        if self._per_address is not None:
            checks.append((self._per_address, address))
        if self._total is not None and self._known.get(pair, 0.0) <= self._clock():
            checks.append((self._total, digest(username)))
        # Every limit is asked before any is counted, so a refused attempt leaves no bucket.
        wait = max((limit.retry_after(key) for limit, key in checks), default=0)
        if wait:
            return wait, ()
        for limit, key in checks:
            limit.take(key)
        return 0, tuple(checks)

    @staticmethod
    def forgive(counted: Sequence[Counted]) -> None:
        """Give back an attempt that did not fail (right password, or never checked)."""
        for limit, key in counted:
            limit.give_back(key)

    def succeeded(self, username: str, address: str, counted: Sequence[Counted]) -> None:
        """The password was right: give the attempt back and remember the address."""
        self.forgive(counted)
        if self._total is None:
            return
        pair = digest(f"{username}\0{address}")
        self._known.pop(pair, None)
        now = self._clock()
        # The first entry always expires first: forget expired ones, then the soonest to expire.
        while self._known and (
            len(self._known) >= self._max_keys or next(iter(self._known.values())) <= now
        ):
            del self._known[next(iter(self._known))]
        self._known[pair] = now + self._remember


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
