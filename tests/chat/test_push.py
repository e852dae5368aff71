"""The one registration function every door calls: what it checks, and what it makes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hubbub.chat import push
from hubbub.chat.errors import ApiError
from hubbub.chat.provision import Credentials, new_account
from hubbub.crypto import SecretBox
from hubbub.store import Store, open_store
from tests.push_material import credential, subscription
from tests.store.conftest import Clock
from tests.support import NOW


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(
        f"sqlite:///{tmp_path / 'hubbub.db'}", clock=Clock(datetime.fromtimestamp(NOW, UTC))
    )
    yield opened
    opened.close()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key())


@pytest.fixture
def acme(store: Store, box: SecretBox) -> Credentials:
    return new_account(store, box, name="acme")


def _register(store: Store, who: Credentials, identity: str, **values: object) -> str:
    values.setdefault("binding_type", "fcm")
    values.setdefault("address", "token-1")
    binding = push.register(
        store,
        who.account_sid,
        who.chat_service_sid,
        identity,
        **values,  # type: ignore[arg-type]
    )
    return binding.sid


def _refused(store: Store, who: Credentials, text: str, **values: object) -> None:
    with pytest.raises(ApiError) as caught:
        _register(store, who, "alice", **values)
    assert (caught.value.status, caught.value.code) == (400, 20001)
    assert text in caught.value.message


def test_registration_checks_type_address_and_message_types(
    store: Store, box: SecretBox, acme: Credentials
) -> None:
    for kind in ("fcm", "apn", "webpush"):
        credential(store, box, acme.account_sid, kind)
    _refused(store, acme, "binding_type", binding_type="sms")
    _refused(store, acme, "binding_type", binding_type=None)
    _refused(store, acme, "address", address="")
    _refused(store, acme, "address", address=12)
    _refused(store, acme, "at most 4096", address="x" * 4097)
    _refused(store, acme, "registration token", address="has space")
    _refused(store, acme, "hexadecimal", binding_type="apn", address="not-hex")
    _refused(store, acme, "hexadecimal", binding_type="apn", address="abc")
    _refused(store, acme, "PushSubscription", binding_type="webpush", address="{nope")
    insecure = dict(subscription(), endpoint="http://push.example.net/x")
    _refused(store, acme, "https endpoint", binding_type="webpush", address=insecure)
    keyless = dict(subscription(), keys={"auth": "a"})
    _refused(store, acme, "p256dh", binding_type="webpush", address=keyless)
    # 65 bytes that start 0x04, as a point's encoding does, but off the curve.
    off_curve = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode().rstrip("=")
    keys = {"auth": base64.urlsafe_b64encode(bytes(16)).decode(), "p256dh": off_curve}
    wrong = dict(subscription(), keys=keys)
    _refused(store, acme, "not a point on P-256", binding_type="webpush", address=wrong)
    short = dict(subscription(), keys=dict(subscription()["keys"], auth="AAAA"))  # type: ignore[call-overload]
    _refused(store, acme, "keys.auth is not 16 bytes", binding_type="webpush", address=short)
    # Nested deeper than the parser goes: bad input, not an error of the server.
    _refused(store, acme, "PushSubscription", binding_type="webpush", address="[" * 4000)
    _refused(store, acme, "not a push message type", message_types=["twilio.sms"])
    _refused(store, acme, "empty", message_types=[])
    _refused(store, acme, "list of strings", message_types=[1])
    assert store.list_bindings(acme.chat_service_sid).items == ()

    # Short names are Twilio's REST names for the same types; twilio-chat's four by default.
    sid = _register(
        store, acme, "alice", message_types=["new_message", "twilio.channel.new_message"]
    )
    assert store.get_binding(acme.chat_service_sid, sid).message_types == (
        "twilio.channel.new_message",
    )
    _register(store, acme, "alice", address="token-2")
    assert store.list_bindings(acme.chat_service_sid).items[1].message_types == push.CHAT_TYPES
    # A subscription is kept as its canonical JSON: the same browser is the same binding.
    browser = subscription(7)
    first = _register(store, acme, "alice", binding_type="webpush", address=browser)
    again = _register(store, acme, "alice", binding_type="webpush", address=json.dumps(browser))
    assert first == again
    stored = json.loads(store.get_binding(acme.chat_service_sid, first).address)
    assert set(stored) == {"endpoint", "keys"}
    apn = _register(store, acme, "alice", binding_type="apn", address="AB" * 32)
    assert store.get_binding(acme.chat_service_sid, apn).address == "ab" * 32


def test_the_credential_is_the_named_one_or_the_newest_of_its_type(
    store: Store, box: SecretBox, acme: Credentials
) -> None:
    _refused(store, acme, "no fcm push credential")
    older = credential(store, box, acme.account_sid, "fcm")
    apn = credential(store, box, acme.account_sid, "apn")
    newer = credential(store, box, acme.account_sid, "fcm")
    sid = _register(store, acme, "alice")
    assert store.get_binding(acme.chat_service_sid, sid).credential_sid == newer
    sid = _register(store, acme, "alice", credential_sid=older)
    assert store.get_binding(acme.chat_service_sid, sid).credential_sid == older
    _refused(store, acme, "is for apn", credential_sid=apn)
    _refused(store, acme, "Credential SID", credential_sid="nope")
    other = new_account(store, box, name="other")
    theirs = credential(store, box, other.account_sid, "fcm")
    _refused(store, acme, "not in this account", credential_sid=theirs)
    # Nor may another account's registration use ours.
    with pytest.raises(ApiError):
        _register(store, other, "mallory", credential_sid=newer)


def test_a_device_moves_between_users_and_unregisters_only_its_own(
    store: Store, box: SecretBox, acme: Credentials
) -> None:
    credential(store, box, acme.account_sid, "fcm")
    service = acme.chat_service_sid
    alice = _register(store, acme, "alice", endpoint_id="alice-phone")
    assert store.get_binding(service, alice).endpoint == "alice-phone"
    # Bob signs in on the same phone: the binding is now his alone, endpoint derived.
    bob = _register(store, acme, "bob")
    assert bob == alice
    moved = store.get_binding(service, bob)
    assert moved.identity == "bob"
    assert moved.endpoint.startswith("bob:fcm:")
    assert [b.identity for b in store.list_bindings(service).items] == ["bob"]
    # Alice's late sign-out removes nothing of Bob's, by SID or by address.
    assert push.unregister(store, service, "alice", binding_sid=bob) == []
    assert push.unregister(store, service, "alice", binding_type="fcm", address="token-1") == []
    assert store.get_binding(service, bob).identity == "bob"
    # Bob's does; twice is as good as once.
    assert push.unregister(store, service, "bob", binding_type="fcm", address="token-1") == [bob]
    assert push.unregister(store, service, "bob", binding_sid=bob) == []
    assert store.list_bindings(service).items == ()


def test_services_and_accounts_keep_their_bindings_apart(
    store: Store, box: SecretBox, acme: Credentials
) -> None:
    credential(store, box, acme.account_sid, "fcm")
    second = store.create_service(acme.account_sid, friendly_name="second")
    here = _register(store, acme, "alice")
    there = push.register(
        store, acme.account_sid, second.sid, "alice", binding_type="fcm", address="token-1"
    )
    # The same device in two services is two bindings; removing one leaves the other.
    assert there.sid != here
    assert push.unregister(store, second.sid, "alice", binding_sid=here) == []
    assert [b.sid for b in store.list_bindings(second.sid).items] == [there.sid]
    assert push.unregister(store, second.sid, "alice", binding_sid=there.sid) == [there.sid]
    assert [b.sid for b in store.list_bindings(acme.chat_service_sid).items] == [here]
