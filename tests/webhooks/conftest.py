"""A hubbub with webhooks on: the app in a thread, its courier in another, a receiver."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from twilio.rest import Client as TwilioClient
from twilio.rest.chat.v2.service import ServiceContext

from hubbub.chat.provision import Credentials, new_account
from hubbub.crypto import SecretBox
from hubbub.store import Store, open_store
from hubbub.tokens import Minter
from hubbub.web.app import create_app
from hubbub.webhooks.addresses import Guard
from hubbub.webhooks.courier import Courier
from hubbub.webhooks.http import Client
from hubbub.webhooks.sender import Sender
from tests.postgres import PostgresDatabases
from tests.realtime.client import RawClient
from tests.web.server import running, twilio_client
from tests.webhooks.receiver import Receiver, receiving


def synced(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """An async test run to its end by ``asyncio.run``, its fixtures as they were."""

    async def main(*args: Any, **kwargs: Any) -> None:
        try:
            await test(*args, **kwargs)
        finally:
            for value in kwargs.values():
                if isinstance(value, HookedServer):
                    await value.close_clients()

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(main(*args, **kwargs))

    return run


LOOPBACK = Guard([ip_network("127.0.0.0/8")])
#: The deadline of a webhook's answer here: Twilio's 5 s would make timeouts slow to test.
DEADLINE = 0.5


class Skew:
    """The courier's clock: the real one, moved forward by hand (for retries' backoff)."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


@dataclass
class HookedServer:
    base_url: str
    ws_url: str
    store: Store
    box: SecretBox
    app: Starlette
    creds: Credentials
    receiver: Receiver
    twilio: TwilioClient
    courier_clock: Skew
    courier_stop: threading.Event
    courier: threading.Thread
    clients: list[RawClient] = field(default_factory=list)

    @property
    def service_sid(self) -> str:
        return self.creds.chat_service_sid

    def mint(self, identity: str) -> str:
        minter = Minter(self.creds.account_sid, self.creds.api_key_sid, self.creds.api_key_secret)
        return minter.chat_token(identity, self.creds.chat_service_sid)

    async def client(self, identity: str) -> RawClient:
        client = await RawClient.open(self.ws_url)
        self.clients.append(client)
        reply = await client.authenticate(self.mint(identity))
        assert reply["ok"], reply
        return client

    def stop_courier(self) -> None:
        """No more sending: what is queued stays in the outbox, to be looked at."""
        self.courier_stop.set()
        self.courier.join()

    def queued(self) -> list[dict[str, str]]:
        """The parameters of the webhooks waiting in the outbox."""
        found = self.store.due_deliveries(now=float("inf"), limit=1000)
        return [dict(delivery.new.params) for delivery in found]

    async def close_clients(self) -> None:
        for client in self.clients:
            await client.socket.close()

    def service(self) -> ServiceContext:
        return self.twilio.chat.v2.services(self.service_sid)

    def hook(
        self, *filters: str, pre: bool = False, post: bool = False, **settings: object
    ) -> None:
        """Point the service's webhooks at the receiver, for ``filters``."""
        if pre:
            settings["pre_webhook_url"] = f"{self.receiver.base_url}/pre"
        if post:
            settings["post_webhook_url"] = f"{self.receiver.base_url}/post"
        self.service().update(webhook_filters=list(filters), **settings)


def _serve(store: Store, tmp_path: Path) -> Iterator[HookedServer]:
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    sender = Sender(store, box, Client(LOOPBACK), deadline=DEADLINE)
    app = create_app(store, box, webhook_sender=sender)
    clock = Skew()
    courier = Courier(store, sender, poll=0.01, clock=clock)
    stop = threading.Event()
    thread = threading.Thread(target=courier.run, args=(stop,), daemon=True)
    with receiving() as receiver, running(app) as base_url:
        thread.start()
        try:
            twilio = twilio_client(base_url, creds.account_sid, creds.auth_token)
            ws_url = base_url.replace("http://", "ws://") + "/v1/ws"
            yield HookedServer(
                base_url, ws_url, store, box, app, creds, receiver, twilio, clock, stop, thread
            )
        finally:
            stop.set()
            thread.join()
            sender.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def hooked(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[HookedServer]:
    """hubbub with its webhook sender and courier, on SQLite and on PostgreSQL."""
    database = None
    if request.param == "postgresql":
        postgres: PostgresDatabases = request.getfixturevalue("postgres")
        database = postgres.new()
    store = open_store(database or f"sqlite:///{tmp_path / 'hooks.db'}")
    try:
        yield from _serve(store, tmp_path)
    finally:
        store.close()
        if database is not None:
            postgres.drop(database)
