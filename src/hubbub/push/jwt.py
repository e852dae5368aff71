"""Compact JWTs signed ES256 (APNs provider tokens, VAPID) or RS256 (Google's OAuth2 grant).

Only signing: hubbub makes these tokens for providers and never has to read one back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from hubbub.tokens.encoding import b64url_encode, json_dumps_compact

__all__ = ["es256", "rs256"]


def _signing_input(header: Mapping[str, Any], claims: Mapping[str, Any]) -> bytes:
    head = b64url_encode(json_dumps_compact(dict(header)).encode("utf-8"))
    body = b64url_encode(json_dumps_compact(dict(claims)).encode("utf-8"))
    return head + b"." + body


def es256(key: ec.EllipticCurvePrivateKey, claims: Mapping[str, Any], **header: str) -> str:
    """``claims`` signed with the P-256 ``key``; ``header`` adds fields (``kid``, ``typ``)."""
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("ES256 needs a P-256 key")
    signing_input = _signing_input({"alg": "ES256", **header}, claims)
    der = key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
    # JWS wants r and s as two 32-byte big-endian numbers, not the DER sequence (RFC 7518 3.4).
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return (signing_input + b"." + b64url_encode(signature)).decode("ascii")


def rs256(key: rsa.RSAPrivateKey, claims: Mapping[str, Any], **header: str) -> str:
    """``claims`` signed with the RSA ``key`` (PKCS #1 v1.5, SHA-256)."""
    signing_input = _signing_input({"alg": "RS256", "typ": "JWT", **header}, claims)
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return (signing_input + b"." + b64url_encode(signature)).decode("ascii")
