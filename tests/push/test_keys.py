"""Credential material checked early, VAPID keys, the JWTs and the message encryption."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from typing import Any

import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from hubbub.push import (
    Notification,
    Outcome,
    PushCredential,
    Pusher,
    check_credential,
    new_vapid_key,
)
from hubbub.push.ece import MAX_PLAINTEXT, encrypt
from hubbub.push.jwt import es256, rs256
from hubbub.push.payloads import TooLarge, fit
from tests.push.conftest import TOPIC, apple_subject
from tests.push.receivers import b64url, decrypt_aes128gcm, unb64url
from tests.push.tls import Authority, key_pem

P256 = ec.generate_private_key(ec.SECP256R1())
RSA = rsa.generate_private_key(65537, 2048)


def pem_encrypted(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"password"),
    ).decode("ascii")


def account(**changes: Any) -> dict[str, Any]:
    base = {
        "type": "service_account",
        "project_id": "hubbub-test",
        "private_key": key_pem(RSA),
        "client_email": "pusher@hubbub-test.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


APN_SETTINGS = {"key_id": "KEY1234567", "team_id": "TEAM123456", "topic": TOPIC}


def webpush_material(**changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    private, public = new_vapid_key()
    settings = {"public_key": public, "subject": "mailto:ops@example.com"}
    secrets = {"private_key": private}
    for key, value in changes.items():
        (secrets if key == "private_key" else settings)[key] = value
    return settings, secrets


def test_good_material_of_each_type_passes() -> None:
    check_credential("fcm", {}, {"service_account": account()})
    check_credential("fcm", {}, {"service_account": json.dumps(account())})  # as uploaded
    check_credential("apn", APN_SETTINGS, {"private_key": key_pem(P256)})
    certificate, private_key = Authority().issue(apple_subject(), client=True)
    check_credential("apn", {}, {"certificate": certificate, "private_key": private_key})
    check_credential("webpush", *webpush_material())
    check_credential("webpush", *webpush_material(subject="https://chat.example.com/contact"))
    check_credential("gcm", {}, {"api_key": "anything"})  # retired: nothing to check


@pytest.mark.parametrize(
    ("type", "settings", "secrets", "reason"),
    [
        ("fcm", {}, {}, "the service account JSON is missing"),
        ("fcm", {}, {"service_account": "{"}, "the service account is not JSON"),
        (
            "fcm",
            {},
            {"service_account": account(client_email=None, token_uri=None)},
            "the service account JSON lacks client_email, token_uri",
        ),
        (
            "fcm",
            {},
            {"service_account": account(private_key="-----BEGIN PRIVATE KEY-----\nAAAA\n")},
            "the service account's private_key is not a PEM private key",
        ),
        (
            "fcm",
            {},
            {"service_account": account(private_key=key_pem(P256))},
            "the service account's private_key is not an RSA key",
        ),
        (
            "fcm",
            {},
            {"service_account": account(token_uri="http://oauth2.googleapis.com/token")},
            "the service account's token_uri is not an https URL",
        ),
        (
            "fcm",
            {},
            {"service_account": account(project_id="../other")},
            "the service account's project_id is not a project ID",
        ),
        ("apn", APN_SETTINGS, {}, "the .p8 private key is missing"),
        (
            "apn",
            APN_SETTINGS,
            {"private_key": key_pem(ec.generate_private_key(ec.SECP384R1()))},
            "the .p8 private key is on the curve secp384r1, not P-256",
        ),
        (
            "apn",
            APN_SETTINGS,
            {"private_key": key_pem(RSA)},
            "the .p8 private key is not an EC key (P-256 is needed)",
        ),
        (
            "apn",
            APN_SETTINGS,
            {"private_key": pem_encrypted(P256)},
            "the .p8 private key is encrypted with a password; give it unencrypted",
        ),
        (
            "apn",
            {"key_id": "KEY1234567", "topic": TOPIC},
            {"private_key": key_pem(P256)},
            "team_id is missing",
        ),
        (
            "apn",
            {},
            {"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n", "private_key": key_pem(RSA)},
            "the certificate is not a PEM X.509 certificate",
        ),
        (
            "webpush",
            *webpush_material(subject="ops@example.com"),
            "the subject is not a mailto: or https: URL",
        ),
        (
            "webpush",
            *webpush_material(public_key=new_vapid_key()[1]),
            "the public_key is not the private key's (uncompressed P-256 point)",
        ),
        (
            "webpush",
            *webpush_material(private_key=key_pem(ec.generate_private_key(ec.SECP384R1()))),
            "the private key is on the curve secp384r1, not P-256",
        ),
        ("webpush", *webpush_material(public_key="not base64!"), "the public_key is not base64url"),
        ("apns", {}, {}, "'apns' is not a push credential type (fcm, apn, gcm, webpush)"),
    ],
)
def test_bad_material_is_refused_with_a_reason(
    type: str, settings: Mapping[str, Any], secrets: Mapping[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(reason)}$"):
        check_credential(type, settings, secrets)


def test_a_certificate_needs_its_own_key_and_a_topic() -> None:
    authority = Authority()
    certificate, _key = authority.issue(apple_subject(), client=True)
    _other, other_key = authority.issue(apple_subject(), client=True)
    with pytest.raises(ValueError, match=r"^the private key is not the certificate's$"):
        check_credential("apn", {}, {"certificate": certificate, "private_key": other_key})

    plain = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no bundle id")])
    certificate, private_key = authority.issue(plain, client=True)
    secrets = {"certificate": certificate, "private_key": private_key}
    with pytest.raises(ValueError, match="names no topic"):
        check_credential("apn", {}, secrets)
    check_credential("apn", {"topic": TOPIC}, secrets)


def test_an_expired_certificate_is_refused() -> None:
    certificate, private_key = Authority().issue(
        apple_subject(), client=True, lifetime=-datetime.timedelta(days=3)
    )
    expired = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)).date()
    with pytest.raises(ValueError, match=f"^the certificate expired on {expired.isoformat()}$"):
        check_credential("apn", {}, {"certificate": certificate, "private_key": private_key})


def test_a_new_vapid_key_is_a_p256_pair() -> None:
    private, public = new_vapid_key()
    key = serialization.load_pem_private_key(private.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert unb64url(public) == point
    assert len(point) == 65
    assert "=" not in public
    assert new_vapid_key() != new_vapid_key()


def test_the_jwts_verify_with_pyjwt() -> None:
    token = es256(P256, {"iss": "TEAM123456", "iat": 1_700_000_000}, kid="KEY1234567")
    assert pyjwt.get_unverified_header(token) == {"alg": "ES256", "kid": "KEY1234567"}
    claims = pyjwt.decode(
        token, P256.public_key(), algorithms=["ES256"], options={"verify_iat": False}
    )
    assert claims == {"iss": "TEAM123456", "iat": 1_700_000_000}

    token = rs256(RSA, {"iss": "a@b", "aud": "https://oauth2.googleapis.com/token"})
    claims = pyjwt.decode(
        token,
        RSA.public_key(),
        algorithms=["RS256"],
        audience="https://oauth2.googleapis.com/token",
    )
    assert claims == {"iss": "a@b", "aud": "https://oauth2.googleapis.com/token"}


def test_encryption_reproduces_rfc_8291_appendix_a() -> None:
    sender = ec.derive_private_key(
        int.from_bytes(unb64url("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"), "big"),
        ec.SECP256R1(),
    )
    receiver_public = unb64url(
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
    )
    body = encrypt(
        b"When I grow up, I want to be a watermelon",
        receiver_public,
        unb64url("BTBZMqHH6r4Tts7J_aSIgg"),
        sender_key=sender,
        salt=unb64url("DGv6ra1nlYgDCS1FRnbzlw"),
    )
    assert b64url(body) == (
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6"
        "TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
    )
    # And the receiver's decryption reads it (the RFC's user agent private key).
    receiver = ec.derive_private_key(
        int.from_bytes(unb64url("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"), "big"),
        ec.SECP256R1(),
    )
    auth = unb64url("BTBZMqHH6r4Tts7J_aSIgg")
    assert decrypt_aes128gcm(body, receiver, auth) == b"When I grow up, I want to be a watermelon"


def test_encryption_refuses_what_would_not_fit_one_record() -> None:
    receiver = ec.generate_private_key(ec.SECP256R1())
    point = receiver.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    body = encrypt(b"x" * MAX_PLAINTEXT, point, b"a" * 16)
    assert len(body) == 4096
    assert decrypt_aes128gcm(body, receiver, b"a" * 16) == b"x" * MAX_PLAINTEXT
    with pytest.raises(ValueError, match="over"):
        encrypt(b"x" * (MAX_PLAINTEXT + 1), point, b"a" * 16)


def test_fit_cuts_the_body_as_little_as_needed() -> None:
    def build(body: str | None) -> bytes:
        return json.dumps({"body": body}, ensure_ascii=False).encode()

    assert fit(build, "short", 100) == build("short")
    cut = json.loads(fit(build, "é" * 100, 50))["body"]
    assert cut.endswith("…")
    assert len(build(cut)) <= 50
    assert len(build(cut[:-1] + "é…")) > 50  # one character more would not fit
    assert fit(build, None, 100) == build(None)
    with pytest.raises(TooLarge):
        fit(build, "x" * 10, 5)


def test_gcm_is_retired_and_sends_nothing() -> None:
    pusher = Pusher(clock=lambda: 0.0)
    try:
        credential = PushCredential("CR" + "0" * 32, "gcm", False, {}, {"api_key": "x"})
        outcome = pusher.send(credential, "token", Notification("twilio.channel.new_message"))
        assert outcome == Outcome(False, detail="gcm: Google retired GCM; use an FCM credential")
    finally:
        pusher.close()


def test_repr_of_a_credential_hides_its_secrets() -> None:
    credential = PushCredential("CR" + "0" * 32, "apn", False, {}, {"private_key": key_pem(P256)})
    assert "PRIVATE KEY" not in repr(credential)
