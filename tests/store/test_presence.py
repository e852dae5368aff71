"""Presence across nodes: a user is online while a live node has a connection of theirs."""

from __future__ import annotations

from hubbub.store import Service, Store

T = 1_800_000_000.0  # the nodes' clock, moved by hand
LEASE = 6.0


def test_online_while_any_node_has_the_user(store: Store, service: Service) -> None:
    store.create_user(service.sid, "alice")
    joined = store.join_presence("A", service.sid, "alice", now=T, lease_until=T + LEASE)
    assert joined is not None
    assert joined.is_online
    # Her second node changes nothing anyone sees.
    assert store.join_presence("B", service.sid, "alice", now=T, lease_until=T + LEASE) is None
    assert store.leave_presence("A", service.sid, "alice", now=T + 1) is None
    assert store.get_user(service.sid, "alice").is_online
    left = store.leave_presence("B", service.sid, "alice", now=T + 2)
    assert left is not None
    assert not left.is_online
    assert not store.get_user(service.sid, "alice").is_online
    # Leaving again, or a user who was never online, says nothing.
    assert store.leave_presence("B", service.sid, "alice", now=T + 3) is None
    assert store.leave_presence("A", service.sid, "nobody", now=T + 3) is None


def test_a_silent_node_is_expired_and_its_users_go_offline(store: Store, service: Service) -> None:
    for identity in ("alice", "bob"):
        store.create_user(service.sid, identity)
    store.join_presence("A", service.sid, "alice", now=T, lease_until=T + LEASE)
    store.join_presence("A", service.sid, "bob", now=T, lease_until=T + LEASE)
    store.join_presence("B", service.sid, "bob", now=T, lease_until=T + LEASE)
    assert store.expire_presence(now=T + LEASE - 1) == []
    store.renew_presence("B", lease_until=T + 2 * LEASE)  # B lives on; A went silent
    gone = store.expire_presence(now=T + LEASE)
    assert [(account, user.identity, user.is_online) for account, user in gone] == [
        (service.account_sid, "alice", False)
    ]
    assert store.get_user(service.sid, "bob").is_online
    # A node that leaves takes its users with it at once.
    assert [u.identity for _, u in store.expire_presence(now=T + LEASE, nodes=["B"])] == ["bob"]
    assert not store.get_user(service.sid, "bob").is_online


def test_a_user_on_an_expired_node_only_is_not_online_elsewhere(
    store: Store, service: Service
) -> None:
    store.create_user(service.sid, "alice")
    store.join_presence("A", service.sid, "alice", now=T, lease_until=T + LEASE)
    # Long after A went silent (not yet expired), alice comes to B: she is online anew.
    joined = store.join_presence("B", service.sid, "alice", now=T + 60, lease_until=T + 66)
    assert joined is not None
    assert joined.is_online
    # B's lease also ends; whoever looks next marks her offline.
    assert [u.identity for _, u in store.expire_presence(now=T + 70)] == ["alice"]


def test_deleting_a_user_forgets_their_presence(store: Store, service: Service) -> None:
    store.create_user(service.sid, "alice")
    store.join_presence("A", service.sid, "alice", now=T, lease_until=T + LEASE)
    store.delete_user(service.sid, "alice")
    assert store.leave_presence("A", service.sid, "alice", now=T + 1) is None
    assert store.expire_presence(now=T + 100) == []


def test_a_renewal_says_whether_the_lease_was_still_there(store: Store, service: Service) -> None:
    assert store.renew_presence("A", lease_until=T + LEASE) is False  # a new node
    assert store.renew_presence("A", lease_until=T + 2 * LEASE) is True
    store.expire_presence(now=T + 3 * LEASE)  # the others took A for dead
    assert store.renew_presence("A", lease_until=T + 4 * LEASE) is False
