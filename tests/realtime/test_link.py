"""A connection's frames are handled one at a time and in the order they came, whatever made
some of them wait (a message being stored, or output the client has not read yet)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from hubbub.chat.keys import KeyRing
from hubbub.chat.provision import new_account
from hubbub.crypto import SecretBox
from hubbub.realtime.link import Link
from hubbub.realtime.node import Node
from hubbub.realtime.protocol import CloseCode, Outgoing
from hubbub.store import open_store
from hubbub.tokens import Minter


class Recorder:
    """A transport that keeps what is sent, and says it is backlogged when told."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.ended: list[CloseCode] = []
        self.backlog = False

    def push(self, frame: Outgoing) -> None:
        self.sent.append(json.loads(frame.text))

    def end(self, code: CloseCode, reason: str) -> None:
        self.ended.append(code)

    def keepalive(self, now: float) -> None:
        pass

    def backlogged(self) -> bool:
        return self.backlog


def test_frames_that_waited_go_first(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'link.db'}")
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    token = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret).chat_token(
        "alice", creds.chat_service_sid
    )

    async def scenario() -> list[int]:
        node = Node(store, KeyRing(store, box))
        transport = Recorder()
        link = Link(node, node.commands_for("http://127.0.0.1"), transport)
        link.start()
        link.feed(json.dumps({"id": 1, "type": "authenticate", "token": token}))
        transport.backlog = True  # the client stopped reading: its frames wait
        for command_id in (2, 3):
            link.feed(json.dumps({"id": command_id, "type": "ping"}))
        transport.backlog = False  # it read some; the adapter has not said so yet
        link.feed(json.dumps({"id": 4, "type": "ping"}))
        link.release()
        link.closed()
        return [frame["id"] for frame in transport.sent if frame.get("type") == "reply"]

    try:
        assert asyncio.run(scenario()) == [1, 2, 3, 4]
    finally:
        store.close()
