"""Secrets at rest: sealed with a master key, and auth tokens hashed for checking.

API key secrets must come back in clear (they are the HMAC keys that sign access tokens), and so
must auth tokens (they sign webhooks), so both are encrypted with Fernet (AES-128-CBC with
HMAC-SHA256) under a master key. Basic auth only compares an auth token, so it checks it against
a hash: checking never needs to open the sealed copy.

The master key may be a list of keys, newest first (comma or whitespace separated): new values are
sealed with the newest, and any of them opens old ones, so keys can be rotated without downtime.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = [
    "DecryptionError",
    "InvalidKey",
    "SecretBox",
    "check_auth_token",
    "generate_key",
    "hash_auth_token",
    "load_master_key",
]

KeyMaterial = str | bytes


class InvalidKey(ValueError):
    """The master key is missing or is not a Fernet key."""


class DecryptionError(ValueError):
    """No key opens a sealed value: another master key sealed it, or it was altered."""


def generate_key() -> str:
    """A new random master key (32 bytes, URL-safe base64)."""
    return Fernet.generate_key().decode("ascii")


def _split(keys: KeyMaterial | Sequence[KeyMaterial]) -> list[str]:
    if isinstance(keys, str | bytes):
        text = keys.decode("ascii", "replace") if isinstance(keys, bytes) else keys
        return [part for part in re.split(r"[\s,]+", text) if part]
    return [key.decode("ascii", "replace") if isinstance(key, bytes) else key for key in keys]


def _fernets(keys: KeyMaterial | Sequence[KeyMaterial], source: str) -> list[Fernet]:
    parts = _split(keys)
    if not parts:
        raise InvalidKey(f"no master key in {source}")
    fernets = []
    for number, key in enumerate(parts, 1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, binascii.Error):
            # Never echo the key itself: this message may end up in a log.
            raise InvalidKey(
                f"master key #{number} in {source} is not a Fernet key "
                "(32 bytes in URL-safe base64; make one with hubbub.crypto.generate_key())"
            ) from None
    return fernets


class SecretBox:
    """Seals short secrets for storage. ``keys``: one key, or several (newest first) to rotate."""

    def __init__(self, keys: KeyMaterial | Sequence[KeyMaterial]) -> None:
        self._fernet = MultiFernet(_fernets(keys, "the keys given"))

    def encrypt(self, plaintext: str) -> str:
        """``plaintext`` sealed with the newest key, as ASCII text."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, sealed: str) -> str:
        """The plaintext of ``sealed``; :class:`DecryptionError` if no key opens it."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise DecryptionError(
                "cannot decrypt a stored secret: it was sealed with another master key, or altered"
            ) from None

    def rotate(self, sealed: str) -> str:
        """``sealed`` re-sealed with the newest key (to retire older keys afterwards)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise DecryptionError("cannot re-seal: no master key opens this value") from None


def load_master_key(path: str | os.PathLike[str], env: str | None = "HUBBUB_MASTER_KEY") -> str:
    """The master key(s): from the environment variable ``env`` when set, else from the file.

    A missing file is created with a new key, readable by its owner only (mode 0600). Concurrent
    first starts agree on one key: whoever links its file first wins and the others read it.
    """
    if env is not None:
        value = os.environ.get(env, "").strip()
        if value:
            _fernets(value, f"${env}")
            return value
    key_file = Path(path)
    try:
        text = key_file.read_text("ascii").strip()
    except FileNotFoundError:
        return _create_key_file(key_file)
    _fernets(text, str(key_file))
    return text


def _create_key_file(path: Path) -> str:
    key = generate_key()
    # The key is written in full to a private temporary file, then hard-linked into place: the
    # file never exists with other permissions, and no reader can see it half written. O_EXCL
    # refuses to follow or reuse anything already at the temporary name.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            # The umask may only have removed bits; make it exactly owner read/write.
            os.fchmod(fd, 0o600)
            os.write(fd, f"{key}\n".encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)
        except FileExistsError:
            # Another process created it first; use its key.
            return load_master_key(path, env=None)
    finally:
        temporary.unlink(missing_ok=True)
    return key


# Auth tokens are 32 random hex characters (128 bits), so a slow password hash (bcrypt, argon2,
# scrypt with a high cost) buys nothing: nobody can enumerate 2**128 guesses however fast the hash
# is. A slow hash would instead cost milliseconds on every Basic-auth request. One HMAC-SHA256 keyed
# with a random per-token salt takes about a microsecond; the salt makes equal tokens store
# differently, and the scheme prefix leaves room to change the method later.
_SCHEME = "hmac-sha256"


def hash_auth_token(token: str) -> str:
    """What to store for ``token``: ``hmac-sha256$<salt hex>$<digest hex>``."""
    salt = secrets.token_bytes(16)
    digest = hmac.digest(salt, token.encode("utf-8"), hashlib.sha256)
    return f"{_SCHEME}${salt.hex()}${digest.hex()}"


def check_auth_token(token: str, stored: str) -> bool:
    """Whether ``token`` is the one ``stored`` was made from (compared in constant time)."""
    scheme, _, rest = stored.partition("$")
    salt_hex, _, digest_hex = rest.partition("$")
    try:
        salt = bytes.fromhex(salt_hex)
        expected = bytes.fromhex(digest_hex)
    except ValueError:
        salt = expected = b""
    if scheme != _SCHEME or not salt or len(expected) != hashlib.sha256().digest_size:
        raise ValueError("not an auth token hash made by hash_auth_token()")
    actual = hmac.digest(salt, token.encode("utf-8"), hashlib.sha256)
    return hmac.compare_digest(actual, expected)
