"""Apple Push Notification service, over HTTP/2.

Two ways to authenticate, as Apple offers them: a provider token (an ES256 JWT signed with the
team's .p8 key, kept for 50 minutes: Apple refuses tokens older than an hour and renewals more
often than every 20 minutes) in ``authorization``, or the app's certificate as a TLS client
certificate (the kind Twilio's APN credentials hold), with no ``authorization`` at all.
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from hubbub.push import _http
from hubbub.push.jwt import es256
from hubbub.push.keys import apns_topic_of, certificate, ec_p256_key
from hubbub.push.notification import Notification, Outcome, PushCredential
from hubbub.push.payloads import TooLarge, apns_body

__all__ = ["TOKEN_REUSE", "TTL", "ApnsSender"]

#: How long one provider token is used.
TOKEN_REUSE = 50 * 60
#: How long Apple keeps a notification for a device that is off (``apns-expiration``).
TTL = 24 * 3600
_DEVICE_TOKEN = re.compile(r"[0-9A-Fa-f]{16,200}")
#: Answers that mean the credential, not the device, is wrong (the Sandbox flag does not match
#: the app's build, or the Topic is not its bundle id): the binding is kept, and the push is
#: not retried, since every retry would get the same answer.
_CREDENTIAL_REASONS = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic"})


@dataclass(frozen=True, slots=True)
class _ProviderToken:
    value: str
    issued_at: float


class ApnsSender:
    """Sends APNs notifications; safe to share between threads.

    ``clients`` carry token-based requests; each certificate gets a pool of its own, its TLS
    context trusting what ``tls`` trusts (the system's store when ``None``).
    """

    def __init__(
        self,
        clients: _http.ClientPool,
        *,
        url: str,
        sandbox_url: str,
        tls: ssl.SSLContext | None,
        clock: Callable[[], float],
    ) -> None:
        self.clients = clients
        self.url = url.rstrip("/")
        self.sandbox_url = sandbox_url.rstrip("/")
        self.tls = tls
        self.clock = clock
        self._tokens: dict[tuple[str, ...], _ProviderToken] = {}
        # credential sid -> the digest of its certificate and key, and their clients
        self._certified: dict[str, tuple[str, _http.ClientPool]] = {}
        self._lock = threading.Lock()

    def send(
        self, credential: PushCredential, address: str, notification: Notification, timeout: float
    ) -> Outcome:
        if not _DEVICE_TOKEN.fullmatch(address):
            return Outcome(False, gone=True, detail="apns: the device token is not hex")
        try:
            body = apns_body(notification)
        except TooLarge as exc:
            return Outcome(False, detail=f"apns: {exc}")
        base = self.sandbox_url if credential.sandbox else self.url
        alert = notification.body is not None or notification.title is not None
        headers = {
            "apns-push-type": "alert" if alert else "background",
            # Apple wants 5 for background pushes; 10 delivers alerts at once.
            "apns-priority": "10" if alert else "5",
            "apns-expiration": str(int(self.clock()) + TTL),
            "content-type": "application/json",
        }
        try:
            if credential.secrets.get("certificate") is not None:
                clients, topic = self._certified_clients(credential)
                if topic is not None:
                    headers["apns-topic"] = topic
                url = f"{base}/3/device/{address}"
                return self._post(clients, url, body, headers, timeout)[2]
            return self._send_with_token(credential, address, base, body, headers, timeout)
        except ValueError as exc:
            return Outcome(False, detail=f"apns: bad credential: {exc}")

    def close(self) -> None:
        with self._lock:
            pools, self._certified = list(self._certified.values()), {}
        for _digest, pool in pools:
            pool.close()

    def _send_with_token(
        self,
        credential: PushCredential,
        address: str,
        base: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
    ) -> Outcome:
        settings = credential.settings
        key = ec_p256_key(credential.secrets.get("private_key"), "the .p8 private key")
        key_id, team_id, topic = (
            settings.get("key_id"),
            settings.get("team_id"),
            settings.get("topic"),
        )
        if not (isinstance(key_id, str) and isinstance(team_id, str) and isinstance(topic, str)):
            raise ValueError("key_id, team_id or topic is missing")
        digest = hashlib.sha256(credential.secrets["private_key"].encode("utf-8")).hexdigest()
        cache_key = (team_id, key_id, digest)
        headers["apns-topic"] = topic
        refused: str | None = None
        while True:
            token = self._provider_token(cache_key, key, refused)
            headers["authorization"] = f"bearer {token}"
            status, reason, outcome = self._post(
                self.clients, f"{base}/3/device/{address}", body, headers, timeout
            )
            if status != 403 or reason != "ExpiredProviderToken" or refused is not None:
                return outcome
            refused = token  # Apple finds it too old (clocks apart?): once more, a new one

    def _provider_token(
        self, cache_key: tuple[str, str, str], key: ec.EllipticCurvePrivateKey, refused: str | None
    ) -> str:
        """The provider token to use now: the cached one while young enough, unless Apple
        ``refused`` it."""
        team_id, key_id, _digest = cache_key
        now = self.clock()
        with self._lock:
            cached = self._tokens.get(cache_key)
            if (
                cached is not None
                and cached.value != refused
                and 0 <= now - cached.issued_at < TOKEN_REUSE
            ):
                return cached.value
            value = es256(key, {"iss": team_id, "iat": int(now)}, kid=key_id)
            self._tokens[cache_key] = _ProviderToken(value, now)
            return value

    def _certified_clients(self, credential: PushCredential) -> tuple[_http.ClientPool, str | None]:
        cert_pem = credential.secrets["certificate"]
        key_pem = credential.secrets.get("private_key")
        if not isinstance(key_pem, str):
            raise ValueError("the certificate's private key is missing")
        cert = certificate(cert_pem)
        topic = credential.settings.get("topic") or apns_topic_of(cert)
        digest = hashlib.sha256(f"{cert_pem}\0{key_pem}".encode()).hexdigest()
        replaced = None
        with self._lock:
            known, pool = self._certified.get(credential.sid, ("", None))
            if pool is None or known != digest:  # new, or its certificate was replaced
                replaced = pool
                pool = _http.ClientPool(_client_context(self.tls, cert_pem, key_pem))
                self._certified[credential.sid] = digest, pool
        if replaced is not None:
            replaced.close()
        return pool, topic if isinstance(topic, str) else None

    def _post(
        self,
        clients: _http.ClientPool,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
    ) -> tuple[int, str, Outcome]:
        """The status and Apple's reason (0 and "" without an answer), and the outcome."""
        try:
            with clients.client() as client:
                response = client.post(url, content=body, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            return 0, "", _http.no_answer("apns", exc, url.rsplit("/", 1)[-1])
        status = response.status_code
        if status == 200:
            return status, "", Outcome(True, detail="apns: status 200")
        reason = _http.json_object(response).get("reason")
        reason = reason if isinstance(reason, str) else ""
        detail = f"apns: status {status} {reason}".rstrip()
        # Only 410 says the device is gone: Apple answers 400 BadDeviceToken or
        # DeviceTokenNotForTopic for any token when the credential is misconfigured, and
        # deleting bindings on those would wipe every device of the app.
        if status == 410:
            return status, reason, Outcome(False, gone=True, detail=detail)
        if status == 400 and reason in _CREDENTIAL_REASONS:
            # The deliverer logs the detail as a push given up.
            hint = "check the credential's Sandbox flag and Topic"
            return status, reason, Outcome(False, detail=f"{detail} ({hint})")
        return status, reason, Outcome(False, retryable=_http.retryable(status), detail=detail)


def _client_context(trust: ssl.SSLContext | None, cert_pem: str, key_pem: str) -> ssl.SSLContext:
    """A TLS context presenting the certificate, trusting the CAs ``trust`` holds."""
    if trust is None:
        context = httpx.create_ssl_context()
    else:
        authorities = trust.get_ca_certs(binary_form=True)
        context = ssl.create_default_context(cadata=b"".join(authorities) or None)
    # ssl loads a certificate chain from files only: a private directory, gone at once.
    with tempfile.TemporaryDirectory(prefix="hubbub-apns-") as directory:
        path = os.path.join(directory, "client.pem")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(key_pem.strip() + "\n" + cert_pem.strip() + "\n")
        try:
            context.load_cert_chain(path)
        except ssl.SSLError as exc:
            raise ValueError(f"the certificate and key do not load: {exc.reason}") from None
    return context
