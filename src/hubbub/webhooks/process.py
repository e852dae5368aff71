"""The courier's own process, which ``hubbub serve`` runs beside its workers."""

from __future__ import annotations

import logging
import os
import signal
import ssl
import sys
import threading

from hubbub.crypto import SecretBox, load_master_key
from hubbub.masterkey import key_path
from hubbub.notify.dispatch import Dispatcher, dispatcher
from hubbub.push import Pusher
from hubbub.settings import ServeSettings
from hubbub.store import Store, open_store
from hubbub.webhooks.addresses import Guard
from hubbub.webhooks.courier import LANES, Courier
from hubbub.webhooks.http import Client
from hubbub.webhooks.sender import Sender

log = logging.getLogger("hubbub.push")

#: How much lower than the workers' the courier's CPU priority is.
NICENESS = 10
#: The courier's GIL switch interval, seconds (see ``run``).
SWITCH_INTERVAL = 0.0005


def sender_for(settings: ServeSettings, store: Store, box: SecretBox) -> Sender:
    """How every process of ``hubbub serve`` sends webhooks: to the addresses it may reach."""
    guard = Guard.from_strings(settings.webhook_allow)
    # As many kept-alive connections to one receiver as the courier sends lanes side by side.
    return Sender(store, box, Client(guard, pool_size=LANES))


def pusher_for(settings: ServeSettings) -> Pusher:
    """How the courier pushes: to the providers' URLs of the settings, trusting the system's
    CAs and ``push_ca_file``. Web Push endpoints, which any chat user registers, go where
    ``push_allow`` lets them (public addresses only by default); service accounts' token URIs,
    which the account's owner uploads, go where webhooks may go (``webhook_allow``)."""
    tls = None
    if settings.push_ca_file:
        tls = ssl.create_default_context()
        try:
            tls.load_verify_locations(settings.push_ca_file)
        except (OSError, ssl.SSLError) as exc:
            # Webhooks still go out; pushes trust the system's CAs only.
            log.error("--push-ca-file %s cannot be used: %s", settings.push_ca_file, exc)
    return Pusher(
        fcm_url=settings.push_fcm_url,
        apns_url=settings.push_apns_url,
        apns_sandbox_url=settings.push_apns_sandbox_url,
        tls=tls,
        webpush_client=Client(Guard.from_strings(settings.push_allow), ssl_context=tls),
        token_client=Client(Guard.from_strings(settings.webhook_allow), ssl_context=tls),
        own_clients=True,
    )


def courier_sender(settings: ServeSettings, store: Store, box: SecretBox) -> Dispatcher:
    """What the courier sends through: webhooks, and push notifications."""
    return dispatcher(store, box, sender_for(settings, store, box), pusher_for(settings))


def run(settings_json: str, parent: int) -> None:
    """Send the outbox's webhooks until SIGTERM or SIGINT, or until ``parent`` (the process
    of ``hubbub serve``) is gone: the target of the courier's process."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(name)s: %(message)s")
    # Senders first: on a machine short of CPU the courier falls behind (its outbox keeps what
    # it has not sent) rather than slow the workers down.
    os.nice(NICENESS)
    # A thread holding the database's write lock (which on SQLite the workers wait for) lets
    # go of the GIL at each statement, and while the lanes' threads push, getting it back
    # takes up to a switch interval (5 ms by default) each time: shorter, the lock is held
    # about as long as the statements take.
    sys.setswitchinterval(SWITCH_INTERVAL)
    settings = ServeSettings.from_json(settings_json)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    threading.Thread(target=_stop_when_orphaned, args=(stop, parent), daemon=True).start()
    master_key = load_master_key(key_path(settings.db, settings.master_key_file, settings.data_dir))
    store = open_store(settings.db)
    sender = courier_sender(settings, store, SecretBox(master_key))
    try:
        Courier(store, sender).run(stop)
    finally:
        sender.close()
        store.close()


def _stop_when_orphaned(stop: threading.Event, parent: int) -> None:
    """Stop once ``hubbub serve`` is gone (killed, so it could not say so): a courier must not
    outlive the server it belongs to."""
    while not stop.wait(0.5):
        if os.getppid() != parent:
            stop.set()
