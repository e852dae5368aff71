"""The push notifier's cache of a service's settings, against a read racing an update."""

from __future__ import annotations

import threading
from typing import Any

from hubbub.notify.notifier import PushNotifier
from hubbub.store import Store
from hubbub.store.records import Service
from hubbub.webhooks.targets import changed
from tests.notify.conftest import World


class _HeldAfterRead:
    """The real store, whose ``get_service`` stops once it has read the row until told to go
    on: the moment between a read and its result being kept, held open for the test."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.read = threading.Event()
        self.go_on = threading.Event()

    def get_service(self, account_sid: str, service_sid: str) -> Service:
        found = self._store.get_service(account_sid, service_sid)
        self.read.set()
        assert self.go_on.wait(10)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_read_that_began_before_an_update_does_not_keep_the_old_settings(
    world: World,
) -> None:
    held = _HeldAfterRead(world.store)
    notifier = PushNotifier(held)  # type: ignore[arg-type]
    sid, account = world.service_sid, world.creds.account_sid
    seen: list[bool] = []
    reader = threading.Thread(
        target=lambda: seen.append(notifier.settings(account, sid).new_message.enabled)
    )
    reader.start()
    assert held.read.wait(10)  # it has read "off", and has not kept it yet
    world.notify(new_message={"enabled": True})  # the update commits ...
    notifier.observe(changed(sid))  # ... and its event arrives while the read is held
    held.go_on.set()
    reader.join()
    assert seen == [False]  # what it read, used once
    held.read.clear()
    assert notifier.settings(account, sid).new_message.enabled  # read again, not kept stale
