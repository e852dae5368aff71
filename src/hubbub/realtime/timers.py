"""Deadlines of many connections in one heap, without I/O.

Ten thousand sessions each with a timer of their own (or a task waking once a second) keep the
event loop and the garbage collector busy; one heap holds every deadline instead, and the
adapter wakes once, for the earliest. Cancelling marks an entry dead; it is dropped when it
reaches the top.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

#: ``[when, sequence, callback]``; ``callback`` is ``None`` once cancelled. A list, so that
#: cancelling is one store, and the unique sequence keeps callbacks out of comparisons.
Entry = list[object]


class Timers:
    """A heap of ``(when, callback)``."""

    __slots__ = ("_heap", "_sequence")

    def __init__(self) -> None:
        self._heap: list[Entry] = []
        self._sequence = itertools.count()

    def push(self, when: float, callback: Callable[[], None]) -> Entry:
        entry: Entry = [when, next(self._sequence), callback]
        heapq.heappush(self._heap, entry)
        return entry

    @staticmethod
    def cancel(entry: Entry | None) -> None:
        if entry is not None:
            entry[2] = None

    def next(self) -> float | None:
        """The earliest live deadline, if any."""
        heap = self._heap
        while heap and heap[0][2] is None:
            heapq.heappop(heap)
        return float(heap[0][0]) if heap else None  # type: ignore[arg-type]

    def pop_due(self, now: float) -> list[Callable[[], None]]:
        """The callbacks of every live entry due at ``now``, earliest first, removed."""
        heap = self._heap
        due: list[Callable[[], None]] = []
        while heap and heap[0][0] <= now:  # type: ignore[operator]
            callback = heapq.heappop(heap)[2]
            if callback is not None:
                due.append(callback)  # type: ignore[arg-type]
        return due

    def __len__(self) -> int:
        return len(self._heap)
