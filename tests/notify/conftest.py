"""A chat core with push notifications on a real store (SQLite and PostgreSQL), and helpers to
set a service's notifications up, register devices and connect users."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from hubbub.chat.core import Actor, Core
from hubbub.chat.provision import Credentials, new_account
from hubbub.chat.render import Urls
from hubbub.crypto import SecretBox
from hubbub.notify.expand import Expander
from hubbub.notify.notifier import NOTIFY, PushNotifier
from hubbub.store import Binding, Store, open_store
from hubbub.store.records import Delivery, NotificationSetting, ServiceConfig
from hubbub.webhooks.targets import changed
from tests.postgres import PostgresDatabases

#: The nodes' clock for presence (seconds).
T = 1_800_000_000.0


@dataclass
class World:
    store: Store
    box: SecretBox
    creds: Credentials
    core: Core
    notifier: PushNotifier

    @property
    def service_sid(self) -> str:
        return self.creds.chat_service_sid

    def actor(self, identity: str | None = None) -> Actor:
        return Actor(self.creds.account_sid, self.service_sid, Urls("http://127.0.0.1"), identity)

    def config(self) -> ServiceConfig:
        return self.store.get_service(self.creds.account_sid, self.service_sid).config

    def notify(self, *, log: bool = False, **settings: dict[str, Any]) -> None:
        """Set the service's notification types (``new_message={"enabled": True}`` ...)."""
        service = self.store.get_service(self.creds.account_sid, self.service_sid)
        notifications = service.config.notifications
        for name, values in settings.items():
            setting = getattr(notifications, name) or NotificationSetting()
            new: dict[str, Any] = {name: dataclasses.replace(setting, **values)}
            notifications = dataclasses.replace(notifications, **new)
        notifications = dataclasses.replace(notifications, log_enabled=log)
        config = dataclasses.replace(service.config, notifications=notifications)
        self.store.update_service(self.creds.account_sid, self.service_sid, config=config)
        self.notifier.observe(changed(self.service_sid))

    def bind(
        self,
        identity: str,
        address: str,
        binding_type: Any = "fcm",
        message_types: tuple[str, ...] = (
            "twilio.channel.new_message",
            "twilio.channel.added_to_channel",
            "twilio.channel.invited_to_channel",
            "twilio.channel.removed_from_channel",
        ),
        credential_sid: str | None = None,
    ) -> Binding:
        return self.store.register_binding(
            self.creds.account_sid,
            self.service_sid,
            identity=identity,
            binding_type=binding_type,
            address=address,
            endpoint=f"{identity}-{address}",
            message_types=message_types,
            credential_sid=credential_sid,
        )

    def connect(self, identity: str, node: str = "node-1") -> None:
        """``identity`` has a connection open on ``node`` (a live one)."""
        self.store.join_presence(node, self.service_sid, identity, now=T, lease_until=T + 1e9)

    def queued(self, method: str | None = None) -> list[Delivery]:
        found = self.store.due_deliveries(now=float("inf"), limit=10_000)
        return [d for d in found if method is None or d.new.method == method]

    def expand_all(self) -> list[Delivery]:
        """Expand every queued notification as the courier would, forgetting them; the
        ``PUSH`` rows queued."""
        expander = Expander(self.store)
        notes = self.queued(NOTIFY)
        for delivery in notes:
            new = delivery.new
            attempt = expander.attempt(new.account_sid, new.url, new.method, new.params, 0)
            assert attempt.ok
        self.store.settle_deliveries(sent=[d.id for d in notes])
        return self.queued()


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'notify.db'}"
    else:
        postgres: PostgresDatabases = request.getfixturevalue("postgres")
        url = postgres.new()
    store = open_store(url)
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    notifier = PushNotifier(store)
    try:
        yield World(store, box, creds, Core(store, notifier=notifier), notifier)
    finally:
        store.close()
        if request.param == "postgresql":
            postgres.drop(url)
