"""Web Push: RFC 8030 delivery of an RFC 8291-encrypted message, with RFC 8292 VAPID.

The endpoint comes from a browser, that is from a client: it could name any address, the
server's own loopback or its private network among them. So the request goes through the
webhooks' guarded HTTP/1.1 client, which connects only to addresses its guard allows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from hubbub.push import ece, vapid
from hubbub.push.keys import ec_p256_key
from hubbub.push.notification import Notification, Outcome, PushCredential
from hubbub.push.payloads import TooLarge, webpush_body
from hubbub.tokens.encoding import b64url_decode
from hubbub.webhooks.http import Client, DeliveryError, Refused

__all__ = ["TTL", "Subscription", "WebPushSender", "subscription"]

#: How long the push service keeps a message for a browser that is not connected.
TTL = 24 * 3600


@dataclass(frozen=True, slots=True)
class Subscription:
    """A browser's ``PushSubscription``: where to send, and the keys to encrypt for."""

    endpoint: str
    p256dh: bytes
    auth: bytes


def _key(keys: dict[str, object], name: str) -> bytes:
    value = keys.get(name)
    if not isinstance(value, str):
        raise ValueError(f"keys.{name} is missing")
    try:
        return b64url_decode(value.rstrip("="))
    except ValueError:
        raise ValueError(f"keys.{name} is not base64url") from None


def subscription(address: str) -> Subscription:
    """``PushSubscription.toJSON()`` as a browser gives it, or ``ValueError``."""
    try:
        raw = json.loads(address)
    except (ValueError, RecursionError):  # nested too deep for the parser, too
        raise ValueError("the subscription is not JSON") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("keys"), dict):
        raise ValueError("the subscription has no keys")
    endpoint = raw.get("endpoint")
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme != "https":
        raise ValueError("the subscription's endpoint is not an https URL")
    found = Subscription(endpoint, _key(raw["keys"], "p256dh"), _key(raw["keys"], "auth"))
    if len(found.p256dh) != 65 or found.p256dh[0] != 4:
        raise ValueError("keys.p256dh is not an uncompressed P-256 point")
    try:  # 65 bytes that start 0x04 may still be off the curve: no key to encrypt for
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), found.p256dh)
    except ValueError:
        raise ValueError("keys.p256dh is not a point on P-256") from None
    if len(found.auth) != 16:
        raise ValueError("keys.auth is not 16 bytes")
    return found


class WebPushSender:
    """Sends Web Push messages through ``client``; safe to share between threads."""

    def __init__(self, client: Client, clock: Callable[[], float]) -> None:
        self.client = client
        self.clock = clock

    def send(
        self, credential: PushCredential, address: str, notification: Notification, timeout: float
    ) -> Outcome:
        try:
            target = subscription(address)
        except ValueError as exc:
            return Outcome(False, gone=True, detail=f"webpush: {exc}")
        try:
            key = ec_p256_key(credential.secrets.get("private_key"))
            subject = credential.settings.get("subject")
            if not isinstance(subject, str):
                raise ValueError("the subject is missing")
        except ValueError as exc:
            return Outcome(False, detail=f"webpush: bad credential: {exc}")
        try:
            plaintext = webpush_body(notification, ece.MAX_PLAINTEXT)
        except TooLarge as exc:
            return Outcome(False, detail=f"webpush: {exc}")
        body = ece.encrypt(plaintext, target.p256dh, target.auth)
        headers = [
            ("Content-Type", "application/octet-stream"),
            ("Content-Encoding", "aes128gcm"),
            ("TTL", str(TTL)),
            ("Urgency", "high"),
            ("Authorization", vapid.authorization(key, target.endpoint, subject, self.clock())),
        ]
        deadline = time.monotonic() + timeout
        try:
            response = self.client.request(
                "POST", target.endpoint, headers=headers, body=body, deadline=deadline
            )
        except Refused as exc:
            return Outcome(False, detail=f"webpush: refused: {exc}")
        except DeliveryError as exc:
            return Outcome(False, retryable=True, detail=f"webpush: {exc}")
        status = response.status
        detail = f"webpush: status {status}"
        if 200 <= status < 300:
            return Outcome(True, detail=detail)
        if status in (404, 410):
            return Outcome(False, gone=True, detail=detail)
        return Outcome(False, retryable=status == 429 or status >= 500, detail=detail)
