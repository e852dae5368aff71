"""Webhook requests over one kept-alive connection: hubbub's client against ``http.client``.

A server in another process (plain sockets, answering every request at once with an empty
``200``) listens on 127.0.0.1; this process sends it a typical signed post-event webhook (a form
POST of a dozen fields) one request after another, with hubbub's ``webhooks.http.Client`` and
with ``http.client.HTTPConnection`` kept open, in alternating rounds so that a noisy neighbour
slows both alike. Prints requests/s, medians over rounds, and their ratio.

    .venv/bin/python benchmarks/webhook_client.py [--rounds 7] [--number 3000]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import platform
import re
import socket
import statistics
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

from hubbub.webhooks.addresses import Guard
from hubbub.webhooks.http import Client
from hubbub.webhooks.signature import prepare

REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 0\r\n\r\n"
LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")
PARAMS = [
    ("AccountSid", "AC" + "0123456789abcdef" * 2),
    ("ServiceSid", "IS" + "fedcba9876543210" * 2),
    ("EventType", "onMessageSent"),
    ("ChannelSid", "CH" + "00112233445566778899aabbccddeeff"),
    ("MessageSid", "IM" + "ffeeddccbbaa99887766554433221100"),
    ("Index", "42"),
    ("Body", "Hello, this is a typical chat message with some words in it."),
    ("Attributes", '{"importance": "normal"}'),
    ("From", "alice"),
    ("DateCreated", "2026-11-28T12:00:00.000Z"),
    ("Source", "SDK"),
    ("RetryCount", "0"),
    ("WebhookType", "webhook"),
    ("ClientIdentity", "alice"),
]


def serve_connection(sock: socket.socket) -> None:
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            while end < 0:
                data = sock.recv(65536)
                if not data:
                    return
                buffer += data
                end = buffer.find(b"\r\n\r\n")
            found = LENGTH.search(buffer, 0, end + 2)
            size = end + 4 + (int(found[1]) if found else 0)
            while len(buffer) < size:
                buffer += sock.recv(65536)
            buffer = buffer[size:]
            sock.sendall(REPLY)


def server(ready: Connection) -> None:
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    ready.send(listener.getsockname()[1])
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve_connection, args=(sock,), daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=3000, help="requests per round")
    args = parser.parse_args()

    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.Process(target=server, args=(theirs,), daemon=True)
    process.start()
    port = ours.recv()
    url = f"http://127.0.0.1:{port}/hooks/chat"
    request = prepare("POST", url, PARAMS, "0123456789abcdef0123456789abcdef")

    client = Client(Guard.from_strings(["127.0.0.0/8"]))

    def hubbub_client() -> None:
        response = client.request(
            "POST",
            request.url,
            headers=request.headers,
            body=request.body,
            deadline=time.monotonic() + 5,
        )
        assert response.status == 200

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = dict(request.headers) | {"User-Agent": "TwilioProxy/1.1"}

    def standard_library() -> None:
        connection.request("POST", "/hooks/chat", body=request.body, headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200

    contenders: dict[str, Callable[[], None]] = {
        "hubbub webhooks.http.Client": hubbub_client,
        "http.client.HTTPConnection": standard_library,
    }
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for call in contenders.values():  # connect and warm up
        for _ in range(200):
            call()
    for _ in range(args.rounds):
        for name, call in contenders.items():
            started = time.perf_counter()
            for _ in range(args.number):
                call()
            samples[name].append(args.number / (time.perf_counter() - started))
    client.close()
    connection.close()
    process.terminate()
    process.join()

    print(
        f"Python {platform.python_version()} on {platform.machine()}; one kept-alive connection "
        f"to 127.0.0.1, a {len(request.body)}-byte signed form POST; median of {args.rounds} "
        f"rounds × {args.number} requests"
    )
    rates = {name: statistics.median(values) for name, values in samples.items()}
    width = max(map(len, rates))
    for name, rate in rates.items():
        print(f"  {name:<{width}}  {rate:8,.0f} requests/s")
    ours_rate, theirs_rate = rates.values()
    print(f"\nRatio: hubbub's client is {ours_rate / theirs_rate:.2f}× http.client")


if __name__ == "__main__":
    main()
