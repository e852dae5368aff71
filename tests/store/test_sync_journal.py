"""The Sync journal (``Store.journal`` and its reads), on both backends: ids per object start at
1 and never skip, are taken with the action's transaction, and commit in their order."""

from __future__ import annotations

import threading
import time

import pytest

from hubbub.store import Store

A = "ES" + "a" * 32
B = "MP" + "b" * 32
C = "ET" + "c" * 32


def ids_of(store: Store, sid: str) -> list[int]:
    return [event.id for event in store.events_after(sid, 0, limit=10_000)]


def test_ids_start_at_one_and_follow_on_per_object(store: Store) -> None:
    assert store.journal([], now=1.0) == []
    assert store.journal([(A, "list_item_added", {"item_index": 0})], now=1.0) == [1]
    assert store.journal([(A, "list_item_added", {"item_index": 1})], now=2.0) == [2]
    assert store.journal([(B, "map_item_added", {"item_key": "k"})], now=3.0) == [1]
    assert store.journal([(A, "list_item_added", {"item_index": 2})], now=4.0) == [3]
    assert ids_of(store, A) == [1, 2, 3]
    assert ids_of(store, B) == [1]
    assert store.last_event_ids([A, B]) == {A: 3, B: 1}


def test_several_objects_in_one_call(store: Store) -> None:
    store.journal([(B, "map_item_added", {"item_key": "x"})], now=1.0)
    ids = store.journal(
        [
            (A, "list_item_added", {"item_index": 0}),
            (B, "map_item_updated", {"item_key": "x"}),
            (A, "list_item_added", {"item_index": 1}),
            (C, "document_updated", {"document_data": {"name": "ünï ✓"}}),
            (A, "list_item_added", {"item_index": 2}),
        ],
        now=2.0,
    )
    # In the order given, each object's ids consecutive from its last.
    assert ids == [1, 2, 2, 1, 3]
    found = store.events_after(A, 0, limit=10)
    assert [(e.object_sid, e.id, e.event_type, e.body) for e in found] == [
        (A, 1, "list_item_added", {"item_index": 0}),
        (A, 2, "list_item_added", {"item_index": 1}),
        (A, 3, "list_item_added", {"item_index": 2}),
    ]
    (document,) = store.events_after(C, 0, limit=10)
    assert document.body == {"document_data": {"name": "ünï ✓"}}
    assert store.last_event_ids([A, B, C]) == {A: 3, B: 2, C: 1}


def test_inside_atomic_the_events_are_there_when_it_ends(store: Store) -> None:
    with store.atomic():
        assert store.journal([(A, "list_item_added", {"item_index": 0})], now=1.0) == [1]
        assert store.journal([(A, "list_item_added", {"item_index": 1})], now=1.0) == [2]
        assert store.journal([(B, "map_item_added", {"item_key": "k"})], now=1.0) == [1]
    assert ids_of(store, A) == [1, 2]
    assert ids_of(store, B) == [1]


def test_a_rolled_back_block_leaves_neither_ids_nor_events(store: Store) -> None:
    store.journal([(A, "list_item_added", {"item_index": 0})], now=1.0)

    class Boom(Exception):
        pass

    def journal_then_fail() -> None:
        with store.atomic():
            assert store.journal([(A, "list_item_added", {"item_index": 1})], now=2.0) == [2]
            assert store.journal([(B, "map_item_added", {"item_key": "k"})], now=2.0) == [1]
            raise Boom

    with pytest.raises(Boom):
        journal_then_fail()
    assert store.last_event_ids([A, B]) == {A: 1, B: 0}
    assert ids_of(store, A) == [1]
    assert ids_of(store, B) == []
    # The ids taken in the block are taken again.
    assert store.journal([(A, "list_item_added", {"item_index": 1})], now=3.0) == [2]
    assert store.journal([(B, "map_item_added", {"item_key": "k"})], now=3.0) == [1]


def test_events_after_in_order_with_a_limit(store: Store) -> None:
    for i in range(10):
        store.journal([(A, "list_item_added", {"item_index": i})], now=float(i))
    store.journal([(B, "map_item_added", {"item_key": "other"})], now=1.0)
    assert ids_of(store, A) == list(range(1, 11))
    page = store.events_after(A, 3, limit=4)
    assert [e.id for e in page] == [4, 5, 6, 7]
    assert [e.body["item_index"] for e in page] == [3, 4, 5, 6]
    assert [e.id for e in store.events_after(A, 8, limit=100)] == [9, 10]
    assert store.events_after(A, 10, limit=100) == []
    assert store.events_after(C, 0, limit=100) == []


def test_last_event_ids_of_unknown_objects_are_zero(store: Store) -> None:
    assert store.last_event_ids([]) == {}
    assert store.last_event_ids([A, B]) == {A: 0, B: 0}
    store.journal([(A, "list_item_added", {"item_index": 0})], now=1.0)
    assert store.last_event_ids([B, A, C]) == {A: 1, B: 0, C: 0}


def test_pruning_removes_only_older_events(store: Store) -> None:
    assert store.first_event_id(A) is None
    store.journal([(A, "list_item_added", {"item_index": i}) for i in range(2)], now=100.0)
    store.journal([(B, "map_item_added", {"item_key": "old"})], now=100.0)
    store.journal([(A, "list_item_added", {"item_index": i}) for i in range(2, 4)], now=200.0)
    assert store.first_event_id(A) == 1
    assert store.prune_events(before=100.0) == 0  # strictly older only
    assert store.prune_events(before=150.0) == 3
    assert store.first_event_id(A) == 3
    assert store.first_event_id(B) is None
    assert ids_of(store, A) == [3, 4]
    # The ids go on from the last, whatever was pruned.
    assert store.last_event_ids([A, B]) == {A: 4, B: 1}
    assert store.prune_events(before=1000.0) == 2
    assert store.first_event_id(A) is None
    assert store.journal([(A, "list_item_added", {"item_index": 4})], now=300.0) == [5]
    assert store.first_event_id(A) == 5


def test_threads_journaling_one_object_never_share_an_id(store: Store) -> None:
    threads, per_thread = 4, 15
    start = threading.Barrier(threads)
    taken: list[list[int]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                taken[slot] += store.journal(
                    [(A, "list_item_added", {"item_index": i}), (B, "map_item_added", {})],
                    now=1.0,
                )
        except BaseException as exc:  # reported on the test's thread
            errors.append(exc)

    running = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    assert errors == []
    total = threads * per_thread
    assert sorted(i for mine in taken for i in mine) == sorted(list(range(1, total + 1)) * 2)
    assert ids_of(store, A) == ids_of(store, B) == list(range(1, total + 1))
    assert store.last_event_ids([A, B]) == {A: total, B: total}


@pytest.mark.parametrize("backend", ["postgresql"])
def test_ids_commit_in_their_order(store: Store) -> None:
    """A holds its transaction open after taking id 1; B, taking id 2 of the same object,
    waits for A to commit: a reader never sees id 2 without id 1."""
    a_journaled = threading.Event()
    a_release = threading.Event()
    b_done = threading.Event()
    ids: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def a() -> None:
        try:
            with store.atomic():
                ids["a"] = store.journal([(A, "list_item_added", {"by": "a"})], now=1.0)
                a_journaled.set()
                assert a_release.wait(10)
        except BaseException as exc:
            errors.append(exc)
            a_journaled.set()

    def b() -> None:
        try:
            ids["b"] = store.journal([(A, "list_item_added", {"by": "b"})], now=2.0)
        except BaseException as exc:
            errors.append(exc)
        finally:
            b_done.set()

    first = threading.Thread(target=a)
    first.start()
    assert a_journaled.wait(10)
    second = threading.Thread(target=b)
    second.start()
    try:
        assert not b_done.wait(0.5), "B took an id while A's transaction was open"
        # A reader sees neither: A's id is not committed, and B's waits behind it.
        assert store.last_event_ids([A]) == {A: 0}
        assert store.events_after(A, 0, limit=10) == []
    finally:
        a_release.set()
        first.join(10)
        second.join(10)
    assert errors == []
    assert ids == {"a": [1], "b": [2]}
    events = store.events_after(A, 0, limit=10)
    assert [(e.id, e.body["by"]) for e in events] == [(1, "a"), (2, "b")]


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_rolled_back_holder_lets_the_waiter_take_its_id(store: Store) -> None:
    a_journaled = threading.Event()
    a_release = threading.Event()
    ids: dict[str, list[int]] = {}

    class Abort(Exception):
        pass

    def a() -> None:
        try:
            with store.atomic():
                store.journal([(A, "list_item_added", {"by": "a"})], now=1.0)
                a_journaled.set()
                a_release.wait(10)
                raise Abort
        except Abort:
            pass

    def b() -> None:
        ids["b"] = store.journal([(A, "list_item_added", {"by": "b"})], now=2.0)

    first = threading.Thread(target=a)
    first.start()
    assert a_journaled.wait(10)
    second = threading.Thread(target=b)
    second.start()
    time.sleep(0.2)
    a_release.set()
    first.join(10)
    second.join(10)
    assert ids == {"b": [1]}
    assert [(e.id, e.body["by"]) for e in store.events_after(A, 0, limit=10)] == [(1, "b")]


def test_pruning_goes_in_batches(store: Store) -> None:
    store.journal([(A, "list_item_added", {"item_index": i}) for i in range(5)], now=100.0)
    store.journal([(B, "map_item_added", {"item_key": "new"})], now=300.0)
    assert [store.prune_events(before=200.0, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    assert store.first_event_id(A) is None
    assert ids_of(store, B) == [1]
