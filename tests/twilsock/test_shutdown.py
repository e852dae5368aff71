"""A server that stops tells Twilio's SDKs to come back (``close`` 308) before its sockets
close: without it they see the socket drop and go straight to retrying."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from hubbub.chat.provision import new_account
from hubbub.crypto import SecretBox
from hubbub.store import open_store
from hubbub.tokens import Minter
from hubbub.twilsock import frames
from hubbub.twilsock.frames import Frame
from hubbub.web.app import create_app
from tests.twilsock.support import init
from tests.web.server import running


def _frame(message: str | bytes) -> Frame:
    return frames.parse(message.encode() if isinstance(message, str) else message)


def test_shutting_down_sends_close_308_first(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'shutdown.db'}")
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    minter = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)
    served = running(create_app(store, box))
    base_url = served.__enter__()
    stopped = False
    try:
        with connect(base_url.replace("http://", "ws://") + "/v3/wsconnect") as socket:
            socket.send(init(minter.chat_token("alice", creds.chat_service_sid)))
            assert _frame(socket.recv(timeout=10)).header["status"]["code"] == 200
            # The server stops while the socket is open: what it sends before it closes.
            served.__exit__(None, None, None)
            stopped = True
            received: list[Frame] = []
            try:
                while True:
                    received.append(_frame(socket.recv(timeout=10)))
            except ConnectionClosed:
                pass
        closes = [frame.header for frame in received if frame.method == "close"]
        assert [header["status"]["code"] for header in closes] == [308], received
        assert socket.close_code == 1001
    finally:
        if not stopped:
            served.__exit__(None, None, None)
        store.close()
