"""Minting Access Tokens: a drop-in for ``twilio.jwt.access_token.AccessToken``.

For the same inputs and the same clock, ``to_jwt()`` returns the very string twilio-python
9.x returns (PyJWT ≥ 2.5): sorted header, payload keys ``jti, grants, iss, exp, [nbf], sub``,
identity last in ``grants``, ``\\uXXXX`` escapes. Where twilio-python would quietly produce a
token that no Chat Service accepts, this raises a ``TokenError`` naming Twilio's code.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hubbub.tokens import jws
from hubbub.tokens.claims import DEFAULT_TTL, now_seconds
from hubbub.tokens.errors import MalformedToken, TokenExpired
from hubbub.tokens.grants import AccessTokenGrant
from hubbub.tokens.minter import minter_for


class _Generate:
    def __repr__(self) -> str:
        return "AccessToken.GENERATE"


class AccessToken:
    """An Access Token for one identity, signed with an API key.

    ``nbf`` defaults to the moment of minting (``None`` leaves it out), ``ttl`` is seconds from
    then, and ``valid_until`` (Unix seconds) replaces ``now + ttl`` as the expiry unless
    ``to_jwt`` is given a ``ttl`` of its own, exactly as in twilio-python.
    """

    ALGORITHM: ClassVar[str] = "HS256"
    #: The default ``nbf``: stamp the token with the time it is minted.
    GENERATE: ClassVar[Any] = _Generate()

    def __init__(
        self,
        account_sid: str,
        signing_key_sid: str,
        secret: str,
        grants: list[AccessTokenGrant] | None = None,
        identity: str | None = None,
        nbf: int | Any | None = GENERATE,
        ttl: int = DEFAULT_TTL,
        valid_until: int | None = None,
        region: str | None = None,
    ) -> None:
        # Like twilio-python, keep the caller's list itself: add_grant() appends to it.
        grants = grants or []
        for grant in grants:
            if not isinstance(grant, AccessTokenGrant):
                raise ValueError("Grants must be instances of AccessTokenGrant.")
        self.account_sid = account_sid
        self.signing_key_sid = signing_key_sid
        self.secret_key = secret
        self.grants = grants
        self.identity = identity
        self.nbf = nbf
        self.ttl = ttl
        self.valid_until = valid_until
        self.region = region
        self.algorithm = self.ALGORITHM

    @property
    def issuer(self) -> str:
        return self.signing_key_sid

    @property
    def subject(self) -> str:
        return self.account_sid

    def add_grant(self, grant: AccessTokenGrant) -> None:
        """Add a grant; a later grant with the same key replaces an earlier one's payload."""
        if not isinstance(grant, AccessTokenGrant):
            raise ValueError("Grant must be an instance of AccessTokenGrant.")
        self.grants.append(grant)

    @property
    def headers(self) -> dict[str, Any]:
        """The JOSE header, in twilio-python's order (PyJWT sorts it when encoding)."""
        headers: dict[str, Any] = {"cty": jws.CONTENT_TYPE}
        if self.region and isinstance(self.region, str):
            headers["twr"] = self.region
        headers["typ"] = "JWT"
        headers["alg"] = self.algorithm
        return headers

    @property
    def payload(self) -> dict[str, Any]:
        """The claims the token would carry if minted now."""
        now = now_seconds()
        grants, exp, nbf = self._claims(now, None)
        payload: dict[str, Any] = {
            "jti": f"{self.signing_key_sid}-{now}",
            "grants": grants,
            "iss": self.signing_key_sid,
            "exp": exp,
        }
        if nbf is not None:
            payload["nbf"] = nbf
        payload["sub"] = self.account_sid
        return payload

    def to_jwt(self, ttl: int | None = None, *, now: int | None = None) -> str:
        """Sign and encode the token; ``ttl`` here overrides both ``ttl`` and ``valid_until``.

        ``now`` (Unix seconds) stands in for the clock, for tests and replays.
        """
        if now is None:
            now = now_seconds()
        region = self.region if self.region and isinstance(self.region, str) else None
        minter = minter_for(
            self.account_sid, self.signing_key_sid, self.secret_key, region, self.algorithm
        )
        grants, exp, nbf = self._claims(now, ttl)
        return minter.mint(grants, now=now, exp=exp, nbf=nbf)

    def _claims(self, now: int, ttl: int | None) -> tuple[dict[str, Any], int, int | None]:
        """The grants object, ``exp`` and ``nbf`` as twilio-python computes them."""
        grants: dict[str, Any] = {}
        for grant in self.grants:
            grants[grant.key] = grant.to_payload()
        if self.identity:
            grants["identity"] = self.identity

        nbf = self.nbf
        if nbf is self.GENERATE:
            nbf = now
        elif nbf is not None and type(nbf) is not int:
            raise MalformedToken(f"nbf must be whole Unix seconds, not {nbf!r}")

        if ttl:
            exp = _expiry(now, ttl)
        elif self.valid_until:
            if type(self.valid_until) is not int:
                raise TokenExpired(
                    f"valid_until must be whole Unix seconds, not {self.valid_until!r}"
                )
            exp = self.valid_until
        else:
            exp = _expiry(now, self.ttl)
        return grants, exp, nbf

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self.to_jwt()}>"


def _expiry(now: int, ttl: object) -> int:
    if type(ttl) is not int:
        raise TokenExpired(f"ttl must be a whole number of seconds, not {ttl!r}")
    return now + ttl
