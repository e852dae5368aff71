"""pytest's end of ``driver.js``: one Node.js process running one of Twilio's SDKs.

A test scripts the SDK step by step with :meth:`Driver.call` and asserts on what comes back,
and on the events the SDK fires in between (:meth:`Driver.wait_event`). The protocol is
described at the top of ``driver.js``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tests.twilio_sdk.sdks import SDKS, node_modules

SCRIPT = Path(__file__).with_name("driver.js")
#: How many of the driver's last stderr lines are kept, and how many an error quotes (the SDKs
#: log stack traces of a dozen lines for mere warnings).
STDERR_KEPT = 200
STDERR_QUOTED = 60

Event = dict[str, Any]
EventTest = str | Callable[[Event], bool]


class DriverError(Exception):
    """An op the driver answered with an error, or a driver that stopped answering.

    ``kind`` is the driver's classification ("sdk" for what the SDK threw, "init", "timeout",
    "usage", "unsupported", "not_found"; "exited" and "no_answer" from this side); ``code`` and
    ``status`` are the Twilio error code and HTTP status where the SDK had them.
    """

    def __init__(self, op: str, error: dict[str, Any], stderr: str) -> None:
        self.op = op
        self.error = error
        self.message: str = str(error.get("message"))
        self.kind: str | None = error.get("kind")
        self.code: Any = error.get("code")
        self.status: Any = error.get("status")
        self.body: Any = error.get("body")
        text = f"{op}: {self.message} ({json.dumps(error, sort_keys=True)})"
        if stderr:
            text += f"\n--- driver stderr (last lines) ---\n{stderr}"
        super().__init__(text)


class Driver:
    """``node driver.js SDK NODE_MODULES``, its answers matched to calls by a reader thread."""

    def __init__(self, sdk: str, *, modules: Path | None = None, start_timeout: float = 60) -> None:
        if sdk not in SDKS:
            raise ValueError(f"unknown SDK {sdk!r}; one of {SDKS}")
        node = shutil.which("node")
        if node is None:
            raise RuntimeError(
                "Node.js is needed for the Twilio SDK tests (scripts/test installs it)"
            )
        self.sdk = sdk
        self._process = subprocess.Popen(
            [node, str(SCRIPT), sdk, str(modules or node_modules())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        # One condition guards everything the reader thread fills in.
        self._changed = threading.Condition()
        self._answers: dict[int, dict[str, Any]] = {}
        self._abandoned: set[int] = set()
        self._events: list[Event] = []
        self._unmatched: list[Event] = []
        self._ended = False
        self._stderr: deque[str] = deque(maxlen=STDERR_KEPT)
        self._write_lock = threading.Lock()
        self._next_id = 0
        # Both are pipes, as asked above; the asserts tell mypy so.
        assert self._process.stdout is not None
        assert self._process.stderr is not None
        self._threads = [
            threading.Thread(target=self._read_stdout, args=(self._process.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self._process.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        try:
            ready = self.wait_event("ready", timeout=start_timeout)
        except TimeoutError:
            self.close()
            raise
        self.version: str = ready["data"]["version"]

    # --- The reader threads ---------------------------------------------------------------

    def _read_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                message = json.loads(line)
            except ValueError:
                # Not the protocol: keep it with stderr, where it helps explain a failure.
                self._stderr.append(f"[stdout] {line.rstrip()}")
                continue
            with self._changed:
                if "event" in message:
                    self._events.append(message)
                    self._unmatched.append(message)
                elif message.get("id") in self._abandoned:
                    self._abandoned.discard(message["id"])
                else:
                    self._answers[message.get("id")] = message
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def _read_stderr(self, stream: IO[str]) -> None:
        # Drained all along, so that a chatty SDK never blocks on a full pipe.
        for line in stream:
            self._stderr.append(line.rstrip())

    @property
    def stderr(self) -> str:
        """The driver's last lines on stderr (the SDK's warnings among them)."""
        return "\n".join(self._stderr)

    def _stderr_tail(self) -> str:
        return "\n".join(list(self._stderr)[-STDERR_QUOTED:])

    # --- Calls and events -----------------------------------------------------------------

    def call(self, op: str, /, *, timeout: float = 20, **args: Any) -> Any:
        """Run ``op`` with ``args`` in the driver and return its result; raise
        :class:`DriverError` if it fails or gives no answer within ``timeout`` seconds (or
        5 s after the driver's own ``timeoutMs`` for the op, if that is later)."""
        if isinstance(args.get("timeoutMs"), int | float):
            # Let the driver's timeout fire first: its error says more than "no answer".
            timeout = max(timeout, args["timeoutMs"] / 1000 + 5)
        with self._write_lock:
            self._next_id += 1
            request_id = self._next_id
            line = json.dumps({"id": request_id, "op": op, **args})
            stdin = self._process.stdin
            try:
                assert stdin is not None
                stdin.write(line + "\n")
                stdin.flush()
            except (OSError, ValueError) as error:
                raise DriverError(
                    op,
                    {"message": f"cannot write to the driver: {error}", "kind": "exited"},
                    self._stderr_tail(),
                ) from error
        deadline = time.monotonic() + timeout
        with self._changed:
            while request_id not in self._answers:
                remaining = deadline - time.monotonic()
                if self._ended or remaining <= 0:
                    self._abandoned.add(request_id)
                    why = "the driver exited" if self._ended else f"no answer in {timeout} s"
                    kind = "exited" if self._ended else "no_answer"
                    raise DriverError(op, {"message": why, "kind": kind}, self._stderr_tail())
                self._changed.wait(remaining)
            answer = self._answers.pop(request_id)
        if answer.get("ok"):
            return answer.get("result")
        raise DriverError(op, answer.get("error") or {}, self._stderr_tail())

    def events(self, name: str | None = None, *, client: str | None = None) -> list[Event]:
        """Every event received so far (matched by :meth:`wait_event` or not), in order."""
        with self._changed:
            return [event for event in self._events if _matches(event, name, client)]

    def wait_event(
        self, test: EventTest, timeout: float = 10, *, client: str | None = None
    ) -> Event:
        """The first event not matched before that passes ``test`` (an event name, or a
        predicate on the whole event line) and comes from ``client`` if given; it counts as
        matched from then on, so that waiting twice needs two events. Waits up to ``timeout``
        seconds for it, then raises :class:`TimeoutError`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for position, event in enumerate(self._unmatched):
                    if _matches(event, test, client):
                        del self._unmatched[position]
                        return event
                remaining = deadline - time.monotonic()
                if self._ended or remaining <= 0:
                    seen = [f"{e.get('client')}:{e.get('event')}" for e in self._events[-20:]]
                    raise TimeoutError(
                        f"no such event in {timeout} s"
                        f"{' (the driver exited)' if self._ended else ''}; "
                        f"the last ones: {seen}\n--- driver stderr ---\n{self._stderr_tail()}"
                    )
                self._changed.wait(remaining)

    # --- The end --------------------------------------------------------------------------

    def close(self) -> None:
        """Shut the clients down and end the process (closing stdin asks the driver to)."""
        if self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.close()
            except OSError:
                pass  # it is on its way out already
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        for thread in self._threads:
            thread.join(timeout=5)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Driver:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _matches(event: Event, test: EventTest | None, client: str | None) -> bool:
    if client is not None and event.get("client") != client:
        return False
    if test is None:
        return True
    if isinstance(test, str):
        return bool(event.get("event") == test)
    return test(event)


def event_for(name: str, **fields: Any) -> Callable[[Event], bool]:
    """A test for :meth:`Driver.wait_event`: event ``name`` whose data has these fields (a
    dotted name reaches into nested objects: ``message.body``)."""

    def test(event: Event) -> bool:
        if event.get("event") != name:
            return False
        for dotted, wanted in fields.items():
            value: Any = event["data"]
            for part in dotted.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value != wanted:
                return False
        return True

    return test
