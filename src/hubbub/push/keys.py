"""The key material of push credentials: loading it, checking it early, making VAPID keys.

:func:`check_credential` is for the REST layer, to refuse bad material with a 400 when a
credential is created rather than at the first push. Loaded keys are cached by their PEM
text, so sending does not parse an RSA key per message.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from hubbub.tokens.encoding import b64url_decode, b64url_encode

__all__ = [
    "ServiceAccount",
    "apns_topic_of",
    "certificate",
    "check_credential",
    "ec_p256_key",
    "new_vapid_key",
    "public_point",
    "rsa_key",
    "service_account",
    "vapid_public_key",
]

_SERVICE_ACCOUNT_FIELDS = ("project_id", "private_key", "client_email", "token_uri")
# An RFC 8292 subject: a contact for the push service's operator.
_SUBJECT = re.compile(r"(mailto:[^\s@]+@[^\s@]+|https://\S+)")
# The certificate subject field Apple puts the app's bundle ID (the APNs topic) in.
_UID = x509.ObjectIdentifier("0.9.2342.19200300.100.1.1")


@functools.lru_cache(maxsize=128)
def _private_key(pem: str) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(pem.encode("utf-8"), password=None)
    except TypeError:
        raise ValueError("is encrypted with a password; give it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("is not a PEM private key") from None


def _key(pem: object, what: str) -> PrivateKeyTypes:
    if not isinstance(pem, str) or not pem.strip():
        raise ValueError(f"{what} is missing")
    try:
        return _private_key(pem)
    except ValueError as exc:
        raise ValueError(f"{what} {exc}") from None


def ec_p256_key(pem: object, what: str = "the private key") -> ec.EllipticCurvePrivateKey:
    """``pem`` as a P-256 private key, or ``ValueError`` saying what is wrong with it."""
    key = _key(pem, what)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{what} is not an EC key (P-256 is needed)")
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"{what} is on the curve {key.curve.name}, not P-256")
    return key


def rsa_key(pem: object, what: str = "the private key") -> rsa.RSAPrivateKey:
    """``pem`` as an RSA private key of 2048 bits or more, or ``ValueError``."""
    key = _key(pem, what)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{what} is not an RSA key")
    if key.key_size < 2048:
        raise ValueError(f"{what} has {key.key_size} bits, fewer than 2048")
    return key


@functools.lru_cache(maxsize=128)
def _certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("utf-8"))


def certificate(pem: object) -> x509.Certificate:
    """``pem`` as an X.509 certificate, or ``ValueError``."""
    if not isinstance(pem, str) or not pem.strip():
        raise ValueError("the certificate is missing")
    try:
        return _certificate(pem)
    except ValueError:
        raise ValueError("the certificate is not a PEM X.509 certificate") from None


def apns_topic_of(cert: x509.Certificate) -> str | None:
    """The bundle ID an APNs certificate is for (its subject's UID), if it names one."""
    for attribute in cert.subject.get_attributes_for_oid(_UID):
        value = attribute.value
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return None


def public_point(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    """The uncompressed point (65 bytes) of a P-256 key, as Web Push writes public keys."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def vapid_public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The base64url public key browsers take as ``applicationServerKey``."""
    return b64url_encode(public_point(key)).decode("ascii")


def new_vapid_key() -> tuple[str, str]:
    """A new VAPID key pair: the private key's PEM (PKCS #8) and the public key, base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return pem, vapid_public_key(key)


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """The parts of a Google service-account JSON that FCM's HTTP v1 API needs."""

    project_id: str
    client_email: str
    token_uri: str
    private_key: str  # PEM

    @property
    def key(self) -> rsa.RSAPrivateKey:
        return rsa_key(self.private_key, "the service account's private_key")


def service_account(secrets: Mapping[str, Any]) -> ServiceAccount:
    """The service account in an FCM credential's ``secrets`` (a mapping or its JSON text)."""
    raw = secrets.get("service_account")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ValueError("the service account is not JSON") from None
    if not isinstance(raw, Mapping):
        raise ValueError("the service account JSON is missing")
    missing = [name for name in _SERVICE_ACCOUNT_FIELDS if not isinstance(raw.get(name), str)]
    if missing:
        raise ValueError(f"the service account JSON lacks {', '.join(missing)}")
    account = ServiceAccount(
        raw["project_id"], raw["client_email"], raw["token_uri"], raw["private_key"]
    )
    if not re.fullmatch(r"[a-z0-9][a-z0-9:.-]*", account.project_id):
        raise ValueError("the service account's project_id is not a project ID")
    if urlsplit(account.token_uri).scheme != "https":
        raise ValueError("the service account's token_uri is not an https URL")
    return account


def _check_fcm(settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> None:
    _ = service_account(secrets).key


def _check_apn(settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> None:
    if secrets.get("certificate") is not None:
        cert = certificate(secrets["certificate"])
        if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
            expired = cert.not_valid_after_utc.date().isoformat()
            raise ValueError(f"the certificate expired on {expired}")
        key = _key(secrets.get("private_key"), "the private key")
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("the private key is neither RSA nor EC")
        if key.public_key() != cert.public_key():
            raise ValueError("the private key is not the certificate's")
        topic = settings.get("topic")
        if topic is None and apns_topic_of(cert) is None:
            raise ValueError("the certificate names no topic (bundle ID): give one")
        if topic is not None and (not isinstance(topic, str) or not topic):
            raise ValueError("the topic (bundle ID) is empty")
        return
    ec_p256_key(secrets.get("private_key"), "the .p8 private key")
    for name in ("key_id", "team_id", "topic"):
        value = settings.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} is missing")
        if not value.isascii() or not value.isprintable():
            raise ValueError(f"{name} holds characters a header cannot carry")


def _check_webpush(settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> None:
    key = ec_p256_key(secrets.get("private_key"))
    public = settings.get("public_key")
    if not isinstance(public, str):
        raise ValueError("the public_key is missing")
    try:
        point = b64url_decode(public.rstrip("="))
    except ValueError:
        raise ValueError("the public_key is not base64url") from None
    if point != public_point(key):
        raise ValueError("the public_key is not the private key's (uncompressed P-256 point)")
    subject = settings.get("subject")
    if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
        raise ValueError("the subject is not a mailto: or https: URL")


_CHECKS = {"fcm": _check_fcm, "apn": _check_apn, "webpush": _check_webpush}


def check_credential(type: str, settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` with a one-line reason when a credential of ``type`` could not
    send. ``gcm`` has nothing to check (Google retired GCM; such a credential never sends)."""
    if type == "gcm":
        return
    check = _CHECKS.get(type)
    if check is None:
        raise ValueError(f"{type!r} is not a push credential type (fcm, apn, gcm, webpush)")
    check(settings, secrets)
