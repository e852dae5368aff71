"""A running hubbub with its WebSocket gateway, for the real-time and SDK tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hubbub.crypto import SecretBox
from hubbub.service.provision import Credentials, new_account
from hubbub.store import Store, open_store
from hubbub.tokens import Minter
from hubbub.web.app import create_app
from hubbub.web.gateway import Realtime
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
    realtime: Realtime

    def mint(self, identity: str, ttl: int = 3600) -> str:
        minter = Minter(self.creds.account_sid, self.creds.api_key_sid, self.creds.api_key_secret)
        return minter.chat_token(identity, self.creds.chat_service_sid, ttl=ttl)


#: How ``/v1/ws`` is served: by hubbub's own WebSocket protocol under uvicorn, as ``hubbub
#: serve`` does, and through ASGI by the Starlette route, as for embedders.
ADAPTERS = {"hubbub": HUBBUB_WS, "asgi": "websockets-sansio"}


def serve_realtime(tmp_path: Path, adapter: str) -> Iterator[RealtimeServer]:
    store = open_store(f"sqlite:///{tmp_path / 'realtime.db'}")
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    app = create_app(store, box, token_warning=TOKEN_WARNING)
    with running(app, ADAPTERS[adapter]) as base_url:
        url = base_url.replace("http://", "ws://") + "/v1/ws"
        yield RealtimeServer(url, base_url, store, box, creds, adapter, app.state.realtime)
    store.close()


@pytest.fixture(params=sorted(ADAPTERS))
def realtime_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RealtimeServer]:
    """The gateway on each of its paths: hubbub's own protocol and the Starlette route."""
    yield from serve_realtime(tmp_path, request.param)


@pytest.fixture
def hubbub_realtime_server(tmp_path: Path) -> Iterator[RealtimeServer]:
    """The gateway as ``hubbub serve`` runs it, for what only that path does (its own output
    buffer and its own compression setting)."""
    yield from serve_realtime(tmp_path, "hubbub")
