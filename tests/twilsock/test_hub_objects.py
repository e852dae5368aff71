"""The hub's Sync audiences: an event for ``("object", sid)`` reaches the connections following
that object, and no other."""

from __future__ import annotations

from dataclasses import dataclass, field

from hubbub.chat.events import Event
from hubbub.realtime.hub import Hub
from hubbub.realtime.protocol import CloseCode, Outgoing

SERVICE = "IS" + "1" * 32
LIST = "ES" + "a" * 32
MAP = "MM" + "b" * 32


@dataclass(eq=False)
class Connection:
    identity: str
    service_sid: str = SERVICE
    heard: list[dict[str, object]] = field(default_factory=list)
    ended: list[CloseCode] = field(default_factory=list)

    def push(self, frame: Outgoing) -> None:
        self.heard.append(frame.frame)

    def end(self, code: CloseCode, reason: str) -> None:
        self.ended.append(code)


def sync_event(sid: str, n: int) -> Event:
    return Event(("object", sid), {"event_type": "list_item_added", "event": {"id": n}})


def test_object_events_reach_only_followers() -> None:
    hub = Hub()
    alice, bob, carol = Connection("alice"), Connection("bob"), Connection("carol")
    for connection in (alice, bob, carol):
        hub.add(connection, [])
    hub.follow(alice, LIST)
    hub.follow(bob, LIST)
    hub.follow(bob, MAP)
    hub.deliver(sync_event(LIST, 1))
    hub.deliver(sync_event(MAP, 1))
    assert [f["event"] for f in alice.heard] == [{"id": 1}]
    assert len(bob.heard) == 2
    assert carol.heard == []
    # Nobody follows an object: its event goes nowhere (not to the service).
    hub.deliver(sync_event("ET" + "c" * 32, 1))
    assert (len(alice.heard), len(bob.heard), len(carol.heard)) == (1, 2, 0)


def test_following_twice_delivers_once_and_unfollow_stops_it() -> None:
    hub = Hub()
    alice, bob = Connection("alice"), Connection("bob")
    hub.add(alice, [])
    hub.add(bob, [])
    hub.follow(alice, LIST)
    hub.follow(alice, LIST)
    hub.follow(bob, LIST)
    hub.deliver(sync_event(LIST, 1))
    assert len(alice.heard) == 1
    hub.unfollow(alice, LIST)
    hub.unfollow(alice, LIST)  # again: nothing to undo
    hub.unfollow(alice, MAP)  # never followed
    hub.deliver(sync_event(LIST, 2))
    assert [f["event"] for f in alice.heard] == [{"id": 1}]
    assert [f["event"] for f in bob.heard] == [{"id": 1}, {"id": 2}]
    hub.follow(alice, LIST)
    hub.deliver(sync_event(LIST, 3))
    assert [f["event"] for f in alice.heard] == [{"id": 1}, {"id": 3}]


def test_a_removed_connection_follows_nothing() -> None:
    hub = Hub()
    alice, bob = Connection("alice"), Connection("bob")
    hub.add(alice, ["CH" + "1" * 32])
    hub.add(bob, [])
    hub.follow(alice, LIST)
    hub.follow(alice, MAP)
    hub.follow(bob, MAP)
    hub.remove(alice)
    hub.deliver(sync_event(LIST, 1))
    hub.deliver(sync_event(MAP, 1))
    assert alice.heard == []
    assert len(bob.heard) == 1
    assert hub.connections() == 1
    # The hub keeps no entry for an object nobody follows (it would grow without bound).
    hub.remove(bob)
    assert not hub._by_object
    assert not hub._objects_of


def test_following_does_not_change_the_other_audiences() -> None:
    hub = Hub()
    channel = "CH" + "1" * 32
    alice, bob = Connection("alice"), Connection("bob")
    hub.add(alice, [channel])
    hub.add(bob, [])
    hub.follow(bob, LIST)
    hub.deliver(Event(("channel", channel), {"type": "message_added"}))
    hub.deliver(Event(("user", SERVICE, "bob"), {"type": "channel_joined"}))
    assert [f["type"] for f in alice.heard] == ["message_added"]
    assert [f["type"] for f in bob.heard] == ["channel_joined"]
    assert hub.channels_of(bob) == []


def test_one_outgoing_for_all_followers() -> None:
    hub = Hub()
    got: list[Outgoing] = []

    class Keeping(Connection):
        def push(self, frame: Outgoing) -> None:
            got.append(frame)

    first, second = Keeping("alice"), Keeping("bob")
    hub.add(first, [])
    hub.add(second, [])
    hub.follow(first, LIST)
    hub.follow(second, LIST)
    hub.deliver(sync_event(LIST, 1))
    assert len(got) == 2
    assert got[0] is got[1]  # encoded once (and derived once) for every recipient
