"""A real hubbub server on 127.0.0.1 for the tests, and the official twilio client aimed at it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from hubbub.supervisor import HTTP_PROTOCOL, WS_PROTOCOL

TWILIO_HOSTS = ("https://chat.twilio.com", "https://api.twilio.com")


#: How ``hubbub serve`` serves ``/v1/ws``: hubbub's own WebSocket protocol under uvicorn.
HUBBUB_WS = WS_PROTOCOL
#: How ``hubbub serve`` serves HTTP: uvicorn's httptools protocol with bounded request heads.
HUBBUB_HTTP = HTTP_PROTOCOL


@contextmanager
def running(app: Any, ws: str = HUBBUB_WS, http: str | type[Any] = HUBBUB_HTTP) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port, as ``hubbub serve`` does
    unless told otherwise: WebSockets by ``ws``, HTTP by ``http`` (uvicorn's settings of those
    names); yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", access_log=False, ws=ws, http=http
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class LocalHttpClient(TwilioHttpClient):
    """Sends what the official client addresses to Twilio's hosts to the local server instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        for host in TWILIO_HOSTS:
            if url.startswith(host):
                url = self.base_url + url[len(host) :]
        return super().request(method, url, *args, **kwargs)


def twilio_client(
    base_url: str, username: str, password: str, account_sid: str | None = None
) -> Client:
    return Client(
        username, password, account_sid=account_sid, http_client=LocalHttpClient(base_url)
    )
