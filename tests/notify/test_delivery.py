"""Push notifications end to end: the app and its courier on real sockets, local FCM and APNs
receivers over TLS that check what they get as Google and Apple do; messages sent over REST
and over ``/v1/ws``, dead tokens, providers that answer "later"."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from twilio.rest import Client as TwilioClient

from hubbub.chat.provision import Credentials, new_account
from hubbub.crypto import SecretBox
from hubbub.notify.dispatch import dispatcher
from hubbub.push import Pusher
from hubbub.store import Binding, NotFound, Store, open_store
from hubbub.tokens import Minter
from hubbub.web.app import create_app
from hubbub.webhooks.addresses import Guard
from hubbub.webhooks.courier import Courier
from hubbub.webhooks.http import Client
from hubbub.webhooks.sender import Sender
from tests.push.receivers import ApnsReceiver, Clock, FcmReceiver, Reply, fcm_error, serving
from tests.push.tls import Authority, key_pem
from tests.realtime.client import RawClient
from tests.web.server import running, twilio_client
from tests.webhooks.conftest import Skew

LOOPBACK = Guard([ip_network("127.0.0.0/8")])
TOPIC = "com.example.chat"
DEVICE = "ab" * 32  # an APNs device token, in hex


@dataclass
class Pushing:
    store: Store
    box: SecretBox
    creds: Credentials
    base_url: str
    twilio: TwilioClient
    fcm: FcmReceiver
    apns: ApnsReceiver
    fcm_credential: str
    apns_credential: str
    courier_clock: Skew
    clients: list[RawClient] = field(default_factory=list)

    @property
    def service_sid(self) -> str:
        return self.creds.chat_service_sid

    def service(self) -> Any:
        return self.twilio.chat.v2.services(self.service_sid)

    def bind(self, identity: str, address: str, kind: str = "fcm") -> Binding:
        return self.store.register_binding(
            self.creds.account_sid,
            self.service_sid,
            identity=identity,
            binding_type="fcm" if kind == "fcm" else "apn",
            address=address,
            endpoint=f"{identity}-{kind}",
            message_types=["twilio.channel.new_message", "twilio.channel.added_to_channel"],
            credential_sid=self.fcm_credential if kind == "fcm" else self.apns_credential,
        )

    async def connect(self, identity: str) -> RawClient:
        minter = Minter(self.creds.account_sid, self.creds.api_key_sid, self.creds.api_key_secret)
        ws_url = self.base_url.replace("http://", "ws://") + "/v1/ws"
        client = await RawClient.open(ws_url)
        self.clients.append(client)
        reply = await client.authenticate(minter.chat_token(identity, self.service_sid))
        assert reply["ok"], reply
        return client

    def queued(self) -> int:
        return len(self.store.due_deliveries(now=float("inf"), limit=10_000))


def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.02)


@pytest.fixture
def pushing(tmp_path: Path) -> Iterator[Pushing]:
    store = open_store(f"sqlite:///{tmp_path / 'push.db'}")
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    authority, receivers_clock = Authority(), Clock()
    fcm_key = rsa.generate_private_key(65537, 2048)
    email = "pusher@hubbub-test.iam.gserviceaccount.com"
    fcm = FcmReceiver(receivers_clock, "hubbub-test", email, fcm_key.public_key())
    apns_key = ec.generate_private_key(ec.SECP256R1())
    apns = ApnsReceiver(receivers_clock, TOPIC, "TEAM123456", "KEY1234567", apns_key.public_key())
    (tmp_path / "fcm").mkdir()
    (tmp_path / "apns").mkdir()
    with (
        serving(fcm, authority, tmp_path / "fcm") as fcm_url,
        serving(apns, authority, tmp_path / "apns") as apns_url,
    ):
        account = {
            "type": "service_account",
            "project_id": "hubbub-test",
            "private_key_id": "0123abcd",
            "private_key": key_pem(fcm_key),
            "client_email": email,
            "client_id": "1234567890",
            "token_uri": fcm.token_uri,
        }
        fcm_credential = store.create_credential(
            creds.account_sid,
            type="fcm",
            sealed=box.encrypt(json.dumps({"service_account": account})),
        )
        apns_credential = store.create_credential(
            creds.account_sid,
            type="apn",
            sealed=box.encrypt(json.dumps({"private_key": key_pem(apns_key)})),
            settings={"key_id": "KEY1234567", "team_id": "TEAM123456", "topic": TOPIC},
        )
        webhooks = Sender(store, box, Client(LOOPBACK))
        # What credentials name (the FCM token URI, here the receiver's) goes through it.
        guarded = Client(LOOPBACK, ssl_context=authority.trusting())
        pusher = Pusher(
            fcm_url=fcm_url,
            apns_url=apns_url,
            apns_sandbox_url=apns_url,
            tls=authority.trusting(),
            webpush_client=guarded,
        )
        sender = dispatcher(store, box, webhooks, pusher)
        clock = Skew()
        courier = Courier(store, sender, poll=0.01, clock=clock)
        stop = threading.Event()
        thread = threading.Thread(target=courier.run, args=(stop,), daemon=True)
        app = create_app(store, box, webhook_sender=webhooks)
        try:
            with running(app) as base_url:
                thread.start()
                yield Pushing(
                    store,
                    box,
                    creds,
                    base_url,
                    twilio_client(base_url, creds.account_sid, creds.auth_token),
                    fcm,
                    apns,
                    fcm_credential.sid,
                    apns_credential.sid,
                    clock,
                )
        finally:
            stop.set()
            thread.join()
            sender.close()  # the pusher's connections, before the receivers stop
            guarded.close()
            store.close()


def test_messages_over_rest_and_the_socket_reach_an_offline_members_phones(
    pushing: Pushing, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hubbub.push")
    pushing.service().update(notifications_new_message_enabled=True, notifications_log_enabled=True)
    chat = pushing.service()
    channel = chat.channels.create(unique_name="general", friendly_name="General")
    for identity in ("alice", "bob", "carol"):
        chat.channels("general").members.create(identity=identity)
    phone = pushing.bind("bob", "bob-fcm-registration-token")
    pushing.bind("bob", DEVICE, "apn")
    pushing.bind("alice", "alice-fcm-registration-token")
    pushing.bind("carol", "carol-fcm-registration-token")

    async def chat_a_little() -> None:
        alice = await pushing.connect("alice")
        await pushing.connect("carol")  # connected: told over the socket, not by push
        sent = await alice.command("send_message", channel=channel.sid, body="over the socket")
        assert sent["ok"], sent
        until(lambda: len(pushing.fcm.messages) == 1 and len(pushing.apns.delivered) == 1)
        over_rest = chat.channels("general").messages.create(body="over REST", from_="alice")
        until(lambda: len(pushing.fcm.messages) == 2 and len(pushing.apns.delivered) == 2)
        assert over_rest.index == 1
        for client in pushing.clients:
            await client.socket.close()

    asyncio.run(chat_a_little())
    until(lambda: pushing.queued() == 0)
    assert pushing.fcm.problems == []
    assert pushing.apns.problems == []
    assert [m["token"] for m in pushing.fcm.messages] == ["bob-fcm-registration-token"] * 2
    messages = pushing.store.list_messages(pushing.service_sid, channel.sid).items
    for index, (fcm, apns) in enumerate(
        zip(pushing.fcm.messages, pushing.apns.delivered, strict=True)
    ):
        body = f"General;alice: {['over the socket', 'over REST'][index]}"
        # twilio-chat's parsePushNotification reads these from FCM's data ...
        assert fcm["data"]["twi_message_type"] == "twilio.channel.new_message"
        assert fcm["data"]["twi_body"] == body
        assert fcm["data"]["channel_sid"] == channel.sid
        assert fcm["data"]["message_sid"] == messages[index].sid
        assert fcm["data"]["message_index"] == str(index)
        # ... and these from APNs' payload.
        assert apns.device == DEVICE
        assert apns.payload["aps"]["alert"] == body
        assert apns.payload["twi_message_type"] == "twilio.channel.new_message"
        assert apns.payload["channel_sid"] == channel.sid
        assert apns.payload["message_sid"] == messages[index].sid
        assert apns.payload["message_index"] == str(index)
    # LogEnabled logs each push by its binding, and never a device's token.
    assert phone.sid in caplog.text
    assert "registration-token" not in caplog.text
    assert DEVICE not in caplog.text


def test_a_dead_token_deletes_its_binding(pushing: Pushing) -> None:
    pushing.service().update(notifications_added_to_channel_enabled=True)
    dead_phone = pushing.bind("bob", "bob-old-phone")
    dead_ipad = pushing.bind("bob", DEVICE, "apn")
    pushing.fcm.script.append(fcm_error(404, "UNREGISTERED", "NOT_FOUND"))
    pushing.apns.script.append(Reply(410, {"reason": "Unregistered", "timestamp": 1}))
    pushing.service().channels.create(unique_name="general")
    pushing.service().channels("general").members.create(identity="bob")
    until(lambda: pushing.queued() == 0 and len(pushing.apns.delivered) == 1)
    assert len(pushing.fcm.messages) == 1
    for binding in (dead_phone, dead_ipad):
        with pytest.raises(NotFound):
            pushing.store.get_binding(pushing.service_sid, binding.sid)


def test_a_dead_token_deletes_no_other_services_binding(pushing: Pushing) -> None:
    pushing.service().update(notifications_added_to_channel_enabled=True)
    dead_phone = pushing.bind("bob", "shared-fcm-token")
    other = pushing.store.create_service(pushing.creds.account_sid, friendly_name="other")
    elsewhere = pushing.store.register_binding(
        pushing.creds.account_sid,
        other.sid,
        identity="bob",
        binding_type="fcm",
        address="shared-fcm-token",
        endpoint="bob-fcm",
        message_types=["twilio.channel.added_to_channel"],
        credential_sid=pushing.fcm_credential,
    )
    pushing.fcm.script.append(fcm_error(404, "UNREGISTERED", "NOT_FOUND"))
    pushing.service().channels.create(unique_name="general")
    pushing.service().channels("general").members.create(identity="bob")
    until(lambda: pushing.queued() == 0 and len(pushing.fcm.messages) == 1)
    with pytest.raises(NotFound):
        pushing.store.get_binding(pushing.service_sid, dead_phone.sid)
    assert pushing.store.get_binding(other.sid, elsewhere.sid) == elsewhere


@pytest.mark.parametrize("reason", ["BadDeviceToken", "DeviceTokenNotForTopic"])
def test_an_apns_answer_blaming_the_credential_keeps_the_binding(
    pushing: Pushing, caplog: pytest.LogCaptureFixture, reason: str
) -> None:
    pushing.service().update(notifications_added_to_channel_enabled=True)
    ipad = pushing.bind("bob", DEVICE, "apn")
    pushing.apns.script.append(Reply(400, {"reason": reason}))
    pushing.service().channels.create(unique_name="general")
    pushing.service().channels("general").members.create(identity="bob")
    until(lambda: pushing.queued() == 0 and "given up" in caplog.text)
    assert f"push to binding {ipad.sid} given up: apns: status 400 {reason}" in caplog.text
    assert "Sandbox flag" in caplog.text
    assert pushing.store.get_binding(pushing.service_sid, ipad.sid) == ipad
    assert len(pushing.apns.delivered) == 1  # asked once: not retried


def test_a_provider_that_answers_later_is_tried_again_after_the_backoff(
    pushing: Pushing,
) -> None:
    pushing.service().update(notifications_added_to_channel_enabled=True)
    phone = pushing.bind("bob", "bob-fcm-registration-token")
    pushing.fcm.script.append(Reply(503, {"error": {"code": 503, "status": "UNAVAILABLE"}}))
    pushing.service().channels.create(unique_name="general")
    pushing.service().channels("general").members.create(identity="bob")
    until(lambda: len(pushing.fcm.messages) == 1)
    # It waits for its backoff (1 s on the courier's clock, which stands still meanwhile).
    until(lambda: [d.attempts for d in pushing.store.due_deliveries(now=1e12, limit=9)] == [1])
    time.sleep(0.2)
    assert len(pushing.fcm.messages) == 1
    pushing.courier_clock.ahead += 2
    until(lambda: pushing.queued() == 0)
    assert len(pushing.fcm.messages) == 2
    assert pushing.fcm.messages[1]["data"]["twi_message_type"] == (
        "twilio.channel.added_to_channel"
    )
    assert pushing.store.get_binding(pushing.service_sid, phone.sid) == phone


def test_a_binding_without_a_credential_uses_its_accounts_and_a_deleted_one_gives_up(
    pushing: Pushing, caplog: pytest.LogCaptureFixture
) -> None:
    pushing.service().update(notifications_added_to_channel_enabled=True)
    unnamed = pushing.store.register_binding(
        pushing.creds.account_sid,
        pushing.service_sid,
        identity="bob",
        binding_type="fcm",
        address="bob-fcm-registration-token",
        endpoint="bob-phone",
        message_types=["twilio.channel.added_to_channel"],
    )
    assert unnamed.credential_sid is None
    pushing.service().channels.create(unique_name="general")
    pushing.service().channels("general").members.create(identity="bob")
    until(lambda: len(pushing.fcm.messages) == 1 and pushing.queued() == 0)

    # Its credential deleted, a binding's pushes are given up (and the binding kept).
    named = pushing.bind("carol", "carol-fcm-registration-token")
    pushing.store.delete_credential(pushing.creds.account_sid, pushing.fcm_credential)
    pushing.service().channels("general").members.create(identity="carol")
    until(lambda: pushing.queued() == 0 and "given up" in caplog.text)
    assert len(pushing.fcm.messages) == 1
    assert f"push to binding {named.sid} given up: no fcm credential" in caplog.text
    assert pushing.store.get_binding(pushing.service_sid, named.sid) == named


def test_a_binding_whose_credential_was_rotated_away_uses_the_accounts_newest(
    pushing: Pushing,
) -> None:
    pushing.service().update(notifications_added_to_channel_enabled=True)
    phone = pushing.bind("bob", "bob-fcm-registration-token")
    assert phone.credential_sid == pushing.fcm_credential
    old = pushing.store.get_credential(pushing.creds.account_sid, pushing.fcm_credential)
    # Rotation: a new credential (the same service account, here), the old one deleted.
    pushing.store.create_credential(pushing.creds.account_sid, type="fcm", sealed=old.sealed)
    pushing.store.delete_credential(pushing.creds.account_sid, old.sid)
    pushing.service().channels.create(unique_name="general")
    pushing.service().channels("general").members.create(identity="bob")
    until(lambda: pushing.queued() == 0 and len(pushing.fcm.messages) == 1)
    assert pushing.fcm.messages[0]["token"] == "bob-fcm-registration-token"


def test_a_device_registered_over_the_socket_is_told_once_its_user_is_gone(
    pushing: Pushing,
) -> None:
    pushing.service().update(notifications_new_message_enabled=True)
    chat = pushing.service()
    chat.channels.create(unique_name="general")
    for identity in ("alice", "bob"):
        chat.channels("general").members.create(identity=identity)

    async def register_then_leave() -> None:
        bob = await pushing.connect("bob")
        made = await bob.command(
            "register_push", binding_type="fcm", address="bob-fcm-registration-token"
        )
        assert made["ok"], made
        # While bob is connected, a message reaches him over the socket, not by push.
        chat.channels("general").messages.create(body="while you are here", from_="alice")
        until(lambda: pushing.queued() == 0)
        await bob.socket.close()

    asyncio.run(register_then_leave())
    assert pushing.fcm.messages == []
    # His last session closed: he is offline, and the next message is pushed.
    until(lambda: not pushing.store.get_user(pushing.service_sid, "bob").is_online)
    chat.channels("general").messages.create(body="where are you?", from_="alice")
    until(lambda: len(pushing.fcm.messages) == 1)
    (message,) = pushing.fcm.messages
    assert message["token"] == "bob-fcm-registration-token"
    assert message["data"]["twi_body"] == "general;alice: where are you?"
