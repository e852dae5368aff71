"""Access Tokens: mint them as twilio-python does, verify them strictly.

``from hubbub.tokens import AccessToken, ChatGrant`` replaces
``from twilio.jwt.access_token import AccessToken`` and its grants, byte for byte.
"""

from hubbub.tokens.access_token import AccessToken
from hubbub.tokens.claims import DEFAULT_LEEWAY, DEFAULT_TTL, MAX_LEEWAY, MAX_LIFETIME
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
from hubbub.tokens.grants import (
    AccessTokenGrant,
    ChatGrant,
    PlaybackGrant,
    SyncGrant,
    TaskRouterGrant,
    VideoGrant,
    VoiceGrant,
)
from hubbub.tokens.minter import Minter
from hubbub.tokens.verify import VerifiedToken, decode_unverified, verify

__all__ = [
    "DEFAULT_LEEWAY",
    "DEFAULT_TTL",
    "MAX_LEEWAY",
    "MAX_LIFETIME",
    "AccessToken",
    "AccessTokenGrant",
    "ChatGrant",
    "InvalidGrants",
    "InvalidHeader",
    "InvalidIssuer",
    "InvalidSignature",
    "LifetimeTooLong",
    "MalformedToken",
    "Minter",
    "PlaybackGrant",
    "SyncGrant",
    "TaskRouterGrant",
    "TokenError",
    "TokenExpired",
    "TokenNotYetValid",
    "VerifiedToken",
    "VideoGrant",
    "VoiceGrant",
    "decode_unverified",
    "verify",
]
