"""Firebase Cloud Messaging, HTTP v1 API.

A service account's key signs a JWT (RS256) that Google's token endpoint trades for an OAuth2
access token (RFC 7523), kept per credential until shortly before it expires. The message
goes to ``POST /v1/projects/{project_id}/messages:send`` as a data message: Twilio's chat SDK
reads the ``twi_*`` fields from ``data`` (see :mod:`hubbub.push.payloads`).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from hubbub.push import _http
from hubbub.push.jwt import rs256
from hubbub.push.keys import ServiceAccount, service_account
from hubbub.push.notification import Notification, Outcome, PushCredential
from hubbub.push.payloads import TooLarge, fcm_message
from hubbub.webhooks.http import Client, DeliveryError, Refused

__all__ = ["SCOPE", "FcmSender"]

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ASSERTION_LIFETIME = 3600  # Google's maximum
#: How long FCM keeps a message for a device that is off.
TTL = 24 * 3600


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    refresh_at: float


class _Refused(Exception):
    """The token endpoint gave no token; ``outcome`` says why."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.detail)
        self.outcome = outcome


class FcmSender:
    """Sends FCM messages with the clients of ``clients``; safe to share between threads.

    The token endpoint is the service account's ``token_uri``: uploaded with a credential,
    not configured by the operator, so it is asked through ``guarded``, a client that reaches
    only the addresses its guard allows (the webhooks' allow-list; Google's are public).
    """

    def __init__(
        self,
        clients: _http.ClientPool,
        guarded: Client,
        base_url: str,
        clock: Callable[[], float],
    ) -> None:
        self.clients = clients
        self.guarded = guarded
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self._tokens: dict[tuple[str, ...], _Token] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._lock = threading.Lock()

    def send(
        self, credential: PushCredential, address: str, notification: Notification, timeout: float
    ) -> Outcome:
        try:
            account = service_account(credential.secrets)
        except ValueError as exc:
            return Outcome(False, detail=f"fcm: bad credential: {exc}")
        if not address:
            return Outcome(False, gone=True, detail="fcm: the registration token is empty")
        try:
            body = fcm_message(notification, address, TTL)
        except TooLarge as exc:
            return Outcome(False, detail=f"fcm: {exc}")
        url = f"{self.base_url}/v1/projects/{account.project_id}/messages:send"
        cache_key = (credential.sid, *_identity(account))
        token: str | None = None
        for attempt in range(2):
            try:
                token = self._token(cache_key, account, timeout, refused=token)
            except _Refused as refused:
                return refused.outcome
            try:
                with self.clients.client() as client:
                    response = client.post(
                        url,
                        content=body,
                        headers={
                            "authorization": f"Bearer {token}",
                            "content-type": "application/json; charset=UTF-8",
                        },
                        timeout=timeout,
                    )
            except httpx.HTTPError as exc:
                return _http.no_answer("fcm", exc, address)
            if response.status_code == 401 and attempt == 0:
                continue  # revoked or expired early: once more with a new token
            return _outcome(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _token(
        self, key: tuple[str, ...], account: ServiceAccount, timeout: float, *, refused: str | None
    ) -> str:
        """The access token for ``key``: the cached one while it lasts, unless it is
        ``refused`` (the provider answered 401 to it)."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one request for a token per credential, however many threads wait
            with self._lock:
                cached = self._tokens.get(key)
            if cached is not None and self.clock() < cached.refresh_at and cached.value != refused:
                return cached.value
            token = self._fetch(account, timeout)
            with self._lock:
                self._tokens[key] = token
            return token.value

    def _fetch(self, account: ServiceAccount, timeout: float) -> _Token:
        try:
            key = account.key
        except ValueError as exc:
            raise _Refused(Outcome(False, detail=f"fcm: bad credential: {exc}")) from None
        now = self.clock()
        claims = {
            "iss": account.client_email,
            "scope": SCOPE,
            "aud": account.token_uri,
            "iat": int(now),
            "exp": int(now) + _ASSERTION_LIFETIME,
        }
        form = urlencode({"grant_type": _GRANT_TYPE, "assertion": rs256(key, claims)})
        try:
            response = self.guarded.request(
                "POST",
                account.token_uri,
                headers=[("Content-Type", "application/x-www-form-urlencoded")],
                body=form.encode("ascii"),
                deadline=time.monotonic() + timeout,
            )
        except Refused as exc:
            raise _Refused(Outcome(False, detail=f"fcm token endpoint: refused: {exc}")) from None
        except DeliveryError as exc:
            failed = Outcome(False, retryable=True, detail=f"fcm token endpoint: {exc}")
            raise _Refused(failed) from None
        status = response.status
        try:
            answer = json.loads(response.body)
        except ValueError:
            answer = None
        answer = answer if isinstance(answer, dict) else {}
        token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if status != 200 or not isinstance(token, str):
            reason = answer.get("error") if isinstance(answer.get("error"), str) else ""
            detail = f"fcm token endpoint: status {status} {reason}".rstrip()
            raise _Refused(Outcome(False, retryable=_http.retryable(status), detail=detail))
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        # Renew ahead of the end, so no request carries a token about to lapse in flight.
        return _Token(token, now + lifetime - min(300.0, lifetime / 2))


def _identity(account: ServiceAccount) -> tuple[str, str]:
    """What a cached token depends on: a replaced key must not go on using the old one's."""
    digest = hashlib.sha256(account.private_key.encode("utf-8")).hexdigest()
    return account.client_email, digest + account.token_uri


def _error_code(error: dict[str, Any]) -> str:
    """FCM's own error code (``UNREGISTERED``, …) from an error's details, else its status."""
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and isinstance(detail.get("errorCode"), str):
            return str(detail["errorCode"])
    status = error.get("status")
    return status if isinstance(status, str) else ""


def _about_token(error: dict[str, Any]) -> bool:
    """Whether a 400 INVALID_ARGUMENT is about the registration token, not the message."""
    for detail in error.get("details") or ():
        for violation in (detail.get("fieldViolations") or ()) if isinstance(detail, dict) else ():
            if isinstance(violation, dict) and violation.get("field") == "message.token":
                return True
    message = error.get("message")
    return isinstance(message, str) and "registration token" in message.lower()


def _outcome(response: httpx.Response) -> Outcome:
    status = response.status_code
    if status == 200:
        return Outcome(True, detail="fcm: status 200")
    raw = _http.json_object(response).get("error")
    error: dict[str, Any] = raw if isinstance(raw, dict) else {}
    code = _error_code(error)
    detail = f"fcm: status {status} {code}".rstrip()
    if code == "UNREGISTERED" or (code == "INVALID_ARGUMENT" and _about_token(error)):
        return Outcome(False, gone=True, detail=detail)
    return Outcome(False, retryable=_http.retryable(status), detail=detail)
