"""The JWS layer: HMAC signing keys, the Access Token's JOSE header, signatures.

Only the HMAC family is here on purpose. Access Tokens are signed with an API key secret,
so any other ``alg`` (``none`` in every spelling, RS*, ES*, PS*, EdDSA) is refused before a
key is even looked at, which rules out algorithm-confusion attacks by construction.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hubbub.tokens.encoding import b64url_encode, json_dumps_compact

_new_hmac: Callable[..., Any]
try:
    # OpenSSL's HMAC object, which hmac.HMAC wraps in Python. Copying it directly halves the
    # cost of a signature; where it is missing, the hmac module does the same job.
    from _hashlib import hmac_new as _new_hmac
except ImportError:  # pragma: no cover - CPython builds _hashlib wherever OpenSSL is
    _new_hmac = hmac.new

CONTENT_TYPE = "twilio-fpa;v=1"

#: ``alg`` → (hash name, digest size in bytes).
ALGORITHMS: dict[str, tuple[str, int]] = {
    "HS256": ("sha256", hashlib.sha256().digest_size),
    "HS384": ("sha384", hashlib.sha384().digest_size),
    "HS512": ("sha512", hashlib.sha512().digest_size),
}

#: Length of the base64url signature segment for each algorithm.
SIGNATURE_LENGTH = {alg: (size * 4 + 2) // 3 for alg, (_, size) in ALGORITHMS.items()}

_KEY_CACHE_LIMIT = 4096
_keys: dict[tuple[str | bytes, str], Any] = {}


def signing_key(secret: str | bytes, algorithm: str) -> Any:
    """An HMAC object keyed with ``secret``, to be ``copy()``-ed for each message.

    Keying HMAC hashes the padded key once; doing that once per secret rather than once per
    token is a third of the cost of signing a token. The cache is bounded and simply starts
    over when full: secrets are few, and a rebuild costs a microsecond.
    """
    cache_key = (secret, algorithm)
    key = _keys.get(cache_key)
    if key is None:
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        key = _new_hmac(raw, digestmod=ALGORITHMS[algorithm][0])
        if len(_keys) >= _KEY_CACHE_LIMIT:
            _keys.clear()
        _keys[cache_key] = key
    return key


def sign(secret: str | bytes, algorithm: str, signing_input: bytes) -> bytes:
    """The raw HMAC of ``signing_input`` under ``secret``."""
    mac = signing_key(secret, algorithm).copy()
    mac.update(signing_input)
    digest: bytes = mac.digest()
    return digest


_headers: dict[tuple[str, str | None], bytes] = {}


def header_segment(algorithm: str, region: str | None) -> bytes:
    """The encoded header twilio-python 9.x writes: keys sorted, ``twr`` only with a region."""
    cache_key = (algorithm, region)
    segment = _headers.get(cache_key)
    if segment is None:
        header = {"alg": algorithm, "cty": CONTENT_TYPE}
        if region:
            header["twr"] = region
        header["typ"] = "JWT"
        segment = b64url_encode(json_dumps_compact(header).encode("ascii"))
        if len(_headers) >= _KEY_CACHE_LIMIT:
            _headers.clear()
        _headers[cache_key] = segment
    return segment


@dataclass(frozen=True, slots=True)
class Header:
    """A JOSE header that passed every check."""

    algorithm: str
    region: str | None
    fields: dict[str, Any]


def check_header(fields: Any) -> Header:
    """Validate a decoded header; raise ``ValueError`` naming the first problem.

    Accepts any key order (the helper libraries differ) and ignores unknown parameters unless
    ``crit`` asks for them to be understood, as RFC 7515 requires.
    """
    if not isinstance(fields, dict):
        raise ValueError("the header is not a JSON object")
    alg = fields.get("alg")
    if not isinstance(alg, str):
        raise ValueError("the header has no alg")
    if alg not in ALGORITHMS:
        raise ValueError(f"alg {alg!r} is not accepted; Access Tokens use HS256, HS384 or HS512")
    if "typ" in fields and fields["typ"] != "JWT":
        raise ValueError(f"typ {fields['typ']!r} is not JWT")
    if fields.get("cty") != CONTENT_TYPE:
        raise ValueError(f"cty must be {CONTENT_TYPE!r}, not {fields.get('cty')!r}")
    if "crit" in fields:
        raise ValueError(f"crit lists extensions hubbub does not understand: {fields['crit']!r}")
    region = fields.get("twr")
    if region is not None and (not isinstance(region, str) or not region):
        raise ValueError(f"twr must be a region name, not {region!r}")
    return Header(alg, region, fields)
