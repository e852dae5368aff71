"""The Sync projection: what each chat action journals for the objects Twilio's SDKs read, and
what a user may read of those objects (``SyncReads``), through the chat core's operations."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from hubbub.chat import channels, members, messages, users
from hubbub.chat.errors import ApiError
from hubbub.store.records import SyncEvent
from hubbub.sync import objects
from hubbub.sync.objects import CHANNEL_DOCUMENT, MESSAGES, MY_CHANNELS, ROSTER, USER_INFO
from hubbub.sync.reads import SyncReads
from tests.twilsock.conftest import BASE, World


def journal(world: World, sid: str) -> list[SyncEvent]:
    return world.store.events_after(sid, 0, limit=10_000)


def kinds(world: World, sid: str) -> list[str]:
    return [event.event_type for event in journal(world, sid)]


def user_sid(world: World, identity: str) -> str:
    return world.store.get_user(world.service_sid, identity).sid


def create(world: World, identity: str | None, name: str, kind: str = "public") -> str:
    outcome = channels.create_channel(
        world.core, world.actor(identity), {"unique_name": name, "type": kind}
    )
    assert outcome.resource is not None
    return str(outcome.resource["sid"])


def send(world: World, identity: str, channel: str, body: str) -> dict[str, Any]:
    outcome = messages.send_message(world.core, world.actor(identity), channel, {"body": body})
    assert outcome.resource is not None
    return outcome.resource


def assert_consecutive(events: list[SyncEvent]) -> None:
    assert [event.id for event in events] == list(range(1, len(events) + 1))


# -- the projection -------------------------------------------------------------------------------
def test_a_message_adds_a_list_item_at_its_index_and_updates_the_document(world: World) -> None:
    room = create(world, "alice", "room")
    list_sid = objects.of(MESSAGES, room)
    document_sid = objects.of(CHANNEL_DOCUMENT, room)
    assert journal(world, list_sid) == []
    sent = [send(world, "alice", room, f"message {i} ✓") for i in range(3)]

    items = journal(world, list_sid)
    assert_consecutive(items)
    assert [event.event_type for event in items] == ["list_item_added"] * 3
    assert [event.body["item_index"] for event in items] == [m["index"] for m in sent] == [0, 1, 2]
    first = items[0].body["item_data"]
    assert (first["sid"], first["text"], first["author"]) == (
        sent[0]["sid"],
        "message 0 ✓",
        "alice",
    )

    # A document's events are not kept (a replay sends it whole), but take their ids; the
    # newest rides with the message that caused it.
    assert journal(world, document_sid) == []
    outcome = messages.send_message(world.core, world.actor("alice"), room, {"body": "four"})
    riders = {rider.audience[1]: rider.frame for rider in outcome.events[0].riders}
    assert riders[document_sid]["event_type"] == "document_updated"
    assert riders[document_sid]["event"]["id"] == 4
    last = riders[document_sid]["event"]["document_data"]
    assert last["lastMessage"]["index"] == 3
    assert last["messages"] == list_sid
    assert last["roster"] == objects.of(ROSTER, room)
    assert world.store.last_event_ids([list_sid, document_sid]) == {
        list_sid: 4,
        document_sid: 4,
    }


def test_an_actions_events_carry_the_journals_with_their_ids(world: World) -> None:
    room = create(world, "alice", "room")
    send(world, "alice", room, "one")
    outcome = messages.send_message(world.core, world.actor("alice"), room, {"body": "two"})
    riders = [rider for event in outcome.events for rider in event.riders]
    by_object = {rider.audience[1]: rider.frame for rider in riders}
    assert all(rider.audience[0] == "object" for rider in riders)
    list_sid = objects.of(MESSAGES, room)
    assert set(by_object) == {list_sid, objects.of(CHANNEL_DOCUMENT, room)}
    added = by_object[list_sid]
    assert added["event_type"] == "list_item_added"
    assert added["event"]["id"] == 2
    assert added["event"]["list_sid"] == list_sid
    assert added["event"]["item_index"] == 1
    assert added["event"]["item_revision"] == "2"


def test_editing_and_removing_messages_change_list_items(world: World) -> None:
    room = create(world, "alice", "room")
    sent = send(world, "alice", room, "typo")
    messages.edit_message(world.core, world.actor("alice"), room, sent["sid"], {"body": "fixed"})
    messages.remove_message(world.core, world.actor("alice"), room, sent["sid"])
    events = journal(world, objects.of(MESSAGES, room))
    assert_consecutive(events)
    assert [(e.event_type, e.body["item_index"]) for e in events] == [
        ("list_item_added", 0),
        ("list_item_updated", 0),
        ("list_item_removed", 0),
    ]
    assert events[1].body["item_data"]["text"] == "fixed"


def test_membership_changes_the_roster_and_my_channels(world: World) -> None:
    room = create(world, "alice", "room")
    roster = objects.of(ROSTER, room)
    alice_map = objects.of(MY_CHANNELS, user_sid(world, "alice"))
    # The creator joined with the channel.
    assert kinds(world, roster) == ["map_item_added"]
    assert [(e.event_type, e.body["item_key"]) for e in journal(world, alice_map)] == [
        ("map_item_added", room)
    ]

    joined = members.join(world.core, world.actor("bob"), room).resource
    assert joined is not None
    bob = user_sid(world, "bob")
    bob_map = objects.of(MY_CHANNELS, bob)
    added = journal(world, roster)[-1]
    assert added.event_type == "map_item_added"
    assert added.body["item_key"] == joined["sid"]
    assert added.body["item_data"]["identity"] == "bob"
    assert added.body["item_data"]["userInfo"] == objects.of(USER_INFO, bob)
    mine = journal(world, bob_map)
    assert [(e.event_type, e.body["item_key"]) for e in mine] == [("map_item_added", room)]
    assert mine[0].body["item_data"]["status"] == "joined"
    assert mine[0].body["item_data"]["messages"] == objects.of(MESSAGES, room)

    send(world, "alice", room, "hello")
    members.set_read_horizon(world.core, world.actor("bob"), room, 0)
    updated = journal(world, roster)[-1]
    assert (updated.event_type, updated.body["item_key"]) == ("map_item_updated", joined["sid"])
    assert updated.body["item_data"]["lastConsumedMessageIndex"] == 0
    horizon = journal(world, bob_map)[-1]
    assert (horizon.event_type, horizon.body["item_key"]) == ("map_item_updated", room)
    assert horizon.body["item_data"]["lastConsumedMessageIndex"] == 0

    members.remove_member(world.core, world.actor("bob"), room)
    left = journal(world, roster)[-1]
    assert (left.event_type, left.body["item_key"]) == ("map_item_removed", joined["sid"])
    gone = journal(world, bob_map)[-1]
    assert (gone.event_type, gone.body["item_key"]) == ("map_item_removed", room)
    assert "item_data" not in gone.body
    for sid in (roster, alice_map, bob_map):
        assert_consecutive(journal(world, sid))
    assert kinds(world, bob_map) == ["map_item_added", "map_item_updated", "map_item_removed"]


def test_an_invite_adds_an_invited_item_to_the_invitees_map(world: World) -> None:
    room = create(world, "alice", "secret", "private")
    world.actor("carol")  # the doors make the invitee's user first
    members.invite(world.core, world.actor("alice"), room, {"identity": "carol"})
    carol_map = objects.of(MY_CHANNELS, user_sid(world, "carol"))
    (invited,) = journal(world, carol_map)
    assert (invited.event_type, invited.body["item_key"]) == ("map_item_added", room)
    assert invited.body["item_data"]["status"] == "invited"


def test_a_user_update_changes_their_info_map(world: World) -> None:
    world.actor("alice")
    users.update_user(
        world.core,
        world.actor("alice"),
        "alice",
        {"friendly_name": "Alice", "attributes": '{"a":1}'},
    )
    info = objects.of(USER_INFO, user_sid(world, "alice"))
    events = journal(world, info)
    assert_consecutive(events)
    by_key = {e.body["item_key"]: e for e in events}
    assert set(by_key) == {"friendlyName", "attributes", "reachability"}
    assert all(e.event_type == "map_item_updated" for e in events)
    assert by_key["friendlyName"].body["item_data"] == {"value": "Alice"}
    assert by_key["attributes"].body["item_data"] == {"value": '{"a":1}'}


def test_a_channel_update_updates_its_document(world: World) -> None:
    room = create(world, "alice", "room")
    document_sid = objects.of(CHANNEL_DOCUMENT, room)
    outcome = channels.update_channel(
        world.core, world.actor("alice"), room, {"friendly_name": "Room ✓"}
    )
    (rider,) = [r for e in outcome.events for r in e.riders if r.audience[1] == document_sid]
    assert rider.frame["event_type"] == "document_updated"
    updated = rider.frame["event"]
    assert updated["document_data"]["friendlyName"] == "Room ✓"
    assert "lastMessage" not in updated["document_data"]
    assert world.store.last_event_ids([document_sid])[document_sid] == updated["id"] == 1


def test_deleting_a_channel_removes_its_objects_and_leaves_every_members_map(
    world: World,
) -> None:
    room = create(world, "alice", "room")
    for identity in ("bob", "carol"):
        members.join(world.core, world.actor(identity), room)
    send(world, "bob", room, "bye")
    channels.delete_channel(world.core, world.actor("alice"), room)
    assert kinds(world, objects.of(CHANNEL_DOCUMENT, room))[-1] == "document_removed"
    assert kinds(world, objects.of(MESSAGES, room))[-1] == "list_removed"
    assert kinds(world, objects.of(ROSTER, room))[-1] == "map_removed"
    for identity in ("alice", "bob", "carol"):
        last = journal(world, objects.of(MY_CHANNELS, user_sid(world, identity)))[-1]
        assert (last.event_type, last.body["item_key"]) == ("map_item_removed", room), identity
    for kind in (MESSAGES, ROSTER):
        assert_consecutive(journal(world, objects.of(kind, room)))


def test_actions_that_change_no_object_journal_nothing(world: World) -> None:
    room = create(world, None, "api")  # the server creates it: nobody joins
    assert journal(world, objects.of(CHANNEL_DOCUMENT, room)) == []
    assert journal(world, objects.of(ROSTER, room)) == []


# -- who reads what --------------------------------------------------------------------------------
@pytest.fixture
def reads(world: World) -> SyncReads:
    return SyncReads(world.core, BASE)


def refused(
    reads: SyncReads, world: World, identity: str, sid: str, kind: str | None = None
) -> int:
    with pytest.raises(ApiError) as caught:
        reads.ref(world.actor(identity), sid, kind)
    return caught.value.status


def test_a_private_channels_objects_are_missing_to_non_members(
    world: World, reads: SyncReads
) -> None:
    secret = create(world, "alice", "secret", "private")
    for kind in (CHANNEL_DOCUMENT, MESSAGES, ROSTER):
        assert refused(reads, world, "mallory", objects.of(kind, secret)) == 404
        assert reads.ref(world.actor("alice"), objects.of(kind, secret)).owner_sid == secret
    # An invitee sees the document (to decide whether to join), not the messages.
    members.invite(world.core, world.actor("alice"), secret, {"identity": "carol"})
    assert reads.ref(world.actor("carol"), objects.of(CHANNEL_DOCUMENT, secret)).kind == "ET"
    assert refused(reads, world, "carol", objects.of(MESSAGES, secret)) == 403


def test_a_public_channels_document_is_public_its_messages_are_not(
    world: World, reads: SyncReads
) -> None:
    room = create(world, "alice", "room")
    send(world, "alice", room, "hello")
    document = objects.of(CHANNEL_DOCUMENT, room)
    ref = reads.ref(world.actor("bob"), document, "Documents")
    described = reads.descriptor(world.actor("bob"), ref)
    assert described["sid"] == document
    assert described["data"]["lastMessage"]["index"] == 0
    assert described["last_event_id"] == 1
    assert refused(reads, world, "bob", objects.of(MESSAGES, room)) == 403
    assert refused(reads, world, "bob", objects.of(ROSTER, room)) == 403
    members.join(world.core, world.actor("bob"), room)
    listed = reads.ref(world.actor("bob"), objects.of(MESSAGES, room), "Lists")
    page = reads.items(world.actor("bob"), listed, {})
    assert [item["index"] for item in page["items"]] == [0]
    assert page["items"][0]["data"]["text"] == "hello"
    assert page["items"][0]["last_event_id"] == 1


def test_only_its_user_reads_my_channels(world: World, reads: SyncReads) -> None:
    room = create(world, "alice", "room")
    alice_map = objects.of(MY_CHANNELS, user_sid(world, "alice"))
    assert refused(reads, world, "bob", alice_map) == 403
    ref = reads.ref(world.actor("alice"), alice_map, "Maps")
    described = reads.descriptor(world.actor("alice"), ref, with_items=True)
    assert [item["key"] for item in described["items"]] == [room]
    assert described["items"][0]["data"]["status"] == "joined"
    # A user's info map is readable by others (names and reachability are shown to peers).
    info = objects.of(USER_INFO, user_sid(world, "alice"))
    assert reads.ref(world.actor("bob"), info).kind == USER_INFO


def test_objects_of_another_service_or_of_no_kind_are_missing(
    world: World, reads: SyncReads
) -> None:
    other = world.store.create_service(world.creds.account_sid, friendly_name="other")
    elsewhere = world.store.create_channel(other.sid, unique_name="room").sid
    stranger = world.store.create_user(other.sid, "alice").sid
    world.store.create_member(other.sid, elsewhere, "alice")
    for sid in (
        objects.of(CHANNEL_DOCUMENT, elsewhere),
        objects.of(MESSAGES, elsewhere),
        objects.of(MY_CHANNELS, stranger),
        objects.of(USER_INFO, stranger),
        "ZZ" + elsewhere[2:],
        "ET123",
        "",
    ):
        assert refused(reads, world, "alice", sid) == 404, sid
    room = create(world, "alice", "room")
    # The right object asked for as the wrong type is missing too.
    assert refused(reads, world, "alice", objects.of(MESSAGES, room), "Maps") == 404
    assert refused(reads, world, "alice", objects.of(CHANNEL_DOCUMENT, room), "Lists") == 404


# -- paging the messages list ----------------------------------------------------------------------
def _page(reads: SyncReads, world: World, sid: str, params: dict[str, str]) -> dict[str, Any]:
    actor = world.actor("alice")
    return reads.items(actor, reads.ref(actor, sid, "Lists"), params)


def _walk(reads: SyncReads, world: World, sid: str, first: dict[str, str]) -> list[list[int]]:
    """Every page from ``first`` on, by ``next_token``."""
    pages = []
    params = first
    while True:
        page = _page(reads, world, sid, params)
        pages.append([item["index"] for item in page["items"]])
        token = page["meta"]["next_token"]
        if token is None:
            return pages
        params = {"PageToken": token, "PageSize": first["PageSize"]}
        assert len(pages) < 100


@pytest.fixture
def history(world: World) -> tuple[str, list[int]]:
    """A channel with 23 messages, two of them deleted (indexes have gaps)."""
    room = create(world, "alice", "room")
    sent = [send(world, "alice", room, str(i)) for i in range(23)]
    for index in (5, 17):
        messages.remove_message(world.core, world.actor("alice"), room, sent[index]["sid"])
    return objects.of(MESSAGES, room), [i for i in range(23) if i not in (5, 17)]


def test_paging_forwards_and_backwards_visits_every_index_once(
    world: World, reads: SyncReads, history: tuple[str, list[int]]
) -> None:
    sid, indexes = history
    forwards = _walk(reads, world, sid, {"PageSize": "4"})
    assert [len(page) for page in forwards] == [4, 4, 4, 4, 4, 1]
    assert [i for page in forwards for i in page] == indexes
    backwards = _walk(reads, world, sid, {"PageSize": "4", "Order": "desc"})
    assert [i for page in backwards for i in page] == indexes[::-1]

    # Each page's previous_token is the page before it, in the same order (twilio-sync 1.x
    # sends the token alone and shows what comes back as it is).
    params: dict[str, str] = {"PageSize": "4"}
    pages = []
    while True:
        page = _page(reads, world, sid, params)
        pages.append(page)
        if page["meta"]["next_token"] is None:
            break
        params = {"PageSize": "4", "PageToken": page["meta"]["next_token"]}
    assert pages[0]["meta"]["previous_token"] is None
    for before, page in itertools.pairwise(pages):
        token = page["meta"]["previous_token"]
        assert token is not None
        previous = _page(reads, world, sid, {"PageToken": token})
        assert [item["index"] for item in previous["items"]] == [
            item["index"] for item in before["items"]
        ]

    # From the last page back to the first, by previous_token alone: every index, once.
    seen = [[item["index"] for item in pages[-1]["items"]]]
    token = pages[-1]["meta"]["previous_token"]
    while token is not None:
        page = _page(reads, world, sid, {"PageToken": token})
        seen.insert(0, [item["index"] for item in page["items"]])
        token = page["meta"]["previous_token"]
    assert [i for found in seen for i in found] == indexes


def test_paging_from_an_index(
    world: World, reads: SyncReads, history: tuple[str, list[int]]
) -> None:
    sid, indexes = history
    up = _walk(reads, world, sid, {"PageSize": "5", "From": "5"})
    assert [i for page in up for i in page] == [i for i in indexes if i >= 5]
    first = _page(reads, world, sid, {"PageSize": "5", "From": "5"})
    assert first["meta"]["previous_token"] is not None
    earlier = _page(
        reads, world, sid, {"PageSize": "5", "PageToken": first["meta"]["previous_token"]}
    )
    assert [item["index"] for item in earlier["items"]] == [0, 1, 2, 3, 4]
    down = _walk(reads, world, sid, {"PageSize": "5", "From": "17", "Order": "desc"})
    assert [i for page in down for i in page] == [i for i in indexes if i <= 17][::-1]
    beyond = _page(reads, world, sid, {"PageSize": "5", "From": "100"})
    assert beyond["items"] == []
    assert beyond["meta"]["next_token"] is None


@pytest.mark.parametrize(
    "params",
    [{"PageSize": "0"}, {"PageSize": "101"}, {"PageSize": "x"}, {"Order": "up"}, {"From": "-1"}],
)
def test_bad_paging_parameters_are_refused(
    world: World, reads: SyncReads, history: tuple[str, list[int]], params: dict[str, str]
) -> None:
    sid, _ = history
    with pytest.raises(ApiError) as caught:
        _page(reads, world, sid, params)
    assert caught.value.status == 400


def test_paging_the_roster_by_key(world: World, reads: SyncReads) -> None:
    room = create(world, "alice", "room")
    for identity in ("bob", "carol", "dave"):
        members.join(world.core, world.actor(identity), room)
    actor = world.actor("alice")
    ref = reads.ref(actor, objects.of(ROSTER, room), "Maps")
    keys: list[str] = []
    params: dict[str, str] = {"PageSize": "3"}
    while True:
        page = reads.items(actor, ref, params)
        keys += [item["key"] for item in page["items"]]
        if page["meta"]["next_token"] is None:
            break
        params = {"PageSize": "3", "PageToken": page["meta"]["next_token"]}
    expected = sorted(m.sid for m in world.store.list_members(world.service_sid, room).items)
    assert keys == expected
    one = reads.items(actor, ref, {"Key": expected[2]})
    assert [item["key"] for item in one["items"]] == [expected[2]]


def test_removing_the_last_message_moves_the_documents_last_message_back(world: World) -> None:
    room = create(world, "alice", "room")
    sent = [send(world, "alice", room, body) for body in ("one", "two")]
    outcome = messages.remove_message(world.core, world.actor("alice"), room, sent[1]["sid"])
    document_sid = objects.of(CHANNEL_DOCUMENT, room)
    (rider,) = [r for e in outcome.events for r in e.riders if r.audience[1] == document_sid]
    data = rider.frame["event"]["document_data"]
    assert data["lastMessage"]["index"] == sent[0]["index"] == 0
    # The list heard of the removal too.
    assert kinds(world, objects.of(MESSAGES, room))[-1] == "list_item_removed"
