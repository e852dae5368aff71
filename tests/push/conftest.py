"""Push providers on 127.0.0.1 and a ``Pusher`` that trusts their test CA."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from hubbub.push import Notification, PushCredential, Pusher, new_vapid_key
from hubbub.webhooks.addresses import Guard
from hubbub.webhooks.http import Client
from tests.push.receivers import (
    ApnsReceiver,
    Clock,
    FcmReceiver,
    WebPushReceiver,
    serving,
)
from tests.push.tls import Authority, key_pem

LOOPBACK = Guard([ip_network("127.0.0.0/8")])
TOPIC = "com.example.chat"

NEW_MESSAGE = Notification(
    "twilio.channel.new_message",
    body="general;alice: hello there",
    title="general",
    sound="default",
    badge=3,
    action="reply",
    data={
        "channel_sid": "CH" + "a" * 32,
        "message_sid": "IM" + "b" * 32,
        "message_index": "7",
        "author": "alice",
        "channel_title": "general",
    },
)


def dead_url() -> str:
    """An https URL on a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"https://127.0.0.1:{port}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def authority() -> Authority:
    return Authority()


class Pushers:
    """Makes pushers trusting the test CA, their Web Push client allowing loopback unless
    told otherwise; :meth:`close` closes them all (before the receivers stop: a server
    shutting down waits for its TLS connections' clients to close them)."""

    def __init__(self, authority: Authority, clock: Clock) -> None:
        self.authority = authority
        self.clock = clock
        self.made: list[tuple[Pusher, Client]] = []

    def __call__(self, *, guard: Guard = LOOPBACK, **urls: Any) -> Pusher:
        client = Client(guard, ssl_context=self.authority.trusting())
        urls.setdefault("fcm_url", dead_url())
        urls.setdefault("apns_url", dead_url())
        urls.setdefault("apns_sandbox_url", dead_url())
        pusher = Pusher(
            tls=self.authority.trusting(), webpush_client=client, clock=self.clock, **urls
        )
        self.made.append((pusher, client))
        return pusher

    def close(self) -> None:
        made, self.made = self.made, []
        for pusher, client in made:
            pusher.close()
            client.close()


@pytest.fixture
def make_pusher(authority: Authority, clock: Clock) -> Iterator[Pushers]:
    pushers = Pushers(authority, clock)
    yield pushers
    pushers.close()


@dataclass
class Fcm:
    receiver: FcmReceiver
    credential: PushCredential
    key: rsa.RSAPrivateKey


@pytest.fixture
def fcm(authority: Authority, clock: Clock, tmp_path: Path, make_pusher: Pushers) -> Iterator[Fcm]:
    key = rsa.generate_private_key(65537, 2048)
    email = "pusher@hubbub-test.iam.gserviceaccount.com"
    receiver = FcmReceiver(clock, "hubbub-test", email, key.public_key())
    (directory := tmp_path / "fcm").mkdir()
    with serving(receiver, authority, directory):
        account = {
            "type": "service_account",
            "project_id": "hubbub-test",
            "private_key_id": "0123abcd",
            "private_key": key_pem(key),
            "client_email": email,
            "client_id": "1234567890",
            "token_uri": receiver.token_uri,
        }
        credential = PushCredential("CR" + "f" * 32, "fcm", False, {}, {"service_account": account})
        yield Fcm(receiver, credential, key)
        make_pusher.close()


@dataclass
class Apns:
    receiver: ApnsReceiver
    credential: PushCredential
    url: str


@pytest.fixture
def apns(
    authority: Authority, clock: Clock, tmp_path: Path, make_pusher: Pushers
) -> Iterator[Apns]:
    key = ec.generate_private_key(ec.SECP256R1())
    receiver = ApnsReceiver(clock, TOPIC, "TEAM123456", "KEY1234567", key.public_key())
    (directory := tmp_path / "apns").mkdir()
    with serving(receiver, authority, directory) as url:
        settings = {"key_id": "KEY1234567", "team_id": "TEAM123456", "topic": TOPIC}
        credential = PushCredential(
            "CR" + "a" * 32, "apn", False, settings, {"private_key": key_pem(key)}
        )
        yield Apns(receiver, credential, url)
        make_pusher.close()


def apple_subject(topic: str = TOPIC) -> x509.Name:
    """A subject like that of Apple's push certificates: the bundle ID in UID."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, topic),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Apple Push Services: {topic}"),
        ]
    )


@dataclass
class WebPush:
    receiver: WebPushReceiver
    credential: PushCredential


@pytest.fixture
def webpush(
    authority: Authority, clock: Clock, tmp_path: Path, make_pusher: Pushers
) -> Iterator[WebPush]:
    private, public = new_vapid_key()
    receiver = WebPushReceiver(clock, public)
    (directory := tmp_path / "webpush").mkdir()
    with serving(receiver, authority, directory):
        settings = {"public_key": public, "subject": "mailto:ops@example.com"}
        credential = PushCredential(
            "CR" + "c" * 32, "webpush", False, settings, {"private_key": private}
        )
        yield WebPush(receiver, credential)
        make_pusher.close()
