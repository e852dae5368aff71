"""Errors in Twilio's REST shape: ``{"code", "message", "more_info", "status"}``.

Every failure a client can cause becomes an ``ApiError`` somewhere below the routes; one
exception handler turns it into the response, so no route formats an error itself.
"""

from __future__ import annotations

from typing import Any

from hubbub.store.errors import Conflict, InvalidCursor, LimitExceeded, NotFound, StoreError

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"

# Twilio's numbers, from its error dictionary; see docs/rest.md for where each is used.
INVALID_PARAMETER = 20001  # also "Missing required parameter X in the post body"
AUTHENTICATION_FAILED = 20003
METHOD_NOT_ALLOWED = 20004
PAGE_SIZE_TOO_LARGE = 20007
NOT_FOUND = 20404
REQUEST_TOO_LARGE = 20413
TOO_MANY_REQUESTS = 20429
INTERNAL_ERROR = 20500
SERVICE_UNAVAILABLE = 20503
INVALID_PAGE_TOKEN = 21481
INVALID_PERMISSION = 50104
INVALID_ROLE_TYPE = 50105
USER_EXISTS = 50201
IDENTITY_LOOKS_LIKE_SID = 50206
IDENTITY_TOO_LONG = 50207
USER_CHANNELS_LIMIT = 50208
ALREADY_INVITED = 50212
INVALID_ATTRIBUTES = 50304
UNIQUE_NAME_LOOKS_LIKE_SID = 50306
UNIQUE_NAME_EXISTS = 50307
CHANNEL_MEMBERS_LIMIT = 50403
MEMBER_EXISTS = 50404
BODY_TOO_LONG = 50504
MEDIA_NOT_FOUND = 50507
MEDIA_ALREADY_SENT = 50508
MEDIA_BODY_NOT_EDITABLE = 50509
INVALID_USER_CHANNELS_LIMIT = 50060
INVALID_CHANNEL_MEMBERS_LIMIT = 50061
# Webhooks: the service's settings, and channel webhooks.
INVALID_WEBHOOK_FORMAT = 50054
INVALID_WEBHOOK_METHOD = 50055
INVALID_WEBHOOK_RETRY_COUNT = 50065
INVALID_PRE_WEBHOOK_URL = 50077
INVALID_POST_WEBHOOK_URL = 50078
TOO_MANY_CHANNEL_WEBHOOKS = 50321
TOO_MANY_CHANNEL_WEBHOOK_TRIGGERS = 50322
INVALID_CHANNEL_WEBHOOK_TYPE = 50324
INVALID_CHANNEL_WEBHOOK_FILTER = 50325
INVALID_CHANNEL_WEBHOOK_TRIGGER = 50326
INVALID_CHANNEL_WEBHOOK_FLOW_SID = 50327
CHANNEL_WEBHOOK_TYPE_MISSING = 50328
CHANNEL_WEBHOOK_URL_MISSING = 50329
CHANNEL_WEBHOOK_FILTER_MISSING = 50330
CHANNEL_WEBHOOK_TRIGGER_MISSING = 50331
CHANNEL_WEBHOOK_URL_TOO_LONG = 50332


class ApiError(Exception):
    """A request that cannot be served, with the status and Twilio code to answer it with."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": MORE_INFO.format(code=self.code),
            "status": self.status,
        }


def invalid(message: str, code: int = INVALID_PARAMETER) -> ApiError:
    """A 400 for a parameter the client got wrong."""
    return ApiError(400, code, message)


def not_found(path: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"The requested resource {path} was not found")


def unauthorized() -> ApiError:
    return ApiError(401, AUTHENTICATION_FAILED, "Authenticate")


_CONFLICT_CODES = {
    "User": USER_EXISTS,
    "Channel": UNIQUE_NAME_EXISTS,
    "Member": MEMBER_EXISTS,
    "Invite": ALREADY_INVITED,
}
_LIMIT_CODES = {"channel_members": CHANNEL_MEMBERS_LIMIT, "user_channels": USER_CHANNELS_LIMIT}


def from_store(error: StoreError, path: str) -> ApiError:
    """The REST answer to a store error met while serving ``path``."""
    if isinstance(error, NotFound):
        return not_found(path)
    if isinstance(error, InvalidCursor):
        return invalid("PageToken is not one this server handed out", INVALID_PAGE_TOKEN)
    if isinstance(error, LimitExceeded):
        code = _LIMIT_CODES.get(error.limit, INVALID_PARAMETER)
        return ApiError(
            403, code, f"{error.resource} limit reached: {error.limit} is {error.maximum}"
        )
    if isinstance(error, Conflict):
        code = error.code or _CONFLICT_CODES.get(error.resource, INVALID_PARAMETER)
        return ApiError(409, code, str(error))
    return ApiError(400, error.code or INVALID_PARAMETER, str(error))
