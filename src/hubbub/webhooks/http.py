"""A small synchronous HTTP/1.1 client for webhooks, on plain sockets.

Not ``http.client``: that one resolves names itself (a second lookup would let DNS rebinding past
the guard) and parses headers with the ``email`` package, which costs more than the request.
This one connects only to the addresses :class:`~hubbub.webhooks.addresses.Guard` returned,
keeps connections alive for the next call to the same origin, and holds every call to one
deadline. It is safe to share between threads.
"""

from __future__ import annotations

import functools
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from hubbub.webhooks.addresses import Guard
from hubbub.webhooks.errors import BadResponse, DeliveryError, Refused, Timeout, Unreachable

__all__ = [
    "USER_AGENT",
    "BadResponse",
    "Client",
    "DeliveryError",
    "Refused",
    "Response",
    "Timeout",
    "Unreachable",
]

#: What Twilio's webhook requests say they are; receivers may look for it.
USER_AGENT = "TwilioProxy/1.1"
_MAX_HEAD = 32 * 1024  # the status line and headers of a response
# Idle connections are dropped before servers usually drop theirs (uvicorn, Node: 5 s), which
# keeps the race of a request crossing the server's close rare.
_IDLE = 4.0
_STATUS = re.compile(r"HTTP/1\.([01]) (\d{3})(?: .*)?")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]  # scheme, host, port


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class _Stale(Exception):
    """The peer closed the connection before a byte of the response."""


class _Connection:
    """One socket and what was read from it beyond the last response."""

    def __init__(self, sock: socket.socket, where: str) -> None:
        self.sock = sock
        self.where = where
        self.buffer = bytearray()
        self.answered = False  # a byte of the current response has arrived
        self.idle_since = 0.0

    def send(self, data: bytes, deadline: float) -> None:
        self._wait_limit(deadline)
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise Timeout(f"timed out sending to {self.where}") from None
        except OSError:
            raise _Stale from None

    def _wait_limit(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout(f"no answer from {self.where} in time")
        self.sock.settimeout(remaining)

    def more(self, deadline: float) -> bool:
        """Read what has arrived into the buffer; ``False`` at the end of the stream."""
        self._wait_limit(deadline)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise Timeout(f"no answer from {self.where} in time") from None
        except OSError:
            if not self.answered:
                raise _Stale from None
            raise Unreachable(f"the connection to {self.where} was cut") from None
        if not data and not self.answered:
            raise _Stale
        self.answered = True
        self.buffer += data
        return bool(data)

    def until(self, marker: bytes, limit: int, deadline: float) -> bytes:
        start = 0
        while (end := self.buffer.find(marker, start, limit + len(marker))) < 0:
            if len(self.buffer) >= limit + len(marker):
                raise BadResponse(f"{self.where} sent a header or chunk line that is too long")
            start = max(0, len(self.buffer) - len(marker) + 1)
            if not self.more(deadline):
                raise BadResponse(f"{self.where} cut its response short")
        return self.take(end + len(marker))

    def exactly(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size:
            if not self.more(deadline):
                raise BadResponse(f"{self.where} cut its response short")
        return self.take(size)

    def to_end(self, limit: int, deadline: float) -> bytes:
        while len(self.buffer) <= limit and self.more(deadline):
            pass
        if len(self.buffer) > limit:
            raise BadResponse(f"the response of {self.where} is over {limit} bytes")
        return self.take(len(self.buffer))

    def take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def readable(self) -> bool:
        """Whether anything (most likely the end of the stream) arrived while it was idle."""
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))


class Client:
    """Webhook requests to the addresses ``guard`` allows, over kept-alive connections."""

    def __init__(
        self,
        guard: Guard,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_response: int = 64 * 1024,
        pool_size: int = 8,
    ) -> None:
        """``max_response`` bounds a response's body; ``pool_size`` the idle connections
        kept per origin (scheme, host, port)."""
        self.guard = guard
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.max_response = max_response
        self.pool_size = pool_size
        self._idle: dict[Origin, list[_Connection]] = {}
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        deadline: float,
    ) -> Response:
        """Send one request and read its response, all before ``deadline`` (a
        ``time.monotonic()`` time). ``headers`` come after Host, User-Agent, Connection and
        Content-Length, which are the client's. Raises a :class:`DeliveryError`."""
        origin, target = _split(url)
        scheme, host, port = origin
        authority = f"[{host}]" if ":" in host else host
        if port != _DEFAULT_PORTS[scheme]:
            authority = f"{authority}:{port}"
        lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}", f"User-Agent: {USER_AGENT}"]
        lines.append("Connection: keep-alive")
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        for name, value in headers:
            if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
                raise ValueError("a header name or value holds a line break")
            lines.append(f"{name}: {value}")
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        connection = self._take(origin)
        if connection is not None:
            try:
                return self._exchange(origin, connection, method, payload, deadline)
            except _Stale:
                pass  # closed by the peer while idle: once more, on a new connection
        connection = self._connect(origin, deadline)
        try:
            return self._exchange(origin, connection, method, payload, deadline)
        except _Stale:
            raise Unreachable(f"{connection.where} closed the connection unanswered") from None

    def close(self) -> None:
        """Close the idle connections (the client stays usable)."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _exchange(
        self, origin: Origin, connection: _Connection, method: str, payload: bytes, deadline: float
    ) -> Response:
        connection.answered = False
        try:
            connection.send(payload, deadline)
            response, reusable = self._read(connection, method, deadline)
        except BaseException:
            connection.sock.close()
            raise
        if reusable and not connection.buffer:  # bytes beyond the response: out of step
            self._give_back(origin, connection)
        else:
            connection.sock.close()
        return response

    def _read(self, connection: _Connection, method: str, deadline: float) -> tuple[Response, bool]:
        where = connection.where
        status = 100
        while status < 200:  # skip interim responses (100 Continue)
            head = connection.until(b"\r\n\r\n", _MAX_HEAD, deadline)
            lines = head[:-4].decode("latin-1").split("\r\n")
            if not (matched := _STATUS.fullmatch(lines[0])):
                raise BadResponse(f"{where} sent no HTTP/1.1 status line")
            minor, status = matched[1], int(matched[2])
        fields: list[tuple[str, str]] = []
        length = coding = None
        reusable = minor == "1"
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise BadResponse(f"{where} sent a malformed header")
            fields.append((name, value := value.strip()))
            key = name.lower()
            if key == "content-length":
                if not value.isdigit() or length not in (None, value):
                    raise BadResponse(f"{where} sent a malformed Content-Length")
                length = value
            elif key == "transfer-encoding":
                coding = value.lower()
            elif key == "connection" and "close" in value.lower():
                reusable = False
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif coding is not None:
            reusable = reusable and length is None
            if coding.rsplit(",", 1)[-1].strip() == "chunked":
                body = self._chunked(connection, deadline)
            else:
                body, reusable = connection.to_end(self.max_response, deadline), False
        elif length is not None:
            if int(length) > self.max_response:
                raise BadResponse(f"the response of {where} is over {self.max_response} bytes")
            body = connection.exactly(int(length), deadline)
        else:
            body, reusable = connection.to_end(self.max_response, deadline), False
        return Response(status, tuple(fields), body), reusable

    def _chunked(self, connection: _Connection, deadline: float) -> bytes:
        where = connection.where
        parts: list[bytes] = []
        total = 0
        while True:
            line = connection.until(b"\r\n", 1024, deadline)
            size = line[:-2].split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size):
                raise BadResponse(f"{where} sent a malformed chunk")
            if not int(size, 16):
                break
            total += int(size, 16)
            if total > self.max_response:
                raise BadResponse(f"the response of {where} is over {self.max_response} bytes")
            chunk = connection.exactly(int(size, 16) + 2, deadline)
            if chunk[-2:] != b"\r\n":
                raise BadResponse(f"{where} sent a malformed chunk")
            parts.append(chunk[:-2])
        while connection.until(b"\r\n", _MAX_HEAD, deadline) != b"\r\n":
            pass  # trailers, unused (and bounded by the deadline)
        return b"".join(parts)

    def _connect(self, origin: Origin, deadline: float) -> _Connection:
        scheme, host, port = origin
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        failure = "no address"
        for address in self.guard.resolve(host, port):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout(f"timed out connecting to {where}")
            try:
                sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
            except OSError as exc:  # out of file descriptors, say: try again later
                raise Unreachable(f"no socket for {where}: {exc.strerror}") from None
            try:
                sock.settimeout(remaining)
                sock.connect((address, port))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if scheme == "https":  # the name is checked, the pinned address connected to
                    sock = self.ssl_context.wrap_socket(sock, server_hostname=host)
            except TimeoutError:
                sock.close()
                raise Timeout(f"timed out connecting to {where}") from None
            except ssl.SSLCertVerificationError as exc:
                sock.close()
                raise Unreachable(f"{where}: {exc.verify_message}") from None
            except ssl.SSLError as exc:
                sock.close()
                raise Unreachable(f"TLS with {where} failed: {exc.reason}") from None
            except OSError as exc:
                sock.close()
                failure = exc.strerror or type(exc).__name__
                continue
            return _Connection(sock, where)
        raise Unreachable(f"cannot connect to {where}: {failure}")

    def _take(self, origin: Origin) -> _Connection | None:
        now = time.monotonic()
        connection = None
        stale: list[_Connection] = []
        with self._lock:
            idle = self._idle.get(origin)
            if idle:
                connection = idle.pop()  # the newest: the least likely to be closed
                if now - connection.idle_since > _IDLE:  # then all of them expired
                    stale = [*idle, connection]
                    idle.clear()
                    connection = None
        for old in stale:
            old.sock.close()
        if connection is not None and connection.readable():
            connection.sock.close()  # closed (or talking) while idle: not worth a try
            return None
        return connection

    def _give_back(self, origin: Origin, connection: _Connection) -> None:
        now = connection.idle_since = time.monotonic()
        expired: list[_Connection] = []
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self.pool_size:
                idle.append(connection)
            else:
                expired.append(connection)
            if now - self._swept > _IDLE:  # now and then, drop what no later call took
                self._swept = now
                for key, kept in list(self._idle.items()):
                    expired += [c for c in kept if now - c.idle_since > _IDLE]
                    kept[:] = [c for c in kept if now - c.idle_since <= _IDLE]
                    if not kept:
                        del self._idle[key]
        for old in expired:
            old.sock.close()


@functools.lru_cache(maxsize=256)  # webhooks call the same few URLs again and again
def _split(url: str) -> tuple[Origin, str]:
    """The origin and request target of ``url``, or :class:`Refused`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise Refused("the URL's port is not a number from 0 to 65535") from None
    if scheme not in _DEFAULT_PORTS or not host:
        raise Refused("the URL is not http:// or https:// with a host")
    if parts.username is not None or parts.password is not None:
        raise Refused("the URL holds credentials, which webhooks do not send")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise Refused("the URL's host is not a valid name") from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not (target.isascii() and target.isprintable()) or " " in target:
        raise Refused("the URL holds characters a request line cannot carry")
    return (scheme, host, _DEFAULT_PORTS[scheme] if port is None else port), target
