"""One writer at a time on a SQLite file, across threads and processes, without polling.

SQLite's own lock, when taken, makes the next writer sleep and retry (1 ms, 2 ms, 5 ms ... up to
100 ms between tries), which under load turns a 150 µs transaction into a tail of hundreds of
milliseconds. Writers here queue instead: on a thread lock within the process, then on an
``flock`` of a file beside the database across processes, and each wakes the moment the one
before it is done. SQLite's lock and ``busy_timeout`` stay as the last line.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class WriteLock:
    """Serializes write transactions on one database file."""

    def __init__(self, database: str) -> None:
        self._path = f"{database}.writelock"
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._thread_lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
