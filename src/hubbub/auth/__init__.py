"""Who may have a token: pluggable authenticators and the pure pieces they are built on.

- ``base``: ``Authorization``, ``Refused``, ``Unavailable``, the ``Authenticator`` protocol and
  ``Chain`` (first that recognises the request decides).
- ``sessions``: the built-in users' signed session cookie (``cookies`` signs, no I/O).
- ``apitokens``: operator bearer tokens. ``upstream``: ask the operator's own app.
- ``hook``: a Python ``authorize(request)`` function.
- ``limits`` (token buckets) and ``policy`` (token lifetimes): pure, clock injected.
"""

from __future__ import annotations

from hubbub.auth.base import Authenticator, Authorization, Chain, Refused, Unavailable
from hubbub.auth.hook import AuthorizeHook, HookAuthenticator

__all__ = [
    "Authenticator",
    "Authorization",
    "AuthorizeHook",
    "Chain",
    "HookAuthenticator",
    "Refused",
    "Unavailable",
]
