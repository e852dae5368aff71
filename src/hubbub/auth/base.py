"""What an authenticator is, what it answers, and the chain that asks them in turn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from starlette.requests import Request


@dataclass(frozen=True, slots=True)
class Authorization:
    """Who the request is for, and optionally how long a token it may get and the Chat Service
    role (SID or friendly name) its user must have."""

    identity: str
    ttl: int | None = None
    role: str | None = None


class Refused(Exception):
    """The authenticator knows who this is and says no (answered 403)."""


class Unavailable(Exception):
    """The authenticator cannot decide now, e.g. the upstream is down (answered 503)."""


@runtime_checkable
class Authenticator(Protocol):
    """One way to tell who a request comes from.

    ``authenticate`` returns an ``Authorization``, ``None`` when the request carries nothing
    this authenticator recognises (the next one is asked), or raises ``Refused`` or
    ``Unavailable``.
    """

    async def authenticate(self, request: Request) -> Authorization | None: ...


class Chain:
    """Authenticators asked in order; the first that recognises the request decides."""

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self.authenticators = tuple(authenticators)

    async def authenticate(self, request: Request) -> Authorization | None:
        for authenticator in self.authenticators:
            found = await authenticator.authenticate(request)
            if found is not None:
                return found
        return None
