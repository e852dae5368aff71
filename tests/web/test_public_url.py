"""URLs in answers and pushes come from the configured public URL, never from a client's Host
header: one user's handshake must not decide the links other users are sent."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from websockets.asyncio.client import connect

from hubbub.chat.provision import new_account
from hubbub.crypto import SecretBox
from hubbub.store import open_store
from hubbub.tokens import Minter
from hubbub.web.app import create_app
from tests.realtime.conftest import ADAPTERS
from tests.web.server import running

PUBLIC = "https://chat.example.com"
EVIL = "evil.example"


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_urls_follow_the_public_url_not_the_host_header(tmp_path: Path, adapter: str) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'public.db'}")
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    minter = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)
    app = create_app(store, box, public_url=PUBLIC + "/")
    service = f"/v2/Services/{creds.chat_service_sid}"
    try:
        with running(app, ADAPTERS[adapter]) as base_url:
            port = int(base_url.rsplit(":", 1)[1])
            auth = (creds.account_sid, creds.auth_token)
            with httpx.Client(base_url=base_url, auth=auth, headers={"Host": EVIL}) as rest:
                made = rest.post(f"{service}/Channels", data={"UniqueName": "room"})
                assert made.status_code == 201
                assert made.json()["url"].startswith(f"{PUBLIC}{service}/Channels/CH")
                listed = rest.get(f"{service}/Channels", params={"PageSize": 1}).json()
                assert listed["meta"]["url"].startswith(PUBLIC)
                # No redirect that would name the client's Host.
                slashed = rest.get(f"{service}/Channels/", follow_redirects=False)
                assert EVIL not in slashed.headers.get("location", "")
                assert slashed.status_code == 404

            async def chat() -> None:
                # alice's handshake names another host; bob's push must not carry it.
                evil = socket.create_connection(("127.0.0.1", port))
                async with (
                    connect(f"ws://{EVIL}/v1/ws", sock=evil) as alice,
                    connect(base_url.replace("http", "ws") + "/v1/ws") as bob,
                ):
                    for who, ws in (("alice", alice), ("bob", bob)):
                        token = minter.chat_token(who, creds.chat_service_sid)
                        await ws.send(json.dumps({"id": 1, "type": "authenticate", "token": token}))
                        assert json.loads(await ws.recv())["ok"]
                        await ws.send(json.dumps({"id": 2, "type": "join", "channel": "room"}))
                        while json.loads(await ws.recv()).get("id") != 2:
                            pass
                    sent = {"id": 3, "type": "send_message", "channel": "room", "body": "hi"}
                    await alice.send(json.dumps(sent))
                    while True:
                        frame = json.loads(await asyncio.wait_for(bob.recv(), 5))
                        if frame["type"] == "message_added":
                            break
                    assert frame["message"]["url"].startswith(PUBLIC)
                    assert EVIL not in json.dumps(frame)

            asyncio.run(chat())
    finally:
        store.close()
