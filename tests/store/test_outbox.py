"""The outbox of post-event webhooks, ``atomic`` blocks, and leases, on every backend."""

from __future__ import annotations

import dataclasses

import pytest

from hubbub.store import Conflict, LimitExceeded, Service, Store
from hubbub.store.outbox import CHUNK
from hubbub.store.records import NewDelivery, ServiceLimits

T = 1_800_000_000.0


def _new(lane: str, name: str, retry_count: int = 0) -> NewDelivery:
    return NewDelivery(lane, "AC1", "https://hooks.example/in", "POST", (("N", name),), retry_count)


def _names(store: Store, now: float = T, busy: tuple[str, ...] = ()) -> list[str]:
    return [d.new.params[0][1] for d in store.due_deliveries(now=now, limit=100, busy=busy)]


def test_deliveries_come_back_in_order_with_their_fields(store: Store) -> None:
    store.queue_deliveries([_new("CH1", "a", 2), _new("CH2", "b")])
    store.queue_deliveries([_new("CH1", "c")])
    found = store.due_deliveries(now=T, limit=100)
    assert [d.new.params for d in found] == [(("N", "a"),), (("N", "b"),), (("N", "c"),)]
    assert found[0].new == _new("CH1", "a", 2)
    assert found[0].attempts == 0
    assert found[0].id < found[1].id < found[2].id
    assert [d.new.params[0][1] for d in store.due_deliveries(now=T, limit=2)] == ["a", "b"]


def test_settled_deliveries_are_forgotten_and_retries_hold_their_lane(store: Store) -> None:
    store.queue_deliveries([_new("CH1", "a", 1), _new("CH1", "b"), _new("CH2", "c")])
    first, _, third = store.due_deliveries(now=T, limit=100)
    store.settle_deliveries(sent=[third.id], retry=[(first.id, T + 5)])
    # CH1 waits for its first delivery's retry; nothing of it overtakes.
    assert _names(store, T + 1) == []
    retried = store.due_deliveries(now=T + 5, limit=100)
    assert [d.new.params[0][1] for d in retried] == ["a", "b"]
    assert retried[0].attempts == 1
    store.settle_deliveries(sent=[d.id for d in retried])
    assert _names(store, T + 10) == []


def test_busy_lanes_are_left_out(store: Store) -> None:
    store.queue_deliveries([_new("CH1", "a"), _new("CH2", "b"), _new("CH1", "c")])
    assert _names(store, busy=("CH1",)) == ["b"]
    assert _names(store, busy=("CH1", "CH2")) == []


def test_atomic_commits_all_or_nothing(store: Store, service: Service) -> None:
    with store.atomic():
        channel = store.create_channel(service.sid, friendly_name="general", created_by="x")
        store.queue_deliveries([_new(channel.sid, "a")])
        # Reads inside the block see its writes.
        assert store.get_channel(service.sid, channel.sid).friendly_name == "general"
    assert _names(store) == ["a"]

    def failing_action() -> None:
        with store.atomic():
            store.update_channel(service.sid, channel.sid, friendly_name="renamed")
            store.queue_deliveries([_new(channel.sid, "b")])
            raise RuntimeError("the action failed after its writes")

    with pytest.raises(RuntimeError):
        failing_action()
    assert store.get_channel(service.sid, channel.sid).friendly_name == "general"
    assert _names(store) == ["a"]


def test_a_write_that_fails_inside_atomic_undoes_only_its_own_changes(
    store: Store, service: Service
) -> None:
    store.create_user(service.sid, "alice")
    config = dataclasses.replace(service.config, limits=ServiceLimits(channel_members=1))
    store.update_service(service.account_sid, service.sid, config=config)
    channel = store.create_channel(service.sid, unique_name="small")
    store.create_member(service.sid, channel.sid, "alice")
    with store.atomic():
        with pytest.raises(Conflict):
            store.create_user(service.sid, "alice")
        # Refused after its own writes (the member count): those are undone, not committed.
        with pytest.raises(LimitExceeded):
            store.create_member(service.sid, channel.sid, "bob")
        store.create_user(service.sid, "carol")  # the transaction goes on (PostgreSQL too)
    assert store.get_user(service.sid, "carol").identity == "carol"
    assert store.get_channel(service.sid, channel.sid).members_count == 1
    assert [m.identity for m in store.list_members(service.sid, channel.sid).items] == ["alice"]


def test_one_holder_has_a_lease_until_it_runs_out_or_is_dropped(store: Store) -> None:
    assert store.take_lease("outbox", "A", now=T, until=T + 6)
    assert not store.take_lease("outbox", "B", now=T + 1, until=T + 7)
    assert store.take_lease("outbox", "A", now=T + 2, until=T + 8)  # renewed
    assert not store.take_lease("outbox", "B", now=T + 8, until=T + 14)
    assert store.take_lease("outbox", "B", now=T + 8.5, until=T + 14)  # A went silent
    assert not store.take_lease("outbox", "A", now=T + 9, until=T + 15)
    store.drop_lease("outbox", "A")  # not A's: nothing happens
    assert not store.take_lease("outbox", "A", now=T + 9, until=T + 15)
    store.drop_lease("outbox", "B")
    assert store.take_lease("outbox", "A", now=T + 9, until=T + 15)
    assert store.take_lease("other", "B", now=T + 9, until=T + 15)
    # A holder named after a long host name (a Kubernetes pod's, say) is no trouble.
    long_name = f"4242:7f00aa@{'pod-' * 40}"
    assert store.take_lease("long", long_name, now=T, until=T + 6)
    assert store.take_lease("long", long_name, now=T + 1, until=T + 7)


def test_settling_more_than_a_chunk_forgets_them_all_and_counts_the_retries(store: Store) -> None:
    store.queue_deliveries([_new(f"L{i}", str(i)) for i in range(2 * CHUNK + 7)])
    found = store.due_deliveries(now=T, limit=10 * CHUNK)
    assert len(found) == 2 * CHUNK + 7
    sent, (retried, *_) = [d.id for d in found[1:]], found
    store.settle_deliveries(sent=sent, retry=[(retried.id, T + 5)])
    (left,) = store.due_deliveries(now=T + 5, limit=10 * CHUNK)
    assert (left.id, left.attempts) == (retried.id, 1)
