"""The courier's side of a ``PUSH`` row: one notification to one device through ``Pusher``.

The binding's credential is opened (unsealed with the master key) and kept ``ttl`` seconds; a
binding without one, or whose credential was deleted, uses its account's newest credential of
its type, if there is one. How the
provider answered decides what the courier does with the row: delivered, it is forgotten; worth
another try (429, 5xx, no answer), it is tried again after the outbox's backoff while its
retries last; the device is gone (FCM's 404 ``UNREGISTERED``, APNs' 410, Web Push's 404 or 410)
and the binding is deleted, with any other binding of that address in its service (never another
service's: its credential may differ); anything else is given up and logged. Logs name the
binding, never its address.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from hubbub.chat.push import newest_credential
from hubbub.crypto import SecretBox
from hubbub.notify.expand import DONE
from hubbub.notify.rows import read_push
from hubbub.push import Outcome, PushCredential, Pusher
from hubbub.store import Store
from hubbub.store.errors import NotFound
from hubbub.store.records import Credential
from hubbub.webhooks.params import Params
from hubbub.webhooks.sender import Attempt

log = logging.getLogger("hubbub.push")

#: How long an opened credential is used without reading it again.
TTL = 60.0
LIMIT = 10_000


class PushSender:
    """Sends ``PUSH`` rows for the courier (``Dispatcher``)."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        pusher: Pusher,
        *,
        ttl: float = TTL,
        timeout: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.box = box
        self.pusher = pusher
        self.ttl = ttl
        self.timeout = timeout
        self._monotonic = monotonic
        self._credentials: dict[tuple[str, str, str], tuple[PushCredential | None, float]] = {}
        self._lock = threading.Lock()

    def attempt(
        self, account_sid: str, url: str, method: str, params: Params, retry: int
    ) -> Attempt:
        row = read_push(params)
        credential = self._credential(account_sid, row.credential_sid, row.binding_type)
        if credential is None:
            log.warning(
                "push to binding %s given up: no %s credential %s in account %s",
                row.binding_sid,
                row.binding_type,
                row.credential_sid or "(none named)",
                account_sid,
            )
            return Attempt(None, "no credential")
        outcome = self.pusher.send(credential, row.address, row.notification, timeout=self.timeout)
        if outcome.gone:
            forgotten = (
                self.store.forget_address(row.service_sid, row.binding_type, row.address)
                if row.service_sid
                else 0
            )
            log.info(
                "binding %s of %s is gone (%s): %d binding(s) of its address deleted",
                row.binding_sid,
                row.identity,
                outcome.detail,
                forgotten,
            )
            return DONE
        if row.log:
            log.info(
                "push %s to binding %s (%s) of %s: %s",
                row.notification.message_type,
                row.binding_sid,
                row.binding_type,
                row.identity,
                _described(outcome),
            )
        if outcome.ok:
            return DONE
        if not outcome.retryable:
            log.warning("push to binding %s given up: %s", row.binding_sid, _described(outcome))
        return Attempt(None, outcome.detail or "failed", retryable=outcome.retryable)

    def close(self) -> None:
        self.pusher.close()

    def _credential(
        self, account_sid: str, sid: str | None, binding_type: str
    ) -> PushCredential | None:
        key = (account_sid, sid or "", binding_type)
        now = self._monotonic()
        with self._lock:
            found = self._credentials.get(key)
        if found is not None and found[1] > now:
            return found[0]
        opened = self._open(self._find(account_sid, sid, binding_type))
        with self._lock:
            if len(self._credentials) >= LIMIT:
                self._credentials.clear()
            self._credentials[key] = (opened, now + self.ttl)
        return opened

    def _find(self, account_sid: str, sid: str | None, binding_type: str) -> Credential | None:
        if sid is not None:
            try:
                found = self.store.get_credential(account_sid, sid)
            except NotFound:
                # Deleted, as when a credential is rotated (a new one made, the old one
                # deleted): its bindings move on to the account's newest, as a registration
                # naming none would get.
                return newest_credential(self.store, account_sid, binding_type)
            return found if found.type == binding_type else None
        return newest_credential(self.store, account_sid, binding_type)

    def _open(self, credential: Credential | None) -> PushCredential | None:
        if credential is None:
            return None
        secrets = json.loads(self.box.decrypt(credential.sealed))
        return PushCredential(
            credential.sid,
            credential.type,
            credential.sandbox,
            dict(credential.settings),
            secrets,
        )


def _described(outcome: Outcome) -> str:
    if outcome.ok:
        return "sent"
    return outcome.detail or ("failed, to be retried" if outcome.retryable else "failed")
