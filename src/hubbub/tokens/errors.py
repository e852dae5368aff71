"""Token errors, each carrying Twilio's error code.

One class per code, so callers can catch what they handle (``except TokenExpired``) or the
whole family (``except TokenError``). ``TokenError`` is a ``ValueError``: minting raises the
same classes when its inputs would produce a token that no Chat Service accepts.
"""

from __future__ import annotations

from typing import Any, ClassVar

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"


class TokenError(ValueError):
    """A token could not be minted or did not verify.

    ``header`` and ``claims`` hold what could be decoded of the token, *unverified*: they are
    there to explain the failure (``hubbub token inspect`` prints them), never to act on.
    """

    code: ClassVar[int] = 20101
    status: ClassVar[int] = 401
    title: ClassVar[str] = "Invalid Access Token"

    def __init__(
        self,
        message: str,
        *,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.header = header
        self.claims = claims

    @property
    def more_info(self) -> str:
        return MORE_INFO.format(code=self.code)

    def to_dict(self) -> dict[str, Any]:
        """The error in Twilio's REST shape."""
        return {
            "code": self.code,
            "message": f"{self.title}: {self.message}",
            "more_info": self.more_info,
            "status": self.status,
        }

    def __str__(self) -> str:
        return f"{self.code} {self.title}: {self.message}"


class MalformedToken(TokenError):
    """The token is not a well-formed JWT, or its payload is not a JSON object of claims."""

    code = 20101
    title = "Invalid Access Token"


class InvalidHeader(TokenError):
    """The JOSE header is malformed or names something hubbub does not accept."""

    code = 20102
    title = "Invalid Access Token header"


class InvalidIssuer(TokenError):
    """``iss`` is not a known, active API key, or ``sub`` is not the expected account."""

    code = 20103
    title = "Invalid Access Token issuer/subject"


class TokenExpired(TokenError):
    """``exp`` is missing, malformed or in the past."""

    code = 20104
    title = "Access Token expired or expiration date invalid"


class TokenNotYetValid(TokenError):
    """``nbf`` lies in the future."""

    code = 20105
    title = "Access Token not yet valid"


class InvalidGrants(TokenError):
    """``grants`` is malformed, or a grant lacks what it needs (a Chat grant needs an identity)."""

    code = 20106
    title = "Invalid Access Token grants"


class InvalidSignature(TokenError):
    """The signature is missing, malformed or does not match."""

    code = 20107
    title = "Invalid Access Token signature"


class LifetimeTooLong(TokenError):
    """The token lives longer than the 24-hour maximum."""

    code = 20157
    title = "Expiration Time exceeds maximum of 86400 seconds"


BY_CODE: dict[int, type[TokenError]] = {
    cls.code: cls
    for cls in (
        MalformedToken,
        InvalidHeader,
        InvalidIssuer,
        TokenExpired,
        TokenNotYetValid,
        InvalidGrants,
        InvalidSignature,
        LifetimeTooLong,
    )
}
