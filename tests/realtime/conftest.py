"""A running hubbub with its WebSocket gateway, for the real-time and SDK tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hubbub.chat.provision import Credentials, new_account
from hubbub.crypto import SecretBox
from hubbub.realtime.node import Node
from hubbub.store import Store, open_store
from hubbub.tokens import Minter
from hubbub.web.app import create_app
from tests.postgres import PostgresDatabases
from tests.realtime.client import RawClient
from tests.web.server import HUBBUB_WS, running

#: The servers here warn this many seconds before a token expires (Twilio's is 180), so a
#: token minted with ttl=5 gets ``token_about_to_expire`` after about 2 s.
TOKEN_WARNING = 3.0


@dataclass
class RealtimeServer:
    """``url`` is the WebSocket endpoint, ``base_url`` the HTTP one; ``mint`` makes tokens."""

    url: str
    base_url: str
    store: Store
    box: SecretBox
    creds: Credentials
    #: "hubbub" (the protocol ``hubbub serve`` uses) or "asgi" (the Starlette route).
    adapter: str
    node: Node

    def mint(self, identity: str, ttl: int = 3600) -> str:
        minter = Minter(self.creds.account_sid, self.creds.api_key_sid, self.creds.api_key_secret)
        return minter.chat_token(identity, self.creds.chat_service_sid, ttl=ttl)


@asynccontextmanager
async def signed_in(server: RealtimeServer, *identities: str) -> AsyncIterator[list[RawClient]]:
    """A connection per identity, authenticated; closed on the way out."""
    clients = []
    try:
        for identity in identities:
            client = await RawClient.open(server.url)
            reply = await client.authenticate(server.mint(identity))
            assert reply["ok"], reply
            clients.append(client)
        yield clients
    finally:
        for client in clients:
            await client.socket.close()


#: How ``/v1/ws`` is served: by hubbub's own WebSocket protocol under uvicorn, as ``hubbub
#: serve`` does, and through ASGI by the Starlette route, as for embedders.
ADAPTERS = {"hubbub": HUBBUB_WS, "asgi": "websockets-sansio"}


def serve_realtime(
    tmp_path: Path, adapter: str, postgres: PostgresDatabases | None = None
) -> Iterator[RealtimeServer]:
    """On SQLite (commands run on the loop) or, given ``postgres``, on a new PostgreSQL
    database (commands run in the thread pool)."""
    database = postgres.new() if postgres is not None else None
    store = open_store(database or f"sqlite:///{tmp_path / 'realtime.db'}")
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    app = create_app(store, box, token_warning=TOKEN_WARNING)
    try:
        with running(app, ADAPTERS[adapter]) as base_url:
            url = base_url.replace("http://", "ws://") + "/v1/ws"
            yield RealtimeServer(url, base_url, store, box, creds, adapter, app.state.node)
    finally:
        store.close()
        if postgres is not None and database is not None:
            postgres.drop(database)


@pytest.fixture(params=["hubbub", "asgi", "hubbub-postgresql"])
def realtime_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RealtimeServer]:
    """The gateway on each of its paths: hubbub's own protocol and the Starlette route on
    SQLite, and hubbub's own protocol on PostgreSQL."""
    adapter, _, backend = request.param.partition("-")
    postgres = request.getfixturevalue("postgres") if backend else None
    yield from serve_realtime(tmp_path, adapter, postgres)


@pytest.fixture
def hubbub_realtime_server(tmp_path: Path) -> Iterator[RealtimeServer]:
    """The gateway as ``hubbub serve`` runs it, for what only that path does (its own output
    buffer and its own compression setting)."""
    yield from serve_realtime(tmp_path, "hubbub")
