"""A real HTTP server on 127.0.0.1 that records the webhooks it receives and answers as told."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator


@dataclass(frozen=True)
class Received:
    method: str
    url: str
    headers: dict[str, str]
    #: The form parameters, in the order they came (the query's, for GET).
    params: list[tuple[str, str]]

    @property
    def form(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def event(self) -> str:
        return self.form["EventType"]


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    #: Seconds to wait before answering (to outlast a deadline).
    delay: float = 0.0


@dataclass
class Receiver:
    """What came in, and what to answer next (``script``; afterwards, ``default``)."""

    base_url: str
    received: list[Received] = field(default_factory=list)
    script: list[Answer] = field(default_factory=list)
    default: Answer = field(default_factory=Answer)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def answer(self, request: Received) -> Answer:
        with self.changed:
            self.received.append(request)
            self.changed.notify_all()
            return self.script.pop(0) if self.script else self.default

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first ``count`` requests, once they came."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{len(self.received)} webhooks came, not {count}")
            return list(self.received[:count])

    def events(self) -> list[str]:
        with self.changed:
            return [request.event for request in self.received]

    def assert_signed(self, auth_token: str) -> None:
        """Every request passes twilio-python's own ``RequestValidator``."""
        validator = RequestValidator(auth_token)
        for request in self.received:
            params = request.form if request.method == "POST" else {}
            signature = request.headers.get("x-twilio-signature", "")
            assert validator.validate(request.url, params, signature), request


@contextmanager
def receiving() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    server.receiver = receiver  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a slow answer: expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        self._answer(parse_qsl(body, keep_blank_values=True))

    def do_GET(self) -> None:
        self._answer(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))

    def _answer(self, params: list[tuple[str, str]]) -> None:
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        request = Received(
            self.command,
            receiver.base_url + self.path,
            {name.lower(): value for name, value in self.headers.items()},
            params,
        )
        answer = receiver.answer(request)
        if answer.delay:
            time.sleep(answer.delay)  # a slow receiver, on purpose
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: object) -> None:
        pass
