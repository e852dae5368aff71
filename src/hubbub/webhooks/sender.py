"""One attempt at one webhook: signed with the account's auth token, within Twilio's 5 s.

Pre-event calls (in the thread of the action) and the courier (post-event, from the outbox)
both send through a ``Sender``; each decides for itself what to do with a failure, which says
whether Twilio would try again (a timeout, a 429, 503 or 504; and here also a connection that
could not be made).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hubbub.crypto import SecretBox
from hubbub.store import Store
from hubbub.store.errors import NotFound
from hubbub.webhooks.http import Client, DeliveryError, Refused, Response
from hubbub.webhooks.params import Params
from hubbub.webhooks.signature import prepare

log = logging.getLogger("hubbub.webhooks")

#: Twilio's deadline for a webhook's answer.
DEADLINE = 5.0
#: Answers after which Twilio tries again (while the retry count allows).
RETRY_STATUSES = frozenset({429, 503, 504})
#: How long an account's auth token is used without reading it again (after
#: ``hubbub keys auth-token``, the old one signs for at most this long).
TOKEN_TTL = 5.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one attempt went: an answer (``response``), or why there was none (``error``)."""

    response: Response | None
    error: str | None = None
    #: Whether another attempt might go better.
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.response is not None and 200 <= self.response.status < 300

    def describe(self) -> str:
        """For logs and errors: the status, or what went wrong (never the payload)."""
        if self.response is not None:
            return f"status {self.response.status}"
        return self.error or "no answer"


class Sender:
    """Signs and sends webhooks through ``client``."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        client: Client,
        *,
        deadline: float = DEADLINE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.box = box
        self.client = client
        self.deadline = deadline
        self._monotonic = monotonic
        self._tokens: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()
        self._unsigned: set[str] = set()

    def attempt(
        self, account_sid: str, url: str, method: str, params: Params, retry: int
    ) -> Attempt:
        """Send once; ``retry`` is how many attempts came before (Twilio's ``RetryCount``)."""
        prepared = prepare(
            method, url, (*params, ("RetryCount", str(retry))), self._token(account_sid)
        )
        try:
            response = self.client.request(
                method,
                prepared.url,
                headers=prepared.headers,
                body=prepared.body,
                deadline=self._monotonic() + self.deadline,
            )
        except Refused as exc:
            return Attempt(None, str(exc))
        except DeliveryError as exc:
            return Attempt(None, str(exc), retryable=True)
        return Attempt(response, retryable=response.status in RETRY_STATUSES)

    def close(self) -> None:
        """Close the connections kept open for the next webhooks."""
        self.client.close()

    def _token(self, account_sid: str) -> str | None:
        """The account's auth token, to sign with; ``None`` for an account made before
        tokens were sealed (its webhooks go unsigned, and the log says how to mend that)."""
        now = self._monotonic()
        with self._lock:
            found = self._tokens.get(account_sid)
        if found is not None and found[1] > now:
            return found[0]
        try:
            sealed = self.store.get_account(account_sid).sealed_auth_token
        except NotFound:
            sealed = None
        token = None if sealed is None else self.box.decrypt(sealed)
        with self._lock:
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            self._tokens[account_sid] = (token, now + TOKEN_TTL)
            first = token is None and account_sid not in self._unsigned
            if first:
                self._unsigned.add(account_sid)
        if first:
            log.warning(
                "account %s has no sealed auth token: its webhooks go unsigned until it gets a "
                "new one (hubbub keys auth-token)",
                account_sid,
            )
        return token
