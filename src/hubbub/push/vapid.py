"""RFC 8292 VAPID: the ``Authorization`` header that identifies hubbub to a push service."""

from __future__ import annotations

from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from hubbub.push.jwt import es256
from hubbub.push.keys import vapid_public_key

__all__ = ["LIFETIME", "authorization", "origin"]

#: How long a VAPID token is valid; RFC 8292 section 2 allows 24 hours at most, and a push
#: service's clock may run ahead of ours.
LIFETIME = 12 * 3600
_DEFAULT_PORTS = {"https": 443, "http": 80}


def origin(url: str) -> str:
    """The ASCII serialisation of ``url``'s origin (RFC 6454): the token's audience."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def authorization(key: ec.EllipticCurvePrivateKey, endpoint: str, subject: str, now: float) -> str:
    """``vapid t=<JWT>, k=<public key>`` for a push to ``endpoint`` at time ``now``."""
    claims = {"aud": origin(endpoint), "exp": int(now) + LIFETIME, "sub": subject}
    token = es256(key, claims, typ="JWT")
    return f"vapid t={token}, k={vapid_public_key(key)}"
