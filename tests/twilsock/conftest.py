"""A store with an account, a key and a Chat Service, and the chat core with its Sync journal,
for driving twilsock sessions and Sync reads without sockets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hubbub.chat import users
from hubbub.chat.core import Actor, Core
from hubbub.chat.keys import KeyRing
from hubbub.chat.provision import Credentials, new_account
from hubbub.chat.render import Urls
from hubbub.crypto import SecretBox
from hubbub.realtime.commands import Commands
from hubbub.store import Store, open_store
from hubbub.sync.journal import Journal
from hubbub.tokens import Minter
from hubbub.twilsock.api import Api

T0 = 1_795_867_200.0  # the sessions' clock starts here
BASE = "http://127.0.0.1"


@dataclass
class World:
    store: Store
    creds: Credentials
    core: Core
    commands: Commands
    api: Api
    minter: Minter

    @property
    def service_sid(self) -> str:
        return self.creds.chat_service_sid

    def actor(self, identity: str | None) -> Actor:
        """Who acts: the user ``identity`` (made if new), or the application's server."""
        if identity is not None:
            users.ensure_user(self.store, self.service_sid, identity)
        return Actor(self.creds.account_sid, self.service_sid, Urls(BASE), identity)

    def token(self, identity: str, *, ttl: int = 600, now: float = T0) -> str:
        return self.minter.chat_token(identity, self.service_sid, ttl=ttl, now=int(now))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'twilsock.db'}")
    yield opened
    opened.close()


@pytest.fixture
def world(store: Store) -> World:
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    # The service's first SDK session began its journal an hour ago: sessions now are not
    # held back (``test_journal_start`` has the first moments).
    assert Journal(lambda: T0 - 3600).start(store, creds.chat_service_sid) > 0
    journal = Journal(lambda: T0)
    core = Core(store, journal=journal)
    commands = Commands(store, KeyRing(store, box, ttl=0.0), Urls(BASE), core=core)
    minter = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)
    return World(store, creds, core, commands, Api(commands), minter)
