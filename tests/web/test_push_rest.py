"""Push Credentials and Bindings over REST, through the official twilio-python client (and raw
requests for hubbub's extension parameters), on both backends."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from twilio.rest import Client

from hubbub.chat import push
from hubbub.chat.provision import Credentials, new_account
from hubbub.crypto import SecretBox
from hubbub.store import Store
from tests.push_material import (
    apns_certificate,
    credential,
    p256_pem,
    service_account,
    subscription,
)
from tests.web.server import twilio_client
from tests.web.test_twilio_client import fails, raw_request


@pytest.fixture
def client(base_url: str, creds: Credentials) -> Client:
    return twilio_client(base_url, creds.account_sid, creds.auth_token)


def _post(base_url: str, creds: Credentials, path: str, **params: str) -> tuple[int, Any]:
    return raw_request(base_url, creds, path, urlencode(params).encode())


def _secret_free(answer: Any, *secrets: str) -> None:
    """No secret (nor a recognisable piece of one) in an answer."""
    text = json.dumps(answer)
    for secret in secrets:
        for line in secret.splitlines():
            if len(line) > 16:
                assert line not in text
    assert "PRIVATE KEY" not in text


def test_credentials_through_the_twilio_client(
    base_url: str, client: Client, creds: Credentials, store: Store, box: SecretBox
) -> None:
    account = service_account()
    made = client.chat.v2.credentials.create(type="fcm", secret=account, friendly_name="android")
    assert made.sid.startswith("CR")
    assert (made.type, made.friendly_name, made.sandbox) == ("fcm", "android", "False")
    assert made.url == f"{base_url}/v2/Credentials/{made.sid}"
    assert made.account_sid == creds.account_sid

    assert [c.sid for c in client.chat.v2.credentials.list()] == [made.sid]
    fetched = client.chat.v2.credentials(made.sid).fetch()
    assert (fetched.type, fetched.friendly_name) == ("fcm", "android")
    renamed = client.chat.v2.credentials(made.sid).update(friendly_name="phones")
    assert renamed.friendly_name == "phones"

    # Sealed at rest, in the layout the senders read.
    stored = store.get_credential(creds.account_sid, made.sid)
    assert "PRIVATE KEY" not in stored.sealed
    assert json.loads(box.decrypt(stored.sealed)) == {"service_account": json.loads(account)}
    # A new service account replaces the old; the name stays.
    other = service_account("other-project")
    client.chat.v2.credentials(made.sid).update(secret=other)
    stored = store.get_credential(creds.account_sid, made.sid)
    assert json.loads(box.decrypt(stored.sealed))["service_account"]["project_id"] == (
        "other-project"
    )
    assert stored.friendly_name == "phones"

    # No answer carries a secret: every one of them, raw.
    path = f"/v2/Credentials/{made.sid}"
    for answer in (
        raw_request(base_url, creds, "/v2/Credentials")[1],
        raw_request(base_url, creds, path)[1],
        _post(base_url, creds, path, FriendlyName="x")[1],
    ):
        _secret_free(answer, account, other)

    assert client.chat.v2.credentials(made.sid).delete() is True
    fails(lambda: client.chat.v2.credentials(made.sid).fetch(), 404, 20404)
    assert client.chat.v2.credentials.list() == []


def test_apn_credentials_by_certificate_and_by_token(
    base_url: str, client: Client, creds: Credentials, store: Store, box: SecretBox
) -> None:
    cert, key = apns_certificate("com.example.chat")
    by_cert = client.chat.v2.credentials.create(
        type="apn", certificate=cert, private_key=key, sandbox=True
    )
    assert (by_cert.type, by_cert.sandbox) == ("apn", "True")
    sealed = json.loads(box.decrypt(store.get_credential(creds.account_sid, by_cert.sid).sealed))
    assert sealed == {"certificate": cert, "private_key": key}

    p8 = p256_pem()
    status, made = _post(
        base_url,
        creds,
        "/v2/Credentials",
        Type="apn",
        PrivateKey=p8,
        KeyId="ABC123DEFG",
        TeamId="TEAM123456",
        Topic="com.example.chat",
    )
    assert status == 201, made
    _secret_free(made, p8)
    stored = store.get_credential(creds.account_sid, made["sid"])
    assert stored.settings == {
        "key_id": "ABC123DEFG",
        "team_id": "TEAM123456",
        "topic": "com.example.chat",
    }
    assert json.loads(box.decrypt(stored.sealed)) == {"private_key": p8}
    # Changing the topic keeps the key.
    status, _ = _post(base_url, creds, f"/v2/Credentials/{stored.sid}", Topic="com.example.two")
    assert status == 200
    again = store.get_credential(creds.account_sid, stored.sid)
    assert again.settings["topic"] == "com.example.two"
    assert json.loads(box.decrypt(again.sealed)) == {"private_key": p8}
    # sandbox is the production flag's string, as Twilio's.
    assert client.chat.v2.credentials(stored.sid).update(sandbox=True).sandbox == "True"


def test_webpush_credentials_make_or_take_a_vapid_key(
    base_url: str, creds: Credentials, store: Store, box: SecretBox
) -> None:
    status, made = _post(
        base_url, creds, "/v2/Credentials", Type="webpush", Subject="mailto:ops@example.com"
    )
    assert status == 201, made
    # An uncompressed P-256 point, base64url without padding: what applicationServerKey takes.
    assert re.fullmatch(r"[A-Za-z0-9_-]{87}", made["public_key"])
    stored = store.get_credential(creds.account_sid, made["sid"])
    assert stored.settings["public_key"] == made["public_key"]
    assert "PRIVATE KEY" in json.loads(box.decrypt(stored.sealed))["private_key"]
    _secret_free(raw_request(base_url, creds, f"/v2/Credentials/{made['sid']}")[1])

    pem = p256_pem()
    status, given = _post(
        base_url,
        creds,
        "/v2/Credentials",
        Type="webpush",
        PrivateKey=pem,
        Subject="https://chat.example.com",
    )
    assert status == 201, given
    assert given["public_key"] != made["public_key"]
    assert json.loads(
        box.decrypt(store.get_credential(creds.account_sid, given["sid"]).sealed)
    ) == {"private_key": pem}


def test_gcm_is_taken_as_twilio_took_it(
    client: Client, creds: Credentials, store: Store, box: SecretBox
) -> None:
    made = client.chat.v2.credentials.create(type="gcm", api_key="AIza-legacy")
    assert made.type == "gcm"
    sealed = store.get_credential(creds.account_sid, made.sid).sealed
    assert json.loads(box.decrypt(sealed)) == {"api_key": "AIza-legacy"}


def test_bad_key_material_is_a_400_that_does_not_echo_it(
    base_url: str, client: Client, creds: Credentials
) -> None:
    legacy = "AAAAlegacy-server-key:APA91bHsecretsecretsecret"
    status, error = _post(base_url, creds, "/v2/Credentials", Type="fcm", Secret=legacy)
    assert (status, error["code"]) == (400, 20001)
    assert "service account" in error["message"]
    assert legacy not in json.dumps(error)
    broken = json.loads(service_account())
    broken["private_key"] = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
    status, error = _post(base_url, creds, "/v2/Credentials", Type="fcm", Secret=json.dumps(broken))
    assert (status, error["code"]) == (400, 20001)
    assert "not a key" not in error["message"]
    # Nested deeper than the parser goes: a 400 as any other bad JSON, not a 500.
    status, error = _post(base_url, creds, "/v2/Credentials", Type="fcm", Secret="[" * 5000)
    assert (status, error["code"], error["status"]) == (400, 20001, 400)
    assert "service account" in error["message"]

    cert, _ = apns_certificate()
    _, other_key = apns_certificate()
    fails(
        lambda: client.chat.v2.credentials.create(
            type="apn", certificate=cert, private_key=other_key
        ),
        400,
        20001,
    )
    p8 = p256_pem()
    status, error = _post(base_url, creds, "/v2/Credentials", Type="apn", PrivateKey=p8)
    assert (status, error["code"]) == (400, 20001)
    assert "KeyId" in error["message"]
    status, error = _post(base_url, creds, "/v2/Credentials", Type="webpush")
    assert (status, error["code"]) == (400, 20001)
    assert "Subject" in error["message"]
    for params in ({}, {"Type": "sms"}, {"Type": "fcm"}, {"Type": "fcm", "ApiKey": "x"}):
        status, error = _post(base_url, creds, "/v2/Credentials", **params)
        assert (status, error["code"]) == (400, 20001), params
    # Nothing was stored by any of them.
    assert client.chat.v2.credentials.list() == []
    made = client.chat.v2.credentials.create(type="fcm", secret=service_account())
    status, error = _post(base_url, creds, f"/v2/Credentials/{made.sid}", Type="apn")
    assert (status, error["code"]) == (400, 20001)
    fails(lambda: client.chat.v2.credentials(made.sid).update(secret="legacy"), 400, 20001)
    assert client.chat.v2.credentials(made.sid).fetch().type == "fcm"


def test_credentials_are_the_accounts_own(
    base_url: str, client: Client, creds: Credentials, store: Store, box: SecretBox
) -> None:
    mine = client.chat.v2.credentials.create(type="gcm", api_key="k")
    other = new_account(store, box, name="other")
    theirs = twilio_client(base_url, other.account_sid, other.auth_token)
    assert theirs.chat.v2.credentials.list() == []
    fails(lambda: theirs.chat.v2.credentials(mine.sid).fetch(), 404, 20404)
    fails(lambda: theirs.chat.v2.credentials(mine.sid).update(friendly_name="x"), 404, 20404)
    fails(lambda: theirs.chat.v2.credentials(mine.sid).delete(), 404, 20404)
    assert client.chat.v2.credentials(mine.sid).fetch().sid == mine.sid


def _register(store: Store, creds: Credentials, identity: str, kind: Any, address: Any) -> str:
    return push.register(
        store,
        creds.account_sid,
        creds.chat_service_sid,
        identity,
        binding_type=kind,
        address=address,
        message_types=None,
    ).sid


def test_bindings_through_the_twilio_client(
    base_url: str, client: Client, creds: Credentials, store: Store, box: SecretBox
) -> None:
    for kind in ("fcm", "apn", "webpush"):
        credential(store, box, creds.account_sid, kind)
    alice_phone = _register(store, creds, "alice", "fcm", "fcm-token-alice")
    alice_mac = _register(store, creds, "alice", "apn", "ab" * 32)
    bob_browser = _register(store, creds, "bob", "webpush", subscription())
    chat = client.chat.v2.services(creds.chat_service_sid)

    assert {b.sid for b in chat.bindings.list()} == {alice_phone, alice_mac, bob_browser}
    assert {b.sid for b in chat.bindings.list(identity=["alice"])} == {alice_phone, alice_mac}
    assert {b.sid for b in chat.bindings.list(binding_type=["apn", "webpush"])} == {
        alice_mac,
        bob_browser,
    }
    found = chat.bindings.list(binding_type=["fcm"], identity=["alice", "bob"])
    assert [b.sid for b in found] == [alice_phone]
    # Paged as every list, filters carried along.
    pages = list(chat.bindings.stream(identity=["alice"], page_size=1))
    assert {b.sid for b in pages} == {alice_phone, alice_mac}

    one = chat.bindings(alice_phone).fetch()
    assert (one.identity, one.binding_type, one.service_sid) == (
        "alice",
        "fcm",
        creds.chat_service_sid,
    )
    assert one.message_types == [
        "new_message",
        "added_to_channel",
        "invited_to_channel",
        "removed_from_channel",
    ]
    assert one.credential_sid.startswith("CR")
    assert one.endpoint.startswith("alice:fcm:")
    assert one.links == {"user": f"{base_url}/v2/Services/{creds.chat_service_sid}/Users/alice"}
    assert one.url == f"{base_url}/v2/Services/{creds.chat_service_sid}/Bindings/{alice_phone}"

    alice = chat.users("alice").fetch()
    theirs = chat.users(alice.sid).user_bindings.list()
    assert {b.sid for b in theirs} == {alice_phone, alice_mac}
    assert {b.user_sid for b in theirs} == {alice.sid}
    assert [b.sid for b in chat.users("alice").user_bindings.list(binding_type=["apn"])] == [
        alice_mac
    ]
    user_one = chat.users(alice.sid).user_bindings(alice_mac).fetch()
    assert user_one.url == (
        f"{base_url}/v2/Services/{creds.chat_service_sid}/Users/{alice.sid}/Bindings/{alice_mac}"
    )
    # Bob's binding is not Alice's.
    fails(lambda: chat.users(alice.sid).user_bindings(bob_browser).fetch(), 404, 20404)
    fails(lambda: chat.users(alice.sid).user_bindings(bob_browser).delete(), 404, 20404)

    assert chat.users(alice.sid).user_bindings(alice_mac).delete() is True
    assert chat.bindings(bob_browser).delete() is True
    assert [b.sid for b in chat.bindings.list()] == [alice_phone]
    fails(lambda: chat.bindings(bob_browser).fetch(), 404, 20404)
    fails(lambda: chat.bindings(bob_browser).delete(), 404, 20404)


def test_binding_lists_are_checked_and_scoped(
    base_url: str, client: Client, creds: Credentials, store: Store, box: SecretBox
) -> None:
    credential(store, box, creds.account_sid, "fcm")
    sid = _register(store, creds, "alice", "fcm", "token-1")
    service = f"/v2/Services/{creds.chat_service_sid}"
    status, error = raw_request(base_url, creds, f"{service}/Bindings?PageSize=51")
    assert (status, error["code"]) == (400, 20007)
    status, error = raw_request(base_url, creds, f"{service}/Bindings?BindingType=sms")
    assert (status, error["code"]) == (400, 20001)
    status, error = _post(base_url, creds, f"{service}/Bindings", BindingType="fcm")
    assert (status, error["code"]) == (405, 20004)

    # Another service of the account, and another account, see nothing of it.
    second = client.chat.v2.services.create(friendly_name="second")
    assert client.chat.v2.services(second.sid).bindings.list() == []
    fails(lambda: client.chat.v2.services(second.sid).bindings(sid).fetch(), 404, 20404)
    other = new_account(store, box, name="other")
    theirs = twilio_client(base_url, other.account_sid, other.auth_token)
    fails(lambda: theirs.chat.v2.services(creds.chat_service_sid).bindings.list(), 404, 20404)
    fails(
        lambda: theirs.chat.v2.services(creds.chat_service_sid).bindings(sid).delete(), 404, 20404
    )
    assert [b.sid for b in client.chat.v2.services(creds.chat_service_sid).bindings.list()] == [sid]
