"""Real key material for push credentials, made fresh: a Firebase service account (RSA), an
APNs .p8 key (P-256), an APNs certificate with its key, a VAPID key. Nothing here reaches a
provider; the keys only have to be what the providers would take."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from hubbub.chat import credentials
from hubbub.crypto import SecretBox
from hubbub.store import Store
from hubbub.store.records import CredentialType
from hubbub.tokens.encoding import b64url_encode

_UID = x509.ObjectIdentifier("0.9.2342.19200300.100.1.1")


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def rsa_pem() -> str:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def p256_pem() -> str:
    return _pem(ec.generate_private_key(ec.SECP256R1()))


def service_account(project: str = "hubbub-test") -> str:
    """A Google service account's JSON, as the Firebase console hands it out."""
    return json.dumps(
        {
            "type": "service_account",
            "project_id": project,
            "private_key_id": "0123456789abcdef",
            "private_key": rsa_pem(),
            "client_email": f"firebase-adminsdk@{project}.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


def apns_certificate(topic: str = "com.example.chat") -> tuple[str, str]:
    """A certificate naming ``topic`` as Apple's do (in its UID), and its private key (PEMs)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(_UID, topic),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Apple Push Services: {topic}"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), _pem(key)


def subscription(n: int = 1) -> dict[str, object]:
    """A browser's PushSubscription JSON, with a real P-256 public key and auth secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {
        "endpoint": f"https://push.example.net/send/device-{n}",
        "expirationTime": None,
        "keys": {
            "p256dh": b64url_encode(point).decode(),
            "auth": b64url_encode(os.urandom(16)).decode(),
        },
    }


def credential(store: Store, box: SecretBox, account_sid: str, kind: CredentialType = "fcm") -> str:
    """A credential of ``kind`` made through the chat core, with working material; its SID."""
    material = {
        "fcm": credentials.KeyMaterial(secret=service_account()),
        "apn": credentials.KeyMaterial(
            private_key=p256_pem(), key_id="ABC123DEFG", team_id="TEAM123456", topic="com.x"
        ),
        "gcm": credentials.KeyMaterial(api_key="AIza-retired"),
        "webpush": credentials.KeyMaterial(subject="mailto:ops@example.com"),
    }[kind]
    return credentials.create(store, box, account_sid, kind, material).sid
