"""Where store calls run: on the event loop, or in the thread pool. Chosen once at start-up.

SQLite's transactions are local and take a fraction of a millisecond: a hop to a thread costs
more than the work, and forty threads fighting over the GIL stretch the tail, so its calls run
on the loop itself (``Inline``). A networked database (PostgreSQL) goes to the thread pool
(``Threaded``), so that a slow query never stalls the loop. Callers write one code path either
way: ``submit`` with a callback for the gateway's per-frame work (no task per frame inline),
``run`` to await from a coroutine.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
#: What a submitted call's callback gets: its result, or the exception it raised.
Done = Callable[[Any], None]


class Executor(Protocol):
    #: Whether calls leave the event loop (and so may finish in another order than submitted).
    threaded: bool

    def submit(self, function: Callable[..., Any], args: tuple[Any, ...], done: Done) -> None:
        """Call ``function(*args)``, then ``done`` on the event loop with its result or the
        ``Exception`` it raised. Inline, ``done`` runs before ``submit`` returns."""

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)``, awaited."""


class Inline:
    threaded = False

    def submit(self, function: Callable[..., Any], args: tuple[Any, ...], done: Done) -> None:
        try:
            result = function(*args)
        except Exception as exc:
            result = exc
        done(result)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        return function(*args)


class Threaded:
    threaded = True

    def __init__(self, threads: int | None = None) -> None:
        """In the thread pool every ``Threaded`` shares, or with ``threads``, in threads of its
        own: work that may wait long (on the network) then cannot starve the rest."""
        # Tasks are only weakly held by the loop: keep each until it is done.
        self._tasks: set[asyncio.Task[Any]] = set()
        self._limiter = None if threads is None else anyio.CapacityLimiter(threads)

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        if self._limiter is None:
            return await run_in_threadpool(function, *args)
        call = functools.partial(function, *args)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    def submit(self, function: Callable[..., Any], args: tuple[Any, ...], done: Done) -> None:
        task = asyncio.get_running_loop().create_task(self._call(function, *args))
        self._tasks.add(task)

        def finished(task: asyncio.Task[Any]) -> None:
            self._tasks.discard(task)
            if task.cancelled():
                return
            exc = task.exception()
            done(exc if exc is not None else task.result())

        task.add_done_callback(finished)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        return await self._call(function, *args)


def for_backend(backend: str) -> Executor:
    """``Inline`` for SQLite, ``Threaded`` for anything else."""
    return Inline() if backend == "sqlite" else Threaded()
