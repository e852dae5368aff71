"""Session cookies: a random secret and its HMAC, checked before anything is looked up.

The cookie value is ``<secret>.<mac>``, both URL-safe base64. The server keeps only the
SHA-256 of the secret, so a copy of the database lets nobody sign in, and a forged or
altered cookie is refused by one HMAC without touching the database. No I/O here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from hubbub.tokens.encoding import b64url_encode

COOKIE_NAME = "hubbub_session"
HOST_PREFIX = "__Host-"
_MAC_BYTES = 16  # 128 bits: forging takes 2**128 guesses
_MAX_LENGTH = 256


def derive_key(master_key: str, purpose: str = "session-cookie") -> bytes:
    """A key for one ``purpose`` derived from the master key (its newest key only), so that the
    cookie key changes when the master key does and no second secret needs managing."""
    newest = master_key.replace(",", " ").split()[0]
    return hmac.digest(newest.encode("utf-8"), f"hubbub/{purpose}/v1".encode(), hashlib.sha256)


def _b64(data: bytes) -> str:
    return b64url_encode(data).decode("ascii")


class SessionCookies:
    """Makes and checks session cookie values. ``keys``: newest first; any of them verifies, the
    first signs (key rotation without signing everybody out)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one cookie key is needed")
        self._keys = tuple(keys)

    def new(self) -> tuple[str, str]:
        """A fresh ``(cookie value, secret hash to store)``."""
        secret = secrets.token_urlsafe(24)
        return f"{secret}.{self._mac(self._keys[0], secret)}", secret_hash(secret)

    def open(self, value: str) -> str | None:
        """The stored hash a cookie value stands for, or ``None`` if it was not signed here."""
        # Every token request comes through here: one flat function, no helpers.
        if len(value) > _MAX_LENGTH:
            return None
        secret, dot, mac = value.partition(".")
        if not dot or not secret or not secret.isascii() or not mac.isascii():
            return None
        raw = secret.encode("ascii")
        given = mac.encode("ascii")
        for key in self._keys:
            expected = b64url_encode(hmac.digest(key, raw, "sha256")[:_MAC_BYTES])
            if hmac.compare_digest(expected, given):
                return hashlib.sha256(raw).hexdigest()
        return None

    @staticmethod
    def _mac(key: bytes, secret: str) -> str:
        return _b64(hmac.digest(key, secret.encode("ascii"), "sha256")[:_MAC_BYTES])


def secret_hash(secret: str) -> str:
    """What the store keeps for a session secret or a bearer token: its SHA-256 in hex.

    These are 192+ random bits, so a fast hash is enough: nobody can enumerate the inputs.
    """
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def cookie_name(secure: bool, base: str = COOKIE_NAME) -> str:
    """The session cookie's name: ``__Host-`` prefixed over https, so that browsers accept it
    only host-only, ``Secure`` and on ``Path=/`` (no sibling subdomain or plain-http page can
    set one); the bare name over http, where browsers refuse that prefix."""
    return HOST_PREFIX + base if secure else base


def cookie_values(header: str, name: str) -> list[str]:
    """Every value of cookie ``name`` in a ``Cookie`` request header, in order (a browser
    sends several when cookies of one name were set for other domains or paths)."""
    prefix = name + "="
    values: list[str] = []
    start = 0
    while True:
        at = header.find(prefix, start)
        if at < 0:
            return values
        if at == 0 or header[at - 1] in "; ":
            end = header.find(";", at)
            value = header[at + len(prefix) : end if end >= 0 else len(header)]
            values.append(value.strip().strip('"'))
        start = at + len(prefix)


def set_cookie(value: str, *, max_age: int, secure: bool, name: str = COOKIE_NAME) -> str:
    """The ``Set-Cookie`` header value that stores a session cookie in the browser."""
    flags = "; Secure" if secure else ""
    return (
        f"{cookie_name(secure, name)}={value}; Path=/; Max-Age={max_age}; HttpOnly; "
        f"SameSite=Lax{flags}"
    )


def clear_cookie(*, secure: bool, name: str = COOKIE_NAME) -> str:
    """The ``Set-Cookie`` header value that removes the session cookie."""
    flags = "; Secure" if secure else ""
    return f"{cookie_name(secure, name)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{flags}"


def same_origin(origin: str | None, scheme: str, host: str | None) -> bool:
    """Whether a request's ``Origin`` header (if any) names the server itself.

    No ``Origin`` passes: browsers send one on every cross-site POST, and tools like curl or
    wrk send none (they carry no ambient cookies to abuse). ``null`` never passes.
    """
    if origin is None:
        return True
    if host is None:
        return False
    return origin.lower() == f"{scheme}://{host}".lower()
