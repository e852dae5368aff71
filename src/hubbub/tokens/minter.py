"""The minting hot path: everything that depends only on the API key is done once.

A ``Minter`` holds one key's keyed HMAC, encoded header and the fixed parts of the payload,
so a token costs a clock read, one JSON encoding of the grants, two base64 encodings and
one HMAC. ``AccessToken`` mints through a cached ``Minter``; servers that mint many tokens
(hubbub's token endpoint) hold one directly and call ``chat_token``.
"""

from __future__ import annotations

from typing import Any

from hubbub import identities, sids
from hubbub.tokens import jws
from hubbub.tokens.claims import DEFAULT_TTL, MAX_LIFETIME, now_seconds
from hubbub.tokens.encoding import b64url_encode, json_dumps_compact, json_escape
from hubbub.tokens.errors import (
    InvalidGrants,
    InvalidHeader,
    InvalidIssuer,
    InvalidSignature,
    LifetimeTooLong,
    TokenExpired,
)

_SERVICE_CACHE_LIMIT = 1024


class Minter:
    """Mints Access Tokens signed with one API key of one account."""

    __slots__ = ("_header", "_iss", "_jti", "_key", "_services", "_sub", "account_sid", "key_sid")

    def __init__(
        self,
        account_sid: str,
        key_sid: str,
        secret: str | bytes,
        *,
        region: str | None = None,
        algorithm: str = "HS256",
    ) -> None:
        if not sids.is_sid(account_sid, sids.ACCOUNT):
            raise InvalidIssuer(
                f"account_sid must be an Account SID (AC + 32 hex digits), not {account_sid!r}"
            )
        if not sids.is_sid(key_sid, sids.API_KEY):
            raise InvalidIssuer(
                f"signing_key_sid must be an API Key SID (SK + 32 hex digits), not {key_sid!r}"
            )
        if not secret or not isinstance(secret, str | bytes):
            raise InvalidSignature("no API key secret to sign with")
        if algorithm not in jws.ALGORITHMS:
            raise InvalidHeader(f"cannot sign with {algorithm!r}; use HS256, HS384 or HS512")
        if region is not None and not isinstance(region, str):
            raise InvalidHeader(f"region must be a string, not {region!r}")
        self.account_sid = account_sid
        self.key_sid = key_sid
        self._key = jws.signing_key(secret, algorithm)
        self._header = jws.header_segment(algorithm, region or None) + b"."
        # SIDs are plain ASCII by the checks above, so they need no JSON escaping.
        self._jti = f'{{"jti":"{key_sid}-'
        self._iss = f',"iss":"{key_sid}","exp":'
        self._sub = f',"sub":"{account_sid}"}}'
        self._services: set[str] = set()

    def encode(self, grants_json: str, now: int, exp: int, nbf: int | None) -> str:
        """Sign a token whose ``grants`` object is already JSON. Nothing is checked here."""
        nbf_part = "" if nbf is None else f',"nbf":{nbf}'
        payload = f'{self._jti}{now}","grants":{grants_json}{self._iss}{exp}{nbf_part}{self._sub}'
        signing_input = self._header + b64url_encode(payload.encode("ascii"))
        mac = self._key.copy()
        mac.update(signing_input)
        return (signing_input + b"." + b64url_encode(mac.digest())).decode("ascii")

    def mint(
        self,
        grants: dict[str, Any],
        *,
        now: int,
        exp: int,
        nbf: int | None,
    ) -> str:
        """Check a whole claim set as a Chat Service would, then sign it."""
        identity = grants.get("identity")
        if identity is not None and not isinstance(identity, str):
            raise InvalidGrants(f"identity must be a string, not {type(identity).__name__}")
        if "chat" in grants:
            chat = grants["chat"]
            self._check_chat(identity, chat.get("service_sid") if isinstance(chat, dict) else None)
        check_times(now, exp, nbf)
        return self.encode(json_dumps_compact(grants), now, exp, nbf)

    def chat_token(
        self,
        identity: str,
        service_sid: str,
        *,
        ttl: int = DEFAULT_TTL,
        now: int | None = None,
    ) -> str:
        """The common token: a Chat grant for ``service_sid`` and an identity, ``nbf`` = now.

        Byte for byte what ``AccessToken(..., grants=[ChatGrant(service_sid)],
        identity=identity, ttl=ttl).to_jwt()`` returns, for an identity a chat session takes
        (``hubbub.identities.user_flaw``); ``AccessToken`` mints whatever twilio-python does.
        """
        if not isinstance(identity, str):
            raise InvalidGrants(f"identity must be a string, not {type(identity).__name__}")
        if identity and (flaw := identities.user_flaw(identity)) is not None:
            raise InvalidGrants(flaw.message("the identity"))
        self._check_chat(identity, service_sid)
        if now is None:
            now = now_seconds()
        if type(ttl) is not int:
            raise TokenExpired(f"ttl must be a whole number of seconds, not {ttl!r}")
        exp = now + ttl
        check_times(now, exp, now)
        grants_json = (
            f'{{"chat":{{"service_sid":"{service_sid}"}},"identity":{json_escape(identity)}}}'
        )
        return self.encode(grants_json, now, exp, now)

    def _check_chat(self, identity: str | None, service_sid: object) -> None:
        if not identity:
            raise InvalidGrants("a ChatGrant needs an identity: pass identity= to AccessToken")
        if service_sid in self._services:
            return
        if not sids.is_sid(service_sid, sids.CHAT_SERVICE):
            raise InvalidGrants(
                "a ChatGrant needs service_sid, a Chat Service SID (IS + 32 hex digits), "
                f"not {service_sid!r}"
            )
        if len(self._services) >= _SERVICE_CACHE_LIMIT:
            self._services.clear()
        self._services.add(service_sid)


def check_times(now: int, exp: int, nbf: int | None) -> None:
    """Refuse times that would make a token no Chat Service accepts."""
    if exp <= now:
        raise TokenExpired(f"the token would be expired when minted (exp {exp} ≤ now {now})")
    if nbf is not None and exp <= nbf:
        raise TokenExpired(f"the token would expire (exp {exp}) before it is valid (nbf {nbf})")
    start = now if nbf is None else min(now, nbf)
    if exp - start > MAX_LIFETIME:
        raise LifetimeTooLong(
            f"the token would live {exp - start} s; the maximum is {MAX_LIFETIME} s (24 h)"
        )


_MINTER_CACHE_LIMIT = 1024
_minters: dict[tuple[Any, ...], Minter] = {}


def minter_for(
    account_sid: str, key_sid: str, secret: str | bytes, region: str | None, algorithm: str
) -> Minter:
    """A shared ``Minter`` for these credentials, built on first use."""
    cache_key = (account_sid, key_sid, secret, region, algorithm)
    try:
        minter = _minters.get(cache_key)
    except TypeError:  # unhashable, so certainly not a SID or a secret: let Minter say why
        minter = None
    if minter is None:
        minter = Minter(account_sid, key_sid, secret, region=region, algorithm=algorithm)
        if len(_minters) >= _MINTER_CACHE_LIMIT:
            _minters.clear()
        _minters[cache_key] = minter
    return minter
