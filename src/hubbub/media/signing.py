"""Temporary links to media bytes: ``…/Content?Expires=<unix>&Signature=<mac>``.

The link itself is the credential (an ``<img src>`` sends no header), so it names one media of
one service, lasts minutes, and is signed with a key derived from the master key: every worker
and node derives the same one, and rotating the master key ends every link. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from hubbub.tokens.encoding import b64url_encode

#: How long a temporary link works, in seconds.
TTL = 300
#: The purpose the key is derived for (``hubbub.auth.cookies.derive_key``).
PURPOSE = "media-url"
_EXPIRES = re.compile(r"[0-9]{1,12}")


class Signer:
    def __init__(self, key: bytes, ttl: int = TTL) -> None:
        self._key = key
        self.ttl = ttl

    def _mac(self, service_sid: str, media_sid: str, expires: int) -> str:
        message = f"{service_sid}/{media_sid}/{expires}".encode()
        return b64url_encode(hmac.digest(self._key, message, hashlib.sha256)).decode()

    def sign(self, service_sid: str, media_sid: str, now: float) -> tuple[int, str]:
        """``(expires, signature)`` for a link made at ``now``."""
        expires = int(now) + self.ttl
        return expires, self._mac(service_sid, media_sid, expires)

    def check(
        self, service_sid: str, media_sid: str, expires: str, signature: str, now: float
    ) -> bool:
        """Whether the link's ``Expires`` and ``Signature`` hold at ``now``: signed by this key
        for this media, not expired, and not made to last longer than links do."""
        # ASCII digits only: str.isdigit takes "²", which int() refuses.
        if _EXPIRES.fullmatch(expires) is None:
            return False
        when = int(expires)
        expected = self._mac(service_sid, media_sid, when)
        valid = hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
        return valid and now <= when <= now + self.ttl + 60
