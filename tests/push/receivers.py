"""Local push providers on 127.0.0.1, over TLS from a test CA, that check what they receive.

Each receiver is an ASGI app served by hypercorn (HTTP/2 and HTTP/1.1 over TLS, by ALPN). It
checks every request as the provider would (signatures first, then claims, headers, payload),
records what it accepted, and answers a scripted status when told to. A request that fails a
check gets a 400 naming the failure, which is also kept in ``problems``.

The checks are written from the RFCs and the providers' documentation, not with the sender's
helpers: the JWT signatures are verified and the Web Push body decrypted here by code of their
own.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypercorn.asyncio import serve
from hypercorn.config import Config

from tests.push.tls import Authority

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


class Clock:
    """The senders' and receivers' clock: the real time, moved forward by hand."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead

    def advance(self, seconds: float) -> None:
        self.ahead += seconds


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    http_version: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | None = None
    #: Seconds to wait before answering (to outlast the sender's timeout).
    delay: float = 0.0


class Rejected(Exception):
    """A check failed: answer ``status`` with ``reason``."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verified_jwt(
    token: str, alg: str, key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of ``token``, read only after its signature is verified."""
    parts = token.split(".")
    if len(parts) != 3:
        raise Rejected("the JWT is not three base64url parts")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    signature = unb64url(parts[2])
    try:
        if alg == "RS256":
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            if len(signature) != 64:
                raise Rejected("the ES256 signature is not 64 bytes (r || s)")
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Rejected("the JWT's signature does not verify", 403) from None
    header = json.loads(unb64url(parts[0]))
    claims = json.loads(unb64url(parts[1]))
    if header.get("alg") != alg:
        raise Rejected(f"the JWT's alg is {header.get('alg')!r}, not {alg}")
    return header, claims


class Receiver(abc.ABC):
    """The ASGI side every receiver shares; subclasses implement :meth:`handle`."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.problems: list[str] = []
        #: Statuses (and bodies) to answer the next requests that pass the checks with.
        self.script: list[Reply] = []
        self.lock = threading.Lock()
        self.base_url = ""

    @abc.abstractmethod
    def handle(self, request: Request) -> Reply:
        """The answer to a request that reached this provider's paths."""

    def scripted(self) -> Reply | None:
        with self.lock:
            return self.script.pop(0) if self.script else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request = Request(scope["method"], scope["path"], scope["http_version"], headers, body)
        try:
            reply = self.handle(request)
        except Rejected as exc:
            with self.lock:
                self.problems.append(exc.reason)
            reply = Reply(exc.status, {"reason": exc.reason})
        if reply.delay:
            await asyncio.sleep(reply.delay)
        payload = json.dumps(reply.body).encode() if reply.body is not None else b""
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@contextmanager
def serving(
    app: Receiver, authority: Authority, directory: Path, *, client_ca: Authority | None = None
) -> Iterator[str]:
    """``app`` served over TLS on 127.0.0.1 (asking for a client certificate from
    ``client_ca`` when given); yields its base URL."""
    cert, key, _ca = authority.server_files(directory)
    config = Config()
    config.certfile, config.keyfile = str(cert), str(key)
    config.graceful_timeout = 0.2
    config.accesslog = None
    config.loglevel = "WARNING"
    if client_ca is not None:
        ca_file = directory / "client-ca.pem"
        ca_file.write_text(client_ca.pem)
        config.ca_certs = str(ca_file)
        config.verify_mode = ssl.CERT_REQUIRED
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    config.bind = [f"fd://{listener.detach()}"]  # hypercorn owns (and closes) it from here
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()

    async def main() -> None:
        started.set()
        await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(5)
    app.base_url = f"https://127.0.0.1:{port}"
    try:
        yield app.base_url
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        # hypercorn waits for clients to close their TLS connections: close them first.
        assert not thread.is_alive(), "a client kept its connection to the receiver open"
        loop.close()


# --- FCM ---------------------------------------------------------------------------------------


@dataclass
class FcmReceiver(Receiver):
    """Google's OAuth2 token endpoint (``/token``) and FCM's ``messages:send``."""

    clock: Clock
    project_id: str
    client_email: str
    public_key: rsa.RSAPublicKey
    #: The ``expires_in`` of the access tokens handed out.
    token_lifetime: int = 3599
    tokens: dict[str, float] = field(default_factory=dict)  # access token -> expiry
    grants: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    bearers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        Receiver.__init__(self, self.clock)

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def revoke_all(self) -> None:
        with self.lock:
            self.tokens.clear()

    def handle(self, request: Request) -> Reply:
        if request.method != "POST":
            raise Rejected("not a POST", 405)
        if request.path == "/token":
            return self._grant(request)
        matched = re.fullmatch(r"/v1/projects/([^/]+)/messages:send", request.path)
        if not matched:
            raise Rejected(f"no such path {request.path}", 404)
        if matched[1] != self.project_id:
            raise Rejected("another project", 403)
        return self._send(request)

    def _grant(self, request: Request) -> Reply:
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            raise Rejected("the token request is not form-encoded")
        form = dict(parse_qsl(request.body.decode("ascii"), strict_parsing=True))
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise Rejected("not the JWT bearer grant")
        _header, claims = verified_jwt(form.get("assertion", ""), "RS256", self.public_key)
        now = self.clock()
        if claims.get("iss") != self.client_email:
            raise Rejected("iss is not the service account")
        if claims.get("scope") != FCM_SCOPE:
            raise Rejected("not the firebase.messaging scope")
        if claims.get("aud") != self.token_uri:
            raise Rejected("aud is not the token URI")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not (isinstance(iat, int) and isinstance(exp, int)):
            raise Rejected("iat or exp is not an integer")
        if not 0 < exp - iat <= 3600 or not exp > now or iat > now + 60:
            raise Rejected("the assertion is expired, from the future or valid too long")
        token = "ya29." + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = now + self.token_lifetime
            self.grants += 1
        body = {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        return Reply(200, body)

    def _send(self, request: Request) -> Reply:
        bearer = request.headers.get("authorization", "")
        token = bearer.removeprefix("Bearer ")
        with self.lock:
            expiry = self.tokens.get(token)
        if not bearer.startswith("Bearer ") or expiry is None or expiry <= self.clock():
            return Reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise Rejected("the message is not JSON")
        message = json.loads(request.body).get("message")
        if not isinstance(message, dict) or not isinstance(message.get("token"), str):
            raise Rejected("no message.token")
        data = message.get("data")
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise Rejected("message.data is not an object of strings")
        if "twi_message_type" not in data:
            raise Rejected("no twi_message_type in data")
        if len(json.dumps(data, separators=(",", ":")).encode()) > 4096:
            raise Rejected("data over 4096 bytes")
        with self.lock:
            self.messages.append(message)
            self.bearers.append(token)
        reply = self.scripted()
        if reply is not None:
            return reply
        return Reply(200, {"name": f"projects/{self.project_id}/messages/{len(self.messages)}"})


def fcm_error(status: int, code: str, grpc: str, **extra: Any) -> Reply:
    """An FCM v1 error answer, as Google writes them."""
    details: list[dict[str, Any]] = [
        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}
    ]
    if extra:
        details.append(extra)
    error = {"code": status, "message": "Requested entity was not found.", "status": grpc}
    return Reply(status, {"error": {**error, "details": details}})


# --- APNs --------------------------------------------------------------------------------------


@dataclass
class Delivered:
    device: str
    headers: dict[str, str]
    payload: dict[str, Any]
    size: int


@dataclass
class ApnsReceiver(Receiver):
    """APNs' ``/3/device/{token}``: provider tokens (``public_key`` given) or, when the
    server is run asking for client certificates, none."""

    clock: Clock
    topic: str
    team_id: str = ""
    key_id: str = ""
    public_key: ec.EllipticCurvePublicKey | None = None
    delivered: list[Delivered] = field(default_factory=list)
    provider_tokens: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        Receiver.__init__(self, self.clock)

    def handle(self, request: Request) -> Reply:
        if request.http_version != "2":
            raise Rejected(f"HTTP/{request.http_version}, not HTTP/2")
        if request.method != "POST":
            raise Rejected("not a POST", 405)
        matched = re.fullmatch(r"/3/device/([0-9a-fA-F]+)", request.path)
        if not matched:
            raise Rejected(f"no such path {request.path}", 404)
        headers = request.headers
        if self.public_key is not None:
            self._check_provider_token(headers.get("authorization", ""))
        elif "authorization" in headers:
            raise Rejected("an authorization header over a certificate connection")
        if headers.get("apns-topic") != self.topic:
            raise Rejected("DeviceTokenNotForTopic: apns-topic is not the app's")
        push_type = headers.get("apns-push-type")
        if push_type not in ("alert", "background"):
            raise Rejected("InvalidPushType")
        if headers.get("apns-priority") != ("10" if push_type == "alert" else "5"):
            raise Rejected("BadPriority")
        expiration = headers.get("apns-expiration", "")
        if not expiration.isdigit() or int(expiration) < self.clock():
            raise Rejected("BadExpirationDate")
        if len(request.body) > 4096:
            raise Rejected("PayloadTooLarge", 413)
        payload = json.loads(request.body)
        aps = payload.get("aps")
        if not isinstance(aps, dict) or not isinstance(payload.get("twi_message_type"), str):
            raise Rejected("no aps or twi_message_type")
        alert = aps.get("alert")
        if push_type == "alert" and not (isinstance(alert, (str, dict))):
            raise Rejected("an alert push without an alert")
        with self.lock:
            self.delivered.append(Delivered(matched[1], headers, payload, len(request.body)))
        return self.scripted() or Reply(200)

    def _check_provider_token(self, authorization: str) -> None:
        if not authorization.startswith("bearer "):
            raise Rejected("MissingProviderToken", 403)
        token = authorization.removeprefix("bearer ")
        assert self.public_key is not None
        header, claims = verified_jwt(token, "ES256", self.public_key)
        if header.get("kid") != self.key_id:
            raise Rejected("InvalidProviderToken: kid", 403)
        if claims.get("iss") != self.team_id:
            raise Rejected("InvalidProviderToken: iss", 403)
        iat = claims.get("iat")
        if not isinstance(iat, int) or iat > self.clock() + 60:
            raise Rejected("InvalidProviderToken: iat", 403)
        with self.lock:
            self.provider_tokens.append(token)
        if self.clock() - iat > 3600:
            raise Rejected("ExpiredProviderToken", 403)


def apns_error(status: int, reason: str) -> Reply:
    return Reply(status, {"reason": reason})


# --- Web Push ----------------------------------------------------------------------------------


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def decrypt_aes128gcm(body: bytes, ua_key: ec.EllipticCurvePrivateKey, auth: bytes) -> bytes:
    """RFC 8291 + RFC 8188 decryption, as a browser does it (HKDF spelled out with HMAC)."""
    salt, record_size, id_length = body[:16], *struct.unpack("!IB", body[16:21])
    sender_point = body[21 : 21 + id_length]
    if id_length != 65:
        raise Rejected("the key id is not a 65-byte P-256 point")
    ua_point = ua_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_point)
    shared = ua_key.exchange(ec.ECDH(), sender)
    # HKDF-Extract then one block of HKDF-Expand, each time (RFC 5869).
    ikm = _hmac(_hmac(auth, shared), b"WebPush: info\x00" + ua_point + sender_point + b"\x01")
    prk = _hmac(salt, ikm)
    cek = _hmac(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
    base_nonce = _hmac(prk, b"Content-Encoding: nonce\x00\x01")[:12]
    records = body[21 + id_length :]
    plaintext = b""
    for sequence, start in enumerate(range(0, len(records), record_size)):
        nonce = (int.from_bytes(base_nonce, "big") ^ sequence).to_bytes(12, "big")
        chunk = AESGCM(cek).decrypt(nonce, records[start : start + record_size], None)
        last = start + record_size >= len(records)
        content = chunk.rstrip(b"\x00")
        if not content or content[-1:] != (b"\x02" if last else b"\x01"):
            raise Rejected("a record's padding delimiter is wrong")
        plaintext += content[:-1]
    return plaintext


@dataclass
class Subscriber:
    """A browser's side of one subscription: its keys, and its endpoint's path."""

    path: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    def subscription(self, base_url: str) -> str:
        """What ``PushSubscription.toJSON()`` gives, as JSON text."""
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        endpoint = f"{base_url}{self.path}"
        keys = {"p256dh": b64url(point), "auth": b64url(self.auth)}
        return json.dumps({"endpoint": endpoint, "expirationTime": None, "keys": keys})


@dataclass
class Pushed:
    path: str
    headers: dict[str, str]
    message: dict[str, Any]
    size: int
    claims: dict[str, Any]


@dataclass
class WebPushReceiver(Receiver):
    """A push service: verifies VAPID against ``vapid_key`` (base64url) and decrypts."""

    clock: Clock
    vapid_key: str
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    pushed: list[Pushed] = field(default_factory=list)
    #: The salt and the sender's public key of each body that decrypted.
    salts: list[bytes] = field(default_factory=list)
    sender_keys: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        Receiver.__init__(self, self.clock)

    def subscribe(self) -> str:
        subscriber = Subscriber(f"/push/{secrets.token_urlsafe(12)}")
        self.subscribers[subscriber.path] = subscriber
        return subscriber.subscription(self.base_url)

    def handle(self, request: Request) -> Reply:
        if request.method != "POST":
            raise Rejected("not a POST", 405)
        subscriber = self.subscribers.get(request.path)
        if subscriber is None:
            raise Rejected("no such subscription", 404)
        headers = request.headers
        claims = self._check_vapid(headers.get("authorization", ""))
        if headers.get("content-encoding") != "aes128gcm":
            raise Rejected("not aes128gcm")
        if not headers.get("ttl", "").isdigit():
            raise Rejected("no TTL")
        if headers.get("urgency") not in ("very-low", "low", "normal", "high"):
            raise Rejected("no valid Urgency")
        if len(request.body) > 4096:
            raise Rejected("the body is over 4096 bytes", 413)
        try:
            plaintext = decrypt_aes128gcm(request.body, subscriber.key, subscriber.auth)
        except ValueError:
            raise Rejected("the body does not decrypt") from None
        message = json.loads(plaintext)
        if not isinstance(message, dict) or "twi_message_type" not in message:
            raise Rejected("no twi_message_type in the message")
        with self.lock:
            self.pushed.append(Pushed(request.path, headers, message, len(request.body), claims))
            self.salts.append(request.body[:16])
            self.sender_keys.append(request.body[21:86])
        return self.scripted() or Reply(201)

    def _check_vapid(self, authorization: str) -> dict[str, Any]:
        matched = re.fullmatch(r"vapid t=([\w.-]+), k=([\w-]+)", authorization)
        if not matched:
            raise Rejected("no vapid t=…, k=… authorization", 401)
        token, key = matched[1], matched[2]
        if key != self.vapid_key:
            raise Rejected("k is not the application server key the browser knows", 403)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        _header, claims = verified_jwt(token, "ES256", public)
        now = self.clock()
        if claims.get("aud") != self.base_url:
            raise Rejected("aud is not this push service's origin", 403)
        exp = claims.get("exp")
        if not isinstance(exp, int) or not now < exp <= now + 24 * 3600:
            raise Rejected("exp is past or more than 24 hours ahead", 403)
        subject = claims.get("sub", "")
        if not isinstance(subject, str) or not subject.startswith(("mailto:", "https:")):
            raise Rejected("sub is not a mailto: or https: URL", 403)
        return claims
