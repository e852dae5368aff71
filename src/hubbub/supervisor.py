"""Running ``hubbub serve``: one process, or several on one port, each listening on its own.

uvicorn's own ``--workers`` shares one listening socket between its processes, and whichever
is awake first takes each new connection: under load a few processes get most of them. Here
every worker binds its own socket with ``SO_REUSEPORT``, and the kernel spreads connections
over them evenly. The supervisor restarts a worker that dies (unless they keep dying at once)
and stops them all on SIGINT or SIGTERM. Where the platform has no ``SO_REUSEPORT``, uvicorn's
supervisor runs instead.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from hubbub.defaults import CommandError
from hubbub.metrics import Metrics

if TYPE_CHECKING:
    from hubbub.settings import ServeSettings

#: uvicorn's protocol classes for ``hubbub serve``: httptools with bounded request heads, and
#: hubbub's own WebSocket protocol for ``/v1/ws``.
HTTP_PROTOCOL = "hubbub.web.http_uvicorn:HttpProtocol"
WS_PROTOCOL = "hubbub.web.ws_uvicorn:WebSocketProtocol"

log = logging.getLogger("hubbub.supervisor")
#: A worker that dies this soon after starting, this many times in a row, is not restarted.
QUICK_DEATH = 5.0
QUICK_DEATHS = 3


def reuse_port_available() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` in the port's ``SO_REUSEPORT`` group."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _refuse_if_served(host: str, port: int) -> None:
    """Refuse a port something already answers on: ``SO_REUSEPORT`` would let a second
    ``hubbub serve`` of the same user share it, each taking half the connections."""
    # A wildcard address is reached on loopback (not bound to: S104 does not apply).
    target = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    try:
        with socket.create_connection((target, port), timeout=1.0):
            pass
    except OSError:
        return
    raise CommandError(f"cannot listen on {host}:{port}: something already serves it")


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    """One worker process: its own socket, one uvicorn server."""
    import uvicorn

    try:
        sock = listening_socket(host, port)
    except CommandError as exc:
        sys.stderr.write(f"hubbub: {exc}\n")
        sys.exit(1)
    uvicorn.Server(uvicorn.Config(**options)).run(sockets=[sock])


class Supervisor:
    def __init__(self, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
        """``options`` are ``uvicorn.Config``'s, for every worker."""
        self.host = host
        self.port = port
        self.workers = workers
        self.options = options
        self._context = multiprocessing.get_context("spawn")
        self._stop = threading.Event()

    def run(self) -> None:
        _refuse_if_served(self.host, self.port)
        # Held, not listened on: the port stays ours between restarts, and a port taken by
        # something else is refused here, in one line, before any worker starts.
        probe = listening_socket(self.host, self.port)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self._stop.set())
        processes = [self._start() for _ in range(self.workers)]
        started = [time.monotonic()] * self.workers
        quick = 0
        try:
            while not self._stop.wait(0.5):
                for index, process in enumerate(processes):
                    if process.is_alive():
                        continue
                    Metrics.process_ended(process.pid)
                    lived = time.monotonic() - started[index]
                    quick = quick + 1 if lived < QUICK_DEATH else 0
                    if quick >= QUICK_DEATHS:
                        raise CommandError(
                            f"the workers keep exiting at once (last code {process.exitcode})"
                        )
                    log.warning(
                        "worker %s exited (%s); starting another", process.pid, process.exitcode
                    )
                    processes[index] = self._start()
                    started[index] = time.monotonic()
        finally:
            self._stop_all(processes)
            probe.close()

    def _start(self) -> BaseProcess:
        process = self._context.Process(
            target=_worker, args=(self.host, self.port, self.options), name="hubbub-worker"
        )
        process.start()
        return process

    def _stop_all(self, processes: list[BaseProcess]) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn closes connections and shuts down
        deadline = time.monotonic() + 30
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
            Metrics.process_ended(process.pid)


@contextlib.contextmanager
def _shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, a directory where each keeps its metrics, so that /metrics on any
    of them answers for all (prometheus_client's multi-process mode); removed afterwards."""
    if workers == 1 or "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        yield
        return
    directory = tempfile.mkdtemp(prefix="hubbub-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        shutil.rmtree(directory, ignore_errors=True)


def uvicorn_options(settings: ServeSettings) -> dict[str, Any]:
    """How every worker runs uvicorn."""
    return {
        "app": "hubbub.web.app:app_from_environment",
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "log_level": "warning",
        "access_log": False,  # request lines carry query strings; tokens are never logged
        # httptools with bounded request heads and a deadline to send one (431, or closed).
        "http": HTTP_PROTOCOL,
        # /v1/ws is served by hubbub's own WebSocket protocol, not through ASGI: a fraction of
        # the memory per connection, and fan-out writes one pre-built frame per client.
        "ws": WS_PROTOCOL,
        "ws_per_message_deflate": settings.ws_compression,
    }


@contextlib.contextmanager
def _courier(settings: ServeSettings) -> Iterator[None]:
    """The webhook courier (``hubbub.webhooks.courier``) in a process of its own, so that
    sending never competes with the workers' event loops; started again if it dies."""
    from hubbub.webhooks.process import run

    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def keep() -> None:
        while not stop.is_set():
            process = context.Process(
                target=run,
                args=(settings.to_json(), os.getpid()),
                name="hubbub-courier",
                daemon=True,
            )
            process.start()
            while process.is_alive() and not stop.wait(0.5):
                pass
            if stop.is_set():
                process.terminate()  # SIGTERM: it finishes the lanes in hand
                process.join(10)
                if process.is_alive():
                    process.kill()
                    process.join()
                return
            log.warning("the webhook courier exited (%s); starting another", process.exitcode)
            stop.wait(QUICK_DEATH)

    keeper = threading.Thread(target=keep, name="hubbub-courier-keeper", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()


@contextlib.contextmanager
def _media_sweep(settings: ServeSettings) -> Iterator[None]:
    """The media sweep (``hubbub.media.sweep``) in a thread of this process, with a store and a
    blob store of its own: one per ``hubbub serve``, whatever its number of workers."""
    stop = threading.Event()

    def work() -> None:
        from hubbub.media import sweep
        from hubbub.media.setup import blobs_for
        from hubbub.store import open_store

        store = open_store(settings.db, run_migrations=False)
        blobs = blobs_for(settings, store)
        try:
            sweep.run(store, blobs, stop)
        finally:
            blobs.close()
            store.close()

    thread = threading.Thread(target=work, name="hubbub-media-sweep", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def serve(settings: ServeSettings) -> None:
    """Run ``hubbub serve`` until it is told to stop: in this process with one worker, else
    under the ``Supervisor`` (or uvicorn's, without ``SO_REUSEPORT``); with the webhook
    courier beside them."""
    import uvicorn

    options = uvicorn_options(settings)
    with _shared_metrics(settings.workers), _courier(settings), _media_sweep(settings):
        if settings.workers == 1:
            uvicorn.run(**options)
        elif reuse_port_available():
            Supervisor(settings.host, settings.port, settings.workers, options).run()
        else:
            uvicorn.run(**options, workers=settings.workers)
