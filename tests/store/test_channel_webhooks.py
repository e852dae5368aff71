"""Webhooks of a channel: scoped to it, at most five, gone with it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from hubbub import sids
from hubbub.store import LimitExceeded, NotFound, Service, Store
from hubbub.store.records import MAX_CHANNEL_WEBHOOKS, ChannelWebhook

URL = "https://example.com/hook"


def _hook(store: Store, service: Service, channel: str, **changes: Any) -> ChannelWebhook:
    """A webhook of type webhook on ``channel``, but for ``changes``."""
    values: dict[str, Any] = {"type": "webhook", "url": URL, "method": "POST"}
    values["filters"] = ("onMessageSent",)
    return store.create_channel_webhook(service.sid, channel, **{**values, **changes})


def test_channel_webhook_crud(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid, unique_name="general")

    hook = store.create_channel_webhook(
        service.sid,
        "general",
        type="webhook",
        url=URL,
        method="GET",
        filters=["onMessageSent", "onMemberAdded"],
        retry_count=2,
    )

    assert sids.is_sid(hook.sid, "WH")
    assert (hook.service_sid, hook.channel_sid, hook.type) == (service.sid, channel.sid, "webhook")
    assert (hook.url, hook.method, hook.retry_count) == (URL, "GET", 2)
    assert hook.filters == ("onMessageSent", "onMemberAdded")
    assert (hook.triggers, hook.flow_sid) == ((), None)
    assert hook.date_created == hook.date_updated
    # By unique name or by SID, the same webhook.
    assert store.get_channel_webhook(service.sid, "general", hook.sid) == hook
    assert store.get_channel_webhook(service.sid, channel.sid, hook.sid) == hook

    store.delete_channel_webhook(service.sid, channel.sid, hook.sid)
    with pytest.raises(NotFound):
        store.get_channel_webhook(service.sid, "general", hook.sid)
    with pytest.raises(NotFound):
        store.delete_channel_webhook(service.sid, "general", hook.sid)
    with pytest.raises(NotFound):
        store.update_channel_webhook(service.sid, "general", hook.sid, url=URL)


def test_update_keeps_what_is_not_given(store: Store, service: Service) -> None:
    store.create_channel(service.sid, unique_name="general")
    hook = _hook(store, service, "general", type="trigger", filters=(), triggers=("help", "urgent"))

    moved = store.update_channel_webhook(
        service.sid, "general", hook.sid, url="http://example.org/other", retry_count=3
    )

    assert (moved.url, moved.retry_count) == ("http://example.org/other", 3)
    assert (moved.type, moved.method, moved.triggers) == ("trigger", "POST", ("help", "urgent"))
    assert moved.date_created == hook.date_created
    assert moved.date_updated > hook.date_updated
    retriggered = store.update_channel_webhook(service.sid, "general", hook.sid, triggers=["sos"])
    assert (retriggered.url, retriggered.triggers) == ("http://example.org/other", ("sos",))
    assert store.get_channel_webhook(service.sid, "general", hook.sid) == retriggered


def test_webhooks_are_scoped_to_their_channel_and_service(store: Store, service: Service) -> None:
    other = store.create_service(service.account_sid, friendly_name="other")
    store.create_channel(service.sid, unique_name="one")
    store.create_channel(service.sid, unique_name="two")
    elsewhere = store.create_channel(other.sid, unique_name="one")
    hook = _hook(store, service, "one")
    theirs = _hook(store, other, "one")

    for service_sid, channel in ((service.sid, "two"), (other.sid, "one")):
        with pytest.raises(NotFound):
            store.get_channel_webhook(service_sid, channel, hook.sid)
        with pytest.raises(NotFound):
            store.update_channel_webhook(service_sid, channel, hook.sid, retry_count=1)
        with pytest.raises(NotFound):
            store.delete_channel_webhook(service_sid, channel, hook.sid)
    with pytest.raises(NotFound):
        store.list_channel_webhooks(service.sid, elsewhere.sid)
    with pytest.raises(NotFound):
        _hook(store, service, elsewhere.sid)
    assert store.list_channel_webhooks(service.sid, "two").items == ()
    assert store.list_channel_webhooks(service.sid, "one").items == (hook,)
    assert store.channel_webhooks(service.sid, hook.channel_sid) == [hook]
    assert store.channel_webhooks(other.sid, elsewhere.sid) == [theirs]
    assert store.channel_webhooks(other.sid, hook.channel_sid) == []


def test_paging_and_the_senders_view(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid, unique_name="general")
    made = [_hook(store, service, "general", retry_count=n) for n in range(3)]

    first = store.list_channel_webhooks(service.sid, "general", limit=2)
    rest = store.list_channel_webhooks(service.sid, "general", limit=2, cursor=first.next_cursor)

    assert first.items + rest.items == tuple(made)
    assert rest.next_cursor is None
    assert store.channel_webhooks(service.sid, channel.sid) == made


def test_at_most_five_webhooks_a_channel(store: Store, service: Service) -> None:
    store.create_channel(service.sid, unique_name="general")
    store.create_channel(service.sid, unique_name="quiet")
    made = [_hook(store, service, "general") for _ in range(MAX_CHANNEL_WEBHOOKS)]

    with pytest.raises(LimitExceeded) as caught:
        _hook(store, service, "general")
    assert (caught.value.limit, caught.value.maximum) == ("channel_webhooks", 5)
    _hook(store, service, "quiet")  # the limit is per channel
    store.delete_channel_webhook(service.sid, "general", made[0].sid)
    _hook(store, service, "general")


def test_concurrent_creates_never_pass_the_limit(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid, unique_name="busy").sid
    threads_count = 8
    start = threading.Barrier(threads_count)
    made: list[ChannelWebhook] = []
    refused: list[LimitExceeded] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            start.wait()
            made.append(_hook(store, service, channel))
        except LimitExceeded as exc:
            refused.append(exc)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert (len(made), len(refused)) == (MAX_CHANNEL_WEBHOOKS, threads_count - MAX_CHANNEL_WEBHOOKS)
    assert len(store.channel_webhooks(service.sid, channel)) == MAX_CHANNEL_WEBHOOKS


def test_deleting_the_channel_deletes_its_webhooks(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid, unique_name="general")
    hook = _hook(store, service, "general")
    kept = store.create_channel(service.sid, unique_name="kept")
    other = _hook(store, service, "kept")

    store.delete_channel(service.sid, "general")

    assert store.channel_webhooks(service.sid, channel.sid) == []
    again = store.create_channel(service.sid, unique_name="general")
    with pytest.raises(NotFound):
        store.get_channel_webhook(service.sid, again.sid, hook.sid)
    assert store.list_channel_webhooks(service.sid, "general").items == ()
    assert store.channel_webhooks(service.sid, kept.sid) == [other]
    store.delete_service(service.account_sid, service.sid)
    assert store.channel_webhooks(service.sid, kept.sid) == []


def test_arguments_the_caller_should_have_checked(store: Store, service: Service) -> None:
    store.create_channel(service.sid, unique_name="general")
    with pytest.raises(ValueError, match="type"):
        _hook(store, service, "general", type="carrier-pigeon")
    with pytest.raises(ValueError, match="retry count"):
        _hook(store, service, "general", retry_count=4)
    hook = _hook(store, service, "general")
    with pytest.raises(ValueError, match="retry count"):
        store.update_channel_webhook(service.sid, "general", hook.sid, retry_count=-1)
