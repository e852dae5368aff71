"""Explaining a token to a person: what it says, whether it holds, and what to do if not.

No I/O here; ``hubbub token inspect`` renders the ``Report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubbub.tokens.claims import DEFAULT_LEEWAY, check_leeway, now_seconds
from hubbub.tokens.errors import TokenError
from hubbub.tokens.verify import VerifiedToken, check_claims, decode_unverified, parse, verify

#: What to do about each error, in the words of someone debugging a client that says 20101.
HINTS: dict[int, str] = {
    20101: (
        "The string is not a well-formed Access Token. Check that it was copied whole (three "
        "base64url parts joined by dots) and not wrapped in quotes or a JSON response."
    ),
    20102: (
        "The header is not what Twilio's helper libraries write. Mint the token with AccessToken "
        "from a Twilio helper library or hubbub.tokens (HS256, cty twilio-fpa;v=1)."
    ),
    20103: (
        "The API key in iss is unknown, revoked or of another account than sub. Mint with an "
        "active API key SID and its secret, from the account the Chat Service belongs to."
    ),
    20104: (
        "The token has expired. Fetch a fresh one from your token server; clients should renew "
        "on tokenAboutToExpire. If tokens expire right after minting, the minting server's "
        "clock is behind: sync it with NTP."
    ),
    20105: (
        "The token is not valid yet: the minting server's clock is ahead of this one. Sync it "
        "with NTP, or mint with nbf=None."
    ),
    20106: (
        "The grants are malformed. A Chat grant needs a service_sid (IS…) and the token needs an "
        "identity."
    ),
    20107: (
        "The signature does not match. The secret is not the one of the API key named in iss, or "
        "the token was altered in transit. Check that TWILIO_API_SECRET belongs to TWILIO_API_KEY."
    ),
    20157: "The token lives longer than 24 hours. Mint it with ttl=86400 or less.",
}


@dataclass(frozen=True, slots=True)
class Report:
    """What could be read of a token and the verdict on it.

    ``verified`` is set only when a secret was given and everything checked out. ``error`` is
    the first problem found; without a secret only the shape and the claims are checked.
    """

    header: dict[str, Any] | None
    claims: dict[str, Any] | None
    signature_checked: bool
    verified: VerifiedToken | None
    error: TokenError | None
    now: int

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def hint(self) -> str | None:
        return HINTS.get(self.error.code) if self.error is not None else None


def explain(
    token: str,
    *,
    secret: str | None = None,
    account_sid: str | None = None,
    now: int | None = None,
    leeway: int = DEFAULT_LEEWAY,
) -> Report:
    """Decode ``token`` for display and check as much of it as the inputs allow."""
    check_leeway(leeway)
    if now is None:
        now = now_seconds()
    token = token.strip()
    header, claims = decode_unverified(token)
    if secret is not None:
        # The key SID in the token is only a lookup key: the signature decides.
        try:
            verified = verify(
                token, lambda _sid: secret, account_sid=account_sid, now=now, leeway=leeway
            )
        except TokenError as exc:
            return Report(header, claims, True, None, exc, now)
        return Report(header, claims, True, verified, None, now)

    try:
        # Without the secret, everything but the signature can still be judged.
        parsed_header, parsed_claims, _ = parse(token)
        check_claims(parsed_header, parsed_claims, account_sid=account_sid, now=now, leeway=leeway)
    except TokenError as exc:
        return Report(header, claims, False, None, exc, now)
    return Report(header, claims, False, None, None, now)
