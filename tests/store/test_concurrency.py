"""Message indexes under concurrent senders: threads sharing a store, and separate processes."""

from __future__ import annotations

import multiprocessing
import threading

from hubbub.store import Service, Store
from tests.store.workers import send_messages

THREADS = 8
PER_THREAD = 50


def _check_indexes(store: Store, service: Service, channel: str, indexes: list[int]) -> None:
    total = len(indexes)
    assert sorted(indexes) == list(range(total))
    stored = []
    cursor = None
    while True:
        page = store.list_messages(service.sid, channel, limit=500, cursor=cursor)
        stored += [message.index for message in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert stored == list(range(total))
    after = store.get_channel(service.sid, channel)
    assert (after.messages_count, after.next_message_index) == (total, total)


def test_threads_never_share_an_index(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid, unique_name="busy").sid
    start = threading.Barrier(THREADS)
    results: list[list[int]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []

    def send(slot: int) -> None:
        try:
            start.wait()
            for i in range(PER_THREAD):
                ref = channel if i % 2 else "busy"
                results[slot].append(store.create_message(service.sid, ref, body=str(i)).index)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(slot,)) for slot in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for mine in results:
        assert mine == sorted(mine)
    _check_indexes(store, service, channel, [i for mine in results for i in mine])

    last = store.list_messages(service.sid, channel, order="desc", limit=1).items[0]
    store.delete_message(service.sid, channel, last.sid)
    assert store.create_message(service.sid, channel).index == THREADS * PER_THREAD


def test_processes_never_share_an_index(store: Store, service: Service, database_url: str) -> None:
    channel = store.create_channel(service.sid).sid
    processes, per_process = 3, 40
    context = multiprocessing.get_context("spawn")

    with context.Pool(processes) as pool:
        results = pool.starmap(
            send_messages, [(database_url, service.sid, channel, per_process)] * processes
        )

    _check_indexes(store, service, channel, [i for mine in results for i in mine])
    store.delete_message(
        service.sid, channel, store.list_messages(service.sid, channel, order="desc").items[0].sid
    )
    assert store.create_message(service.sid, channel).index == processes * per_process


def test_concurrent_joins_keep_counters_right(store: Store, service: Service) -> None:
    channels = [store.create_channel(service.sid, unique_name=f"c{i}").sid for i in range(4)]
    identities = [f"user{i}" for i in range(6)]
    start = threading.Barrier(len(identities))
    errors: list[BaseException] = []

    def join_all(identity: str) -> None:
        try:
            start.wait()
            for channel in channels:
                store.create_member(service.sid, channel, identity)
            store.delete_member(service.sid, channels[0], identity)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=join_all, args=(name,)) for name in identities]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    counts = [store.get_channel(service.sid, channel).members_count for channel in channels]
    assert counts == [0, 6, 6, 6]
    assert {store.get_user(service.sid, name).joined_channels_count for name in identities} == {3}
