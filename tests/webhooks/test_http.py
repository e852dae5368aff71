"""The webhook HTTP client against real servers on 127.0.0.1: what it sends and reads, kept-alive
connections, deadlines, limits, the guard, and TLS with the host name checked."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hubbub.webhooks.addresses import Guard
from hubbub.webhooks.http import (
    USER_AGENT,
    BadResponse,
    Client,
    DeliveryError,
    Refused,
    Response,
    Timeout,
    Unreachable,
)

LOCAL = Guard.from_strings(["127.0.0.0/8", "::1/128"])
SECRET = "do-not-log-me"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@dataclass
class Seen:
    """One request as the server read it."""

    connection: int
    head: str
    body: bytes

    @property
    def request_line(self) -> str:
        return self.head.split("\r\n", 1)[0]

    @property
    def headers(self) -> list[tuple[str, str]]:
        lines = self.head.split("\r\n")[1:]
        return [(n, v.strip()) for n, _, v in (line.partition(":") for line in lines)]


class Close(bytes):
    """A reply after which the server closes the connection."""


#: The answer that closes the connection without a reply.
CLOSE = Close()
#: The answer that holds the request unanswered until the server stops.
HANG = Close(b"never")
Answer = Callable[[Seen], bytes]


class Peer:
    """An HTTP/1.1 server on a loopback socket, answering each request with ``answer(seen)``."""

    def __init__(self, answer: Answer, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.tls = tls
        self.seen: list[Seen] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept)]
        self._threads[0].start()

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._sockets.append(sock)
                thread = threading.Thread(target=self._serve, args=(sock, self.connections))
                self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
                with self._lock:
                    self._sockets.append(sock)
            self._answer(sock, number)
        except OSError:
            pass  # the client went away, or refused our certificate
        finally:
            sock.close()

    def _answer(self, sock: socket.socket, number: int) -> None:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                data = sock.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            seen = Seen(number, head.decode("latin-1"), b"")
            length = int(dict((n.lower(), v) for n, v in seen.headers).get("content-length", 0))
            while len(buffer) < length:
                buffer += sock.recv(65536)
            seen.body, buffer = buffer[:length], buffer[length:]
            with self._lock:
                self.seen.append(seen)
            reply = self.answer(seen)
            if reply is HANG:
                self._stop.wait()
                return
            sock.sendall(reply)
            if isinstance(reply, Close):
                return

    def close(self) -> None:
        self._stop.set()
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self.listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):  # closed already
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join()


@pytest.fixture
def serve() -> Iterator[Callable[..., Peer]]:
    peers: list[Peer] = []

    def start(answer: Answer, tls: ssl.SSLContext | None = None) -> Peer:
        peers.append(Peer(answer, tls))
        return peers[-1]

    yield start
    for peer in peers:
        peer.close()


@pytest.fixture
def client() -> Iterator[Client]:
    with Client(LOCAL) as made:
        yield made


def soon(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def test_it_sends_the_request_and_reads_status_headers_and_body(
    serve: Callable[..., Peer], client: Client
) -> None:
    reply = (
        b"HTTP/1.1 201 Created\r\nX-Answer: forty two \r\nset-cookie: a=1\r\n"
        b'Set-Cookie: b=2\r\nContent-Length: 11\r\n\r\n{"ok":true}'
    )
    peer = serve(lambda seen: reply)
    body = b"EventType=onMessageSent&Body=h%C3%A9"
    headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("X-Twilio-Signature", "c2ln"),
    ]

    response = client.request(
        "POST", peer.url("/hook?x=1"), headers=headers, body=body, deadline=soon()
    )

    assert response == Response(
        201,
        (
            ("X-Answer", "forty two"),
            ("set-cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("Content-Length", "11"),
        ),
        b'{"ok":true}',
    )
    [seen] = peer.seen
    assert seen.request_line == "POST /hook?x=1 HTTP/1.1"
    assert seen.headers == [
        ("Host", f"127.0.0.1:{peer.port}"),
        ("User-Agent", USER_AGENT),
        ("Connection", "keep-alive"),
        ("Content-Length", str(len(body))),
        *headers,
    ]
    assert seen.body == body
    assert USER_AGENT == "TwilioProxy/1.1"

    # A GET has no body, and says no length.
    client.request("GET", peer.url("/get?a=1&b=%20"), deadline=soon())
    assert peer.seen[-1].request_line == "GET /get?a=1&b=%20 HTTP/1.1"
    assert "Content-Length" not in dict(peer.seen[-1].headers)
    with pytest.raises(ValueError, match="line break"):
        client.request("GET", peer.url(), headers=[("X-Evil", "a\r\nHost: b")], deadline=soon())


def test_connections_are_kept_alive_and_reused(serve: Callable[..., Peer], client: Client) -> None:
    peer = serve(lambda seen: OK)
    for _ in range(5):
        assert client.request("POST", peer.url(), body=b"a=1", deadline=soon()).body == b"ok"
    assert (len(peer.seen), peer.connections) == (5, 1)

    # Closed by a Connection: close answer, or an HTTP/1.0 one without keep-alive.
    closing = serve(
        lambda seen: b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    old = serve(lambda seen: b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    for _ in range(3):
        client.request("GET", closing.url(), deadline=soon())
        client.request("GET", old.url(), deadline=soon())
    assert (closing.connections, old.connections) == (3, 3)


def test_many_threads_share_one_client(serve: Callable[..., Peer]) -> None:
    def echo(seen: Seen) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(seen.body), seen.body)

    peer = serve(echo)
    with Client(LOCAL, pool_size=8) as client, ThreadPoolExecutor(8) as pool:
        bodies = [f"n={i}".encode() for i in range(200)]
        answers = pool.map(
            lambda body: client.request("POST", peer.url(), body=body, deadline=soon()).body,
            bodies,
        )
        assert list(answers) == bodies
    assert len(peer.seen) == 200
    assert peer.connections <= 8  # one per thread at most: each kept for the next request


def test_bodies_are_read_chunked_or_to_the_end_of_the_stream(
    serve: Callable[..., Peer], client: Client
) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n1\r\n \r\nA\r\nworld, 10!\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    peer = serve(lambda seen: chunked)
    for _ in range(2):
        assert client.request("GET", peer.url(), deadline=soon()).body == b"hello world, 10!"
    assert peer.connections == 1

    # Read until the end of the stream when nothing says the length.
    unframed = serve(lambda seen: Close(b"HTTP/1.1 200 OK\r\n\r\nto the end"))
    assert client.request("GET", unframed.url(), deadline=soon()).body == b"to the end"
    assert client.request("GET", unframed.url(), deadline=soon()).body == b"to the end"
    assert unframed.connections == 2

    # No body where HTTP says there is none, whatever Content-Length says.
    empty = serve(lambda seen: b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n")
    assert client.request("POST", empty.url(), deadline=soon()).body == b""
    interim = serve(lambda seen: b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
    assert client.request("POST", interim.url(), deadline=soon()).status == 200


def test_a_kept_connection_closed_as_the_request_arrives_is_retried_once(
    serve: Callable[..., Peer], client: Client
) -> None:
    peer = serve(lambda seen: OK)
    client.request("GET", peer.url(), deadline=soon())

    # The server closes the kept connection unanswered, as one whose keep-alive timeout ran
    # out while the request was on its way does: sent once more, on a new connection.
    peer.answer = lambda seen: CLOSE if len(peer.seen) == 2 else OK
    assert client.request("POST", peer.url(), body=b"x=2", deadline=soon()).body == b"ok"
    assert [(s.connection, s.body) for s in peer.seen] == [(1, b""), (1, b"x=2"), (2, b"x=2")]

    # A new connection closed unanswered is not tried again.
    peer.answer = lambda seen: CLOSE
    with pytest.raises(Unreachable, match=r"^127\.0\.0\.1:\d+ closed the connection unanswered$"):
        client.request("POST", peer.url(), body=b"x=3", deadline=soon())
    assert [s.connection for s in peer.seen[3:]] == [2, 3]


def test_an_idle_connection_closed_by_the_peer_is_replaced(
    serve: Callable[..., Peer], client: Client
) -> None:
    peer = serve(lambda seen: OK)
    client.request("GET", peer.url(), deadline=soon())
    [kept] = peer._sockets  # the server's end of the kept connection
    kept.shutdown(socket.SHUT_RDWR)
    assert client.request("POST", peer.url(), body=b"once", deadline=soon()).body == b"ok"
    assert [(s.connection, s.body) for s in peer.seen] == [(1, b""), (2, b"once")]


def test_a_server_that_never_answers_times_out_at_the_deadline(
    serve: Callable[..., Peer], client: Client
) -> None:
    peer = serve(lambda seen: HANG)
    started = time.monotonic()
    with pytest.raises(Timeout, match=r"^no answer from 127\.0\.0\.1:\d+ in time$"):
        client.request("POST", peer.url(), body=b"a=1", deadline=started + 0.2)
    assert 0.2 <= time.monotonic() - started < 2
    with pytest.raises(Timeout):
        client.request("GET", peer.url(), deadline=time.monotonic() - 1)


def test_a_refused_connection_is_unreachable(client: Client) -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    with pytest.raises(Unreachable, match=rf"^cannot connect to 127\.0\.0\.1:{port}: "):
        client.request("GET", f"http://127.0.0.1:{port}/", deadline=soon())


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n" + b"x" * 65, "is over 64 bytes"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"20\r\n" + b"x" * 32 + b"\r\n") * 3,
            "is over 64 bytes",
        ),
        (b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 65, "is over 64 bytes"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n", "is over 64 bytes"),  # not even read
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "cut its response short"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "malformed Content-Length"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "malformed Content-Length",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "malformed chunk"),
        (b"HTTP/2 200\r\n\r\n", "no HTTP/1.1 status line"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "no HTTP/1.1 status line"),
        (b"HTTP/1.1 200 OK\r\n" + SECRET.encode() + b"\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 40000 + b"\r\n\r\n", "too long"),
    ],
)
def test_bad_or_too_large_responses_are_refused(
    serve: Callable[..., Peer], reply: bytes, error: str
) -> None:
    peer = serve(lambda seen: Close(reply))
    with Client(LOCAL, max_response=64) as client, pytest.raises(BadResponse) as caught:
        client.request(
            "POST", peer.url(f"/hook?token={SECRET}"), body=SECRET.encode(), deadline=soon()
        )
    assert error in str(caught.value)
    assert isinstance(caught.value, DeliveryError)
    assert SECRET not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_guard_refuses_before_connecting(serve: Callable[..., Peer]) -> None:
    peer = serve(lambda seen: OK)
    with Client(Guard()) as client:
        with pytest.raises(Refused, match=r"^webhooks may not reach 127\.0\.0\.1 \(loopback\)$"):
            client.request("GET", peer.url(), deadline=soon())
        with pytest.raises(Refused, match=r"\(loopback\), an address of localhost$"):
            client.request("GET", peer.url(host="localhost"), deadline=soon())
        for url in (
            f"ftp://127.0.0.1:{peer.port}/",
            "http:///no-host",
            f"http://user:{SECRET}@127.0.0.1:{peer.port}/",
            "http://127.0.0.1:99999/",
            "http://127.0.0.1/a b",
        ):
            with pytest.raises(Refused) as caught:
                client.request("GET", url, deadline=soon())
            assert SECRET not in str(caught.value)
    assert peer.connections == 0


@dataclass
class Authority:
    """A certificate authority made for one test, and a server certificate it signed."""

    ca_pem: bytes
    cert_file: Path
    key_file: Path


def make_authority(tmp_path: Path, names: list[x509.GeneralName]) -> Authority:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hubbub test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Authority(ca.public_bytes(serialization.Encoding.PEM), cert_file, key_file)


def test_https_checks_the_name_in_the_url_while_connecting_to_the_pinned_address(
    serve: Callable[..., Peer], tmp_path: Path
) -> None:
    authority = make_authority(tmp_path, [x509.DNSName("localhost")])
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(authority.cert_file, authority.key_file)
    peer = serve(lambda seen: OK, server_tls)
    trusting = ssl.create_default_context(cadata=authority.ca_pem.decode("ascii"))

    with Client(LOCAL, ssl_context=trusting) as client:
        for _ in range(3):
            response = client.request(
                "POST", peer.url(host="localhost"), body=b"a=1", deadline=soon()
            )
            assert response.body == b"ok"
        assert peer.connections == 1
        assert dict(peer.seen[0].headers)["Host"] == f"localhost:{peer.port}"
        # The certificate names localhost, not 127.0.0.1.
        with pytest.raises(Unreachable, match=r"^127\.0\.0\.1:\d+: .*mismatch"):
            client.request("GET", peer.url(), deadline=soon())

    # A CA nobody trusts (the system's store does not hold it).
    with (
        Client(LOCAL) as client,
        pytest.raises(Unreachable, match=r"unable to get local issuer|self-signed"),
    ):
        client.request("GET", peer.url(host="localhost"), deadline=soon())


def test_https_ip_addresses_are_checked_against_the_certificate(
    serve: Callable[..., Peer], tmp_path: Path
) -> None:
    authority = make_authority(tmp_path, [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(authority.cert_file, authority.key_file)
    peer = serve(lambda seen: OK, server_tls)
    trusting = ssl.create_default_context(cadata=authority.ca_pem.decode("ascii"))
    with Client(LOCAL, ssl_context=trusting) as client:
        assert client.request("GET", peer.url(), deadline=soon()).status == 200
