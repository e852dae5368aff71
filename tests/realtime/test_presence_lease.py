"""A node that other nodes took for dead (it stalled, or its clock ran behind) joins its users
again at its next renewal: they are connected, so they are online."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

from cryptography.fernet import Fernet

from hubbub.chat.keys import KeyRing
from hubbub.chat.provision import new_account
from hubbub.crypto import SecretBox
from hubbub.realtime.link import Link
from hubbub.realtime.node import Node
from hubbub.store import open_store
from hubbub.tokens import Minter
from tests.realtime.test_link import Recorder

T = 1_800_000_000.0


def test_a_lapsed_lease_is_taken_up_again_with_its_users(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'lease.db'}")
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    service = store.get_service(creds.account_sid, creds.chat_service_sid)
    config = dataclasses.replace(service.config, reachability_enabled=True)
    store.update_service(creds.account_sid, service.sid, config=config)
    token = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret).chat_token(
        "alice", service.sid, now=int(T)
    )
    now = [T]

    def online() -> bool:
        return store.get_user(service.sid, "alice").is_online

    async def scenario() -> None:
        node = Node(store, KeyRing(store, box), clock=lambda: now[0])
        link = Link(node, node.commands_for("http://127.0.0.1"), Recorder())
        link.start()
        link.feed(json.dumps({"id": 1, "type": "authenticate", "token": token}))
        assert online()
        # Another node's sweep, long after this one's lease: it takes this node for dead.
        store.expire_presence(now=T + 60)
        assert not online()
        now[0] = T + 61
        node.presence.renew(node.core, node.holders)  # what this node's sweep does
        assert online()
        link.closed()
        assert not online()

    try:
        asyncio.run(scenario())
    finally:
        store.close()
