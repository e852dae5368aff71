"""Strict verification of Access Tokens minted by any of Twilio's helper libraries.

Tokens are checked by content, never by bytes: twilio-python 6.x and 9.x and twilio-node each
order the header and claims differently. The order of the checks is the point of this module:

1. shape: size, three base64url segments in their one canonical spelling;
2. header: an HMAC ``alg``, ``cty: twilio-fpa;v=1``, no ``crit`` (cached per header segment);
3. ``iss`` is read from the payload only to choose the key; its secret is looked up;
4. the signature, compared in constant time;
5. only then are the claims trusted and checked: account, times, grants.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hubbub import sids
from hubbub.tokens import jws
from hubbub.tokens.claims import (
    DEFAULT_LEEWAY,
    MAX_LIFETIME,
    check_leeway,
    now_seconds,
    relative,
    span,
    timestamp,
)
from hubbub.tokens.encoding import DuplicateKey, b64url_decode, b64url_encode, json_loads_strict
from hubbub.tokens.errors import (
    InvalidGrants,
    InvalidHeader,
    InvalidIssuer,
    InvalidSignature,
    LifetimeTooLong,
    MalformedToken,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
)

#: Tokens longer than this are refused unread. Real ones are 400-1,000 characters.
MAX_TOKEN_LENGTH = 8192

SecretLookup = Mapping[str, str | bytes] | Callable[[str], str | bytes | None]


@dataclass(slots=True)
class VerifiedToken:
    """The facts of a token whose signature and claims checked out. Times are Unix seconds.

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__``, which
    would be a fifth of the cost of verifying a token.
    """

    identity: str | None
    account_sid: str
    key_sid: str
    grants: dict[str, Any]
    issued_at: int | None
    not_before: int | None
    expires_at: int
    region: str | None
    algorithm: str
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def chat_service_sid(self) -> str | None:
        """The Chat Service the token grants access to, if it has a Chat grant."""
        chat = self.grants.get("chat")
        return chat.get("service_sid") if isinstance(chat, dict) else None


_header_cache: dict[str, jws.Header] = {}
_HEADER_CACHE_LIMIT = 256


def parse_header(segment: str) -> jws.Header:
    """Decode and check a header segment; the few distinct headers in use are cached."""
    header = _header_cache.get(segment)
    if header is not None:
        return header
    try:
        fields = json_loads_strict(b64url_decode(segment))
    except DuplicateKey as exc:
        raise InvalidHeader(f"the header has a {exc}") from None
    except ValueError as exc:
        raise InvalidHeader(f"the header is not base64url JSON ({exc})") from None
    try:
        header = jws.check_header(fields)
    except ValueError as exc:
        raise InvalidHeader(str(exc), header=fields if isinstance(fields, dict) else None) from None
    if len(_header_cache) >= _HEADER_CACHE_LIMIT:
        _header_cache.clear()
    _header_cache[segment] = header
    return header


def parse_claims(segment: str, header: dict[str, Any] | None = None) -> dict[str, Any]:
    """Decode the payload segment into a claims object, unverified."""
    try:
        claims = json_loads_strict(b64url_decode(segment))
    except DuplicateKey as exc:
        raise MalformedToken(f"the payload has a {exc}", header=header) from None
    except ValueError as exc:
        raise MalformedToken(f"the payload is not base64url JSON ({exc})", header=header) from None
    if not isinstance(claims, dict):
        raise MalformedToken("the payload is not a JSON object", header=header)
    return claims


def _split(token: object) -> list[str]:
    if type(token) is not str:
        raise MalformedToken(f"a token is a string, not {type(token).__name__}")
    if len(token) > MAX_TOKEN_LENGTH:
        raise MalformedToken(
            f"the token is {len(token)} characters; at most {MAX_TOKEN_LENGTH} are read"
        )
    if not token.isascii():
        raise MalformedToken("a token is ASCII; this one holds other characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedToken(
            f"a JWT has 3 dot-separated parts, this has {len(parts)}"
            + ("; is it empty?" if not token.strip() else "")
        )
    return parts


def parse(token: object) -> tuple[jws.Header, dict[str, Any], str]:
    """Split a token and decode its header and claims, checking their form; trust nothing.

    Returns the header, the *unverified* claims and the signature segment.
    """
    header_segment, payload_segment, signature_segment = _split(token)
    header = _header_cache.get(header_segment) or parse_header(header_segment)
    algorithm = header.algorithm
    if len(signature_segment) != jws.SIGNATURE_LENGTH[algorithm]:
        raise InvalidSignature(
            f"an {algorithm} signature is {jws.SIGNATURE_LENGTH[algorithm]} characters, "
            f"this one {len(signature_segment)}"
            + ("; was the token cut short?" if signature_segment else ""),
            header=header.fields,
        )
    return header, parse_claims(payload_segment, header.fields), signature_segment


def verify(
    token: str,
    secrets: SecretLookup,
    *,
    account_sid: str | None = None,
    now: int | None = None,
    leeway: int = DEFAULT_LEEWAY,
) -> VerifiedToken:
    """Verify ``token`` and return its facts, or raise a ``TokenError`` with Twilio's code.

    ``secrets`` maps API Key SIDs to secrets, or is a callable returning the secret for a key
    SID, ``None`` for a key that is unknown or revoked. ``account_sid``, when given, is the
    only account accepted as ``sub``. ``leeway`` (0-60 s) forgives that much clock skew on
    ``exp`` and ``nbf``.
    """
    check_leeway(leeway)
    header, claims, signature_segment = parse(token)
    algorithm = header.algorithm
    key_sid = claims.get("iss")
    if not sids.is_sid(key_sid, sids.API_KEY):
        raise InvalidIssuer(
            f"iss must be an API Key SID (SK + 32 hex digits), not {key_sid!r}",
            header=header.fields,
            claims=claims,
        )
    secret = secrets(key_sid) if callable(secrets) else secrets.get(key_sid)
    if not secret:
        raise InvalidIssuer(
            f"the API key {key_sid} is unknown or revoked", header=header.fields, claims=claims
        )
    # Comparing encoded signatures spares decoding the given one, and is as strict: only the
    # one canonical spelling of the right MAC is equal to it.
    signing_input = token[: -len(signature_segment) - 1].encode("ascii")  # header.payload
    expected = b64url_encode(jws.sign(secret, algorithm, signing_input))
    if not hmac.compare_digest(expected, signature_segment.encode("ascii")):
        try:
            b64url_decode(signature_segment)
        except ValueError:
            problem = "the signature is not canonical base64url"
        else:
            problem = (
                f"the signature does not match the secret of {key_sid}; "
                "the token was altered or signed with another key's secret"
            )
        raise InvalidSignature(problem, header=header.fields, claims=claims)
    return _check_claims(header, claims, account_sid, now_seconds() if now is None else now, leeway)


def check_claims(
    header: jws.Header,
    claims: dict[str, Any],
    *,
    account_sid: str | None = None,
    now: int | None = None,
    leeway: int = DEFAULT_LEEWAY,
) -> VerifiedToken:
    """Check the claims of a token whose signature already verified."""
    check_leeway(leeway)
    return _check_claims(header, claims, account_sid, now_seconds() if now is None else now, leeway)


def _check_claims(
    header: jws.Header, claims: dict[str, Any], account_sid: str | None, now: int, leeway: int
) -> VerifiedToken:
    key_sid = claims.get("iss")
    if not sids.is_sid(key_sid, sids.API_KEY):
        raise _fail(
            InvalidIssuer,
            f"iss must be an API Key SID (SK + 32 hex digits), not {key_sid!r}",
            header,
            claims,
        )
    subject = claims.get("sub")
    if not sids.is_sid(subject, sids.ACCOUNT):
        raise _fail(
            InvalidIssuer,
            f"sub must be an Account SID (AC + 32 hex digits), not {subject!r}",
            header,
            claims,
        )
    if account_sid is not None and subject != account_sid:
        raise _fail(
            InvalidIssuer, f"the token is for account {subject}, not {account_sid}", header, claims
        )

    exp = claims.get("exp")
    if type(exp) is not int:
        problem = (
            "the token has no exp"
            if exp is None
            else f"exp must be whole Unix seconds, not {exp!r}"
        )
        raise _fail(TokenExpired, problem, header, claims)
    nbf = claims.get("nbf")
    iat = claims.get("iat")
    jti = claims.get("jti")
    if nbf is not None and type(nbf) is not int:
        raise _fail(MalformedToken, f"nbf must be whole Unix seconds, not {nbf!r}", header, claims)
    if iat is not None and type(iat) is not int:
        raise _fail(MalformedToken, f"iat must be whole Unix seconds, not {iat!r}", header, claims)
    if jti is not None and type(jti) is not str:
        raise _fail(MalformedToken, f"jti must be a string, not {jti!r}", header, claims)

    if now - leeway >= exp:
        raise _fail(
            TokenExpired,
            f"expired {span(now - exp)} ago at {timestamp(exp)}; mint a new token (if it was "
            "just minted, the clock of the minting server may be off)",
            header,
            claims,
        )
    if nbf is not None and exp <= nbf:
        raise _fail(TokenExpired, f"exp ({exp}) is not after nbf ({nbf})", header, claims)
    if nbf is not None and now + leeway < nbf:
        raise _fail(
            TokenNotYetValid,
            f"not valid until {relative(nbf, now)}; "
            "the clock of the minting server is probably ahead of this one",
            header,
            claims,
        )
    start = nbf if nbf is not None else iat if iat is not None else now
    # Counted from this server's clock, the lifetime gets the same forgiveness as the expiry.
    slack = leeway if nbf is None and iat is None else 0
    if exp - start > MAX_LIFETIME + slack:
        raise _fail(
            LifetimeTooLong,
            f"the token lives {span(exp - start)} ({exp - start} s); the maximum is 24 h",
            header,
            claims,
        )

    grants = claims.get("grants")
    if type(grants) is not dict:
        raise _fail(InvalidGrants, "grants must be a JSON object", header, claims)
    identity = grants.get("identity")
    if identity is not None and type(identity) is not str:
        raise _fail(InvalidGrants, f"identity must be a string, not {identity!r}", header, claims)
    chat = grants.get("chat")
    if chat is not None:
        _check_chat_grant(chat, identity, header, claims)

    return VerifiedToken(
        identity or None,
        subject,
        key_sid,
        grants,
        iat,
        nbf,
        exp,
        header.region,
        header.algorithm,
        header.fields,
        claims,
    )


def _check_chat_grant(
    chat: object, identity: str | None, header: jws.Header, claims: dict[str, Any]
) -> None:
    if type(chat) is not dict:
        raise _fail(InvalidGrants, "the chat grant must be a JSON object", header, claims)
    if not identity:
        raise _fail(
            InvalidGrants, "a chat grant needs an identity, and this token has none", header, claims
        )
    service_sid = chat.get("service_sid")
    if not sids.is_sid(service_sid, sids.CHAT_SERVICE):
        raise _fail(
            InvalidGrants,
            f"the chat grant needs service_sid, a Chat Service SID, not {service_sid!r}",
            header,
            claims,
        )


def _fail(
    cls: type[TokenError], message: str, header: jws.Header, claims: dict[str, Any]
) -> TokenError:
    return cls(message, header=header.fields, claims=claims)


def decode_unverified(token: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Header and claims as far as they decode, *without verifying anything*: for display."""
    parts = token.strip().split(".") if isinstance(token, str) else []
    decoded: list[dict[str, Any] | None] = []
    for part in parts[:2]:
        try:
            value = json_loads_strict(b64url_decode(part))
        except ValueError:
            value = None
        decoded.append(value if isinstance(value, dict) else None)
    decoded += [None] * (2 - len(decoded))
    return decoded[0], decoded[1]
