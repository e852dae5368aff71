"""``X-Twilio-Signature``: what a webhook's receiver checks to know hubbub sent it.

Twilio's scheme, as its helper libraries validate it: the string signed is the full URL that was
requested, then, for a form POST, ``name + value`` for every parameter (names in sorted order,
each name's values in sorted order, no separators); the MAC is HMAC-SHA1 keyed with the
account's auth token, sent as standard base64. A GET carries its parameters in the query string,
so the URL alone is signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

__all__ = ["SIGNATURE_HEADER", "Prepared", "prepare", "sign"]

SIGNATURE_HEADER = "X-Twilio-Signature"
_FORM = "application/x-www-form-urlencoded"
# Every printable ASCII character a URL may hold as it is: only the rest (spaces, non-ASCII) is
# percent-encoded, so the URL signed is the one the receiver sees on the wire.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


@dataclass(frozen=True, slots=True)
class Prepared:
    """One webhook request, ready for :meth:`hubbub.webhooks.http.Client.request`."""

    #: The URL to request (for a GET, with the parameters in its query string).
    url: str
    #: The form-encoded parameters of a POST; empty for a GET.
    body: bytes
    #: ``Content-Type`` for a POST, ``X-Twilio-Signature`` when signed.
    headers: tuple[tuple[str, str], ...]


def sign(auth_token: str, url: str, params: Sequence[tuple[str, str]]) -> str:
    """The signature of a request to ``url`` with the form ``params`` (none for a GET)."""
    # Validators (twilio-python's, twilio-node's) sort the *set* of each name's values, so a
    # value repeated under one name counts once.
    text = url + "".join(name + value for name, value in sorted(set(params)))
    # hmac.new, not hmac.digest: the one-shot function lets go of the GIL for a hash of a few
    # microseconds, and waits to get it back behind every busy thread (the courier's lanes).
    mac = hmac.new(auth_token.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(mac).decode("ascii")


def prepare(
    method: str, url: str, params: Sequence[tuple[str, str]], auth_token: str | None
) -> Prepared:
    """The request Twilio would make: a form POST, or a GET with the parameters in the query
    string (after any already there), signed when ``auth_token`` is given.

    The URL's fragment is dropped (it never reaches the receiver, who could not check it), an
    empty path becomes ``/`` and characters a URL cannot carry are percent-encoded: the URL
    signed is the one requested.
    """
    method = method.upper()
    if method not in ("GET", "POST"):
        raise ValueError(f"webhooks are GET or POST, not {method!r}")
    parts = urlsplit(url)
    # The host as the receiver's Host header names it (IDNA); the rest percent-encoded.
    parts = parts._replace(
        netloc=_ascii_netloc(parts.netloc, parts.hostname),
        path=quote(parts.path, safe=_URL_SAFE),
        query=quote(parts.query, safe=_URL_SAFE),
    )
    query = parts.query
    if method == "GET" and params:
        query = f"{query}&{urlencode(params)}" if query else urlencode(params)
    # The receiver sees "/" for an empty path, and signs what it sees.
    target = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))
    headers: list[tuple[str, str]] = []
    body = b""
    if method == "POST":
        body = urlencode(params).encode("ascii")
        headers.append(("Content-Type", _FORM))
    if auth_token is not None:
        signed = params if method == "POST" else ()
        headers.append((SIGNATURE_HEADER, sign(auth_token, target, signed)))
    return Prepared(target, body, tuple(headers))


def _ascii_netloc(netloc: str, hostname: str | None) -> str:
    """``netloc`` with an internationalized host name in its ASCII (IDNA) form; a name that
    has none is left for the client to refuse."""
    if netloc.isascii() or not hostname:
        return netloc
    try:
        ascii_host = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        return netloc
    return netloc.lower().replace(hostname, ascii_host, 1)  # host names ignore case
