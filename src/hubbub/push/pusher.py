"""One push to one device: the provider's sender picked by the credential's type."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from typing import Protocol

from hubbub.push._http import ClientPool
from hubbub.push.apns import ApnsSender
from hubbub.push.fcm import FcmSender
from hubbub.push.notification import Notification, Outcome, PushCredential
from hubbub.push.webpush import WebPushSender
from hubbub.webhooks.addresses import Guard
from hubbub.webhooks.http import Client

__all__ = ["Pusher"]

log = logging.getLogger("hubbub.push")


class _Sender(Protocol):
    def send(
        self, credential: PushCredential, address: str, notification: Notification, timeout: float
    ) -> Outcome: ...


class Pusher:
    """Sends push notifications to FCM, APNs and Web Push services.

    ``fcm_url`` and the APNs URLs are the providers' (operator configuration; tests point them
    at local receivers). ``tls`` is what FCM and APNs connections trust (the system's CAs when
    ``None``). What chat users name (Web Push endpoints) goes through ``webpush_client``;
    what an account's owner names (FCM service accounts' token URIs) through ``token_client``
    (``webpush_client`` when not given). Both are guarded clients (by default ones that reach
    public addresses only); with ``own_clients`` :meth:`close` closes them too. ``clock``
    times token lifetimes.

    :meth:`send` is synchronous and safe to call from many threads at once.
    """

    def __init__(
        self,
        *,
        fcm_url: str = "https://fcm.googleapis.com",
        apns_url: str = "https://api.push.apple.com",
        apns_sandbox_url: str = "https://api.sandbox.push.apple.com",
        tls: ssl.SSLContext | None = None,
        webpush_client: Client | None = None,
        token_client: Client | None = None,
        clock: Callable[[], float] = time.time,
        own_clients: bool = False,
    ) -> None:
        self._clients = ClientPool(tls if tls is not None else True)
        self._own_webpush_client = own_clients or webpush_client is None
        self._webpush_client = webpush_client or Client(Guard())
        self._own_token_client = own_clients and token_client is not None
        self._token_client = token_client or self._webpush_client
        self.fcm = FcmSender(self._clients, self._token_client, fcm_url, clock)
        self.apns = ApnsSender(
            self._clients, url=apns_url, sandbox_url=apns_sandbox_url, tls=tls, clock=clock
        )
        self.webpush = WebPushSender(self._webpush_client, clock)
        self._senders: dict[str, _Sender] = {
            "fcm": self.fcm,
            "apn": self.apns,
            "webpush": self.webpush,
        }

    def send(
        self,
        credential: PushCredential,
        address: str,
        notification: Notification,
        *,
        timeout: float = 10.0,
    ) -> Outcome:
        """Send ``notification`` to the device at ``address`` (an FCM registration token, an
        APNs device token in hex, or a Web Push subscription's JSON) with ``credential``.
        Never raises: what went wrong is in the outcome."""
        kind: str = credential.type
        try:
            if kind == "gcm":
                return Outcome(False, detail="gcm: Google retired GCM; use an FCM credential")
            sender = self._senders.get(kind)
            if sender is None:
                return Outcome(False, detail=f"{kind!r} is not a push credential type")
            return sender.send(credential, address, notification, timeout)
        except Exception as exc:  # a bug here must not take the courier's thread down
            log.exception("push with credential %s failed", credential.sid)
            return Outcome(False, detail=f"{kind}: {type(exc).__name__}")

    def close(self) -> None:
        """Close the connections (FCM's and APNs' HTTP/2, and an own Web Push client)."""
        self.apns.close()
        self._clients.close()
        if self._own_webpush_client:
            self._webpush_client.close()
        if self._own_token_client:
            self._token_client.close()
