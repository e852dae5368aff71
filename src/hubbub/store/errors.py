"""Domain errors the store raises, carrying enough for the REST layer to answer like Twilio."""

from __future__ import annotations

#: Twilio's generic "resource not found" code, used for every missing resource.
NOT_FOUND_CODE = 20404
#: "Member already exists" (Programmable Chat error catalogue).
MEMBER_EXISTS_CODE = 50404


class StoreError(Exception):
    """Base of every error the store raises on purpose.

    ``code`` is Twilio's error code when we are sure of it, else ``None``: the REST layer then
    picks one from ``resource`` and the subclass.
    """

    code: int | None

    def __init__(self, message: str, *, resource: str, code: int | None = None) -> None:
        super().__init__(message)
        self.resource = resource
        self.code = code


class NotFound(StoreError):
    """The resource (or one of its parents) does not exist within the given scope."""

    def __init__(self, resource: str, ref: str) -> None:
        super().__init__(
            f"{resource} {ref!r} was not found", resource=resource, code=NOT_FOUND_CODE
        )
        self.ref = ref


class Conflict(StoreError):
    """A unique natural key is taken (``field`` = ``value``), or the resource is still in use."""

    def __init__(
        self, resource: str, field: str, value: str, *, code: int | None = None, reason: str = ""
    ) -> None:
        message = reason or f"a {resource} with {field} {value!r} already exists"
        super().__init__(message, resource=resource, code=code)
        self.field = field
        self.value = value


class LimitExceeded(StoreError):
    """A service limit would be passed: ``limit`` is ``channel_members`` or ``user_channels``."""

    def __init__(self, resource: str, limit: str, maximum: int) -> None:
        super().__init__(f"{resource} limit {limit} ({maximum}) exceeded", resource=resource)
        self.limit = limit
        self.maximum = maximum


class InvalidCursor(StoreError, ValueError):
    """A pagination cursor was not made by this store for this kind of list."""

    def __init__(self, cursor: str) -> None:
        super().__init__(f"invalid page cursor {cursor!r}", resource="Page")
        self.cursor = cursor
