"""Why a webhook call failed, as exceptions whose messages are safe to log.

A message names the host and port at most: never the URL (its query may carry secrets), the
headers (the signature) or either body.
"""

from __future__ import annotations

__all__ = ["BadResponse", "DeliveryError", "Refused", "Timeout", "Unreachable"]


class DeliveryError(Exception):
    """A webhook call failed; ``str()`` of it is one short line, fit for a log."""


class Refused(DeliveryError):
    """Not attempted: the URL or its addresses are not allowed. Retrying will not help."""


class Timeout(DeliveryError):
    """The deadline passed before the whole response arrived."""


class Unreachable(DeliveryError):
    """The name did not resolve, or the connection was refused, reset or cut."""


class BadResponse(DeliveryError):
    """The peer answered something that is not an acceptable HTTP/1.1 response."""
