"""Twilio's own JS SDKs against a real ``hubbub serve``, feature by feature.

Each test runs once per SDK that has the feature (twilio-chat 5.x and 6.x, Conversations 2.x
and 3.x), with its clients in one driver process, and checks what really happened on both
sides: the events another client receives, with their content, and what the REST API shows
after an SDK's write (and the other way round).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException

from tests.twilio_sdk.conftest import SdkServer
from tests.twilio_sdk.driver import Driver, DriverError, Event, event_for
from tests.twilio_sdk.sdks import SDKS

CHAT_SDKS = tuple(sdk for sdk in SDKS if sdk.startswith("chat"))
Drivers = Callable[[str], Driver]
Fresh = Callable[[str], str]

#: How long a test waits for an event that should come (they take milliseconds), and how long
#: it waits to be sure that one that should not come (a duplicate) does not.
EVENT_WAIT = 10
QUIET_WAIT = 0.7


def is_chat(sdk: str) -> bool:
    return sdk.startswith("chat")


def channel(
    server: SdkServer,
    *identities: str,
    type: str = "private",
    **values: Any,
) -> str:
    """A channel made over REST with these members; its SID."""
    if isinstance(values.get("attributes"), dict):
        values["attributes"] = json.dumps(values["attributes"])
    created = server.chat.channels.create(type=type, **values)
    for identity in identities:
        server.chat.channels(created.sid).members.create(identity=identity)
    sid: str = created.sid
    return sid


def send_rest(server: SdkServer, sid: str, body: str, author: str, **attributes: Any) -> int:
    """A message sent over REST; its index."""
    sent = server.chat.channels(sid).messages.create(
        body=body, from_=author, attributes=json.dumps(attributes)
    )
    index: int = sent.index
    return index


def no_more(driver: Driver, test: Callable[[Event], bool], client: str) -> None:
    """Fails if an event passing ``test`` arrives for ``client`` within :data:`QUIET_WAIT`."""
    try:
        extra = driver.wait_event(test, timeout=QUIET_WAIT, client=client)
    except TimeoutError:
        return
    pytest.fail(f"an unexpected second event: {extra}")


def connection_states(driver: Driver) -> list[str]:
    return [event["data"]["state"] for event in driver.events("connectionStateChanged")]


def no_sdk_trouble(driver: Driver) -> None:
    assert driver.events("unhandledRejection") == [], driver.stderr
    assert driver.events("uncaughtException") == [], driver.stderr


def listen(driver: Driver, client: str, sid: str) -> list[dict[str, Any]]:
    """``client`` hears ``sid``'s events from now on, its roster loaded (a member who joins
    while the SDK still loads it is in the roster it reads, with no memberJoined); the roster."""
    driver.call("listen", client=client, sid=sid)
    members: list[dict[str, Any]] = driver.call("members", client=client, sid=sid)
    return members


def settle(driver: Driver, client: str, sid: str) -> None:
    """Waits until ``client``'s SDK has opened the roster and messages of a channel it just
    joined. A member removed (or a channel deleted) while the SDK is still opening them makes
    those reads fail, and the SDKs rethrow that as an unhandled rejection: an SDK race, which
    the tests keep out of the way."""
    driver.call("members", client=client, sid=sid)
    driver.call("getMessages", client=client, sid=sid)


@pytest.fixture(params=SDKS)
def sdk(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(params=CHAT_SDKS)
def chat_sdk(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def driver(sdk: str, drivers: Drivers) -> Iterator[Driver]:
    started = drivers(sdk)
    yield started
    no_sdk_trouble(started)


@pytest.fixture
def chat_driver(chat_sdk: str, drivers: Drivers) -> Iterator[Driver]:
    started = drivers(chat_sdk)
    yield started
    no_sdk_trouble(started)


@dataclass(frozen=True)
class Pair:
    """alice and bob, both connected in ``driver`` (clients "alice" and "bob"), in the private
    channel ``sid``, which bob listens to with its roster loaded."""

    driver: Driver
    sid: str
    alice: str
    bob: str


@pytest.fixture
def pair(sdk_server: SdkServer, driver: Driver, fresh: Fresh) -> Pair:
    alice, bob = fresh("alice"), fresh("bob")
    sid = channel(sdk_server, alice, bob, friendly_name="pair")
    sdk_server.connect(driver, "alice", alice)
    sdk_server.connect(driver, "bob", bob)
    listen(driver, "bob", sid)
    return Pair(driver, sid, alice, bob)


# --- Connecting, listing, finding ---------------------------------------------------------------


def test_connect_and_initialized(sdk_server: SdkServer, driver: Driver, fresh: Fresh) -> None:
    identity = fresh("alice")
    started = sdk_server.connect(driver, "alice", identity)
    assert started["identity"] == identity
    # twilio-chat 5.x resolves initialize() while it still registers for typing notifications
    # (its connection state goes connected, connecting, connected, as against Twilio).
    deadline = time.monotonic() + EVENT_WAIT
    while (states := connection_states(driver))[-1:] != ["connected"]:
        assert time.monotonic() < deadline, states
        time.sleep(0.05)
    assert "disconnected" not in states
    assert "denied" not in states
    if driver.sdk != "chat5":  # 5.x has no stateChanged: its initialize() resolving is all
        assert [e["data"]["state"] for e in driver.events("stateChanged")] == ["initialized"]
    # A new user is in no channel, and is who the token says.
    assert driver.call("subscribedChannels", client="alice") == []
    me = driver.call("getUser", client="alice", identity=identity)
    assert me["identity"] == identity


#: More channels than a page of the SDKs' (Sync's 50, and hubbub's my-channels pages of 50).
PAGED_CHANNELS = 53


@pytest.fixture(scope="module")
def paged_member(sdk_server: SdkServer) -> tuple[str, list[str]]:
    """A user in :data:`PAGED_CHANNELS` channels (made once for every SDK): identity, SIDs."""
    identity = f"pager-{time.monotonic_ns()}"
    sids = [
        channel(sdk_server, identity, friendly_name=f"paged {n:02}", unique_name=f"{identity}-{n}")
        for n in range(PAGED_CHANNELS)
    ]
    return identity, sids


def test_subscribed_channels_come_in_pages(
    sdk_server: SdkServer, driver: Driver, paged_member: tuple[str, list[str]]
) -> None:
    identity, sids = paged_member
    sdk_server.connect(driver, "pager", identity, timeoutMs=30000)
    pages = driver.call("subscribedChannelPages", client="pager", timeout=60)
    assert [len(page) for page in pages] == [50, PAGED_CHANNELS - 50]
    listed = [item for page in pages for item in page]
    assert sorted(item["sid"] for item in listed) == sorted(sids)
    assert {item["status"] for item in listed} == {"joined"}
    assert {item["friendlyName"] for item in listed} == {f"paged {n:02}" for n in range(53)}
    if is_chat(driver.sdk):  # twilio-chat lets the app choose the page size
        small = driver.call("subscribedChannelPages", client="pager", pageSize=20, timeout=60)
        assert [len(page) for page in small] == [20, 20, PAGED_CHANNELS - 40]
        assert sorted(item["sid"] for page in small for item in page) == sorted(sids)


def test_get_by_sid_and_by_unique_name(sdk_server: SdkServer, driver: Driver, fresh: Fresh) -> None:
    alice = fresh("alice")
    unique = fresh("room")
    sid = channel(
        sdk_server, alice, friendly_name="Room", unique_name=unique, attributes={"topic": "x"}
    )
    sdk_server.connect(driver, "alice", alice)
    by_sid = driver.call("getChannel", client="alice", sid=sid)
    by_name = driver.call("getChannel", client="alice", uniqueName=unique)
    for found in (by_sid, by_name):
        assert found["sid"] == sid
        assert found["uniqueName"] == unique
        assert found["friendlyName"] == "Room"
        assert found["attributes"] == {"topic": "x"}
        assert found["status"] == "joined"
    with pytest.raises(DriverError) as missing:
        driver.call("getChannel", client="alice", uniqueName=fresh("nowhere"))
    assert missing.value.kind == "sdk"


# --- Messages ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def history(sdk_server: SdkServer) -> tuple[str, str]:
    """A channel with seven messages (indexes 0 to 6) and a reader in it: (SID, reader)."""
    reader, author = f"reader-{time.monotonic_ns()}", f"author-{time.monotonic_ns()}"
    sid = channel(sdk_server, reader, author, friendly_name="history")
    for n in range(7):
        assert send_rest(sdk_server, sid, f"m{n}", author) == n
    return sid, reader


def indexes(page: dict[str, Any]) -> list[int]:
    return [item["index"] for item in page["items"]]


def test_history_pages_backwards_and_forwards(
    sdk_server: SdkServer, driver: Driver, history: tuple[str, str]
) -> None:
    sid, reader = history
    sdk_server.connect(driver, "reader", reader)
    last = driver.call("getMessages", client="reader", sid=sid, pageSize=3)
    assert indexes(last) == [4, 5, 6]
    assert [item["body"] for item in last["items"]] == ["m4", "m5", "m6"]
    assert (last["hasPrevPage"], last["hasNextPage"]) == (True, False)
    middle = driver.call("prevPage", client="reader", page=last["page"])
    assert indexes(middle) == [1, 2, 3]
    assert (middle["hasPrevPage"], middle["hasNextPage"]) == (True, True)
    first = driver.call("prevPage", client="reader", page=middle["page"])
    assert indexes(first) == [0]
    assert first["hasPrevPage"] is False
    # (No nextPage from here: twilio-sync 3.x and 4.x turn a page from the message at one of
    # its ends, and take index 0 for none (`!!prevPageItemId`), against Twilio as here.)

    forwards = driver.call(
        "getMessages", client="reader", sid=sid, pageSize=3, anchor=0, direction="forward"
    )
    assert indexes(forwards) == [0, 1, 2]
    assert (forwards["hasPrevPage"], forwards["hasNextPage"]) == (False, True)
    on = driver.call("nextPage", client="reader", page=forwards["page"])
    assert indexes(on) == [3, 4, 5]
    end = driver.call("nextPage", client="reader", page=on["page"])
    assert indexes(end) == [6]
    assert end["hasNextPage"] is False
    back = driver.call("prevPage", client="reader", page=end["page"])
    assert indexes(back) == [3, 4, 5]
    start = driver.call("prevPage", client="reader", page=back["page"])
    assert indexes(start) == [0, 1, 2]
    assert start["hasPrevPage"] is False
    # From an anchor in the middle, backwards: the anchor and those before it.
    around = driver.call(
        "getMessages", client="reader", sid=sid, pageSize=2, anchor=3, direction="backwards"
    )
    assert indexes(around) == [2, 3]


def test_send_with_attributes_arrives_once(sdk_server: SdkServer, pair: Pair) -> None:
    driver, sid, alice = pair.driver, pair.sid, pair.alice
    index = driver.call(
        "sendMessage", client="alice", sid=sid, body="hello bob", attributes={"mood": "glad"}
    )
    assert int(index) == 0
    added = driver.wait_event("messageAdded", EVENT_WAIT, client="bob")
    message = added["data"]["message"]
    assert message["body"] == "hello bob"
    assert message["author"] == alice
    assert message["attributes"] == {"mood": "glad"}
    assert message["index"] == 0
    assert message["channelSid"] == sid
    assert message["sid"].startswith("IM")
    no_more(driver, event_for("messageAdded"), "bob")

    stored = sdk_server.chat.channels(sid).messages(message["sid"]).fetch()
    assert (stored.body, stored._from, stored.index) == ("hello bob", alice, 0)
    assert json.loads(stored.attributes) == {"mood": "glad"}


def test_edit_body_and_attributes(sdk_server: SdkServer, pair: Pair) -> None:
    driver, sid = pair.driver, pair.sid
    driver.call("sendMessage", client="alice", sid=sid, body="draft", attributes={"v": 1})
    sent = driver.wait_event("messageAdded", EVENT_WAIT, client="bob")["data"]["message"]

    # The SDK resolves before the server's push arrives: the events tell what changed.
    driver.call("updateMessageBody", client="alice", sid=sid, index=0, body="final")
    update = driver.wait_event("messageUpdated", EVENT_WAIT, client="bob")["data"]
    assert update["message"]["body"] == "final"
    assert update["message"]["sid"] == sent["sid"]
    assert "body" in update["updateReasons"]

    driver.call("updateMessageAttributes", client="alice", sid=sid, index=0, attributes={"v": 2})
    update = driver.wait_event(
        event_for("messageUpdated", **{"message.attributes": {"v": 2}}), EVENT_WAIT, client="bob"
    )["data"]
    assert "attributes" in update["updateReasons"]
    assert update["message"]["body"] == "final"

    stored = sdk_server.chat.channels(sid).messages(sent["sid"]).fetch()
    assert stored.body == "final"
    assert json.loads(stored.attributes) == {"v": 2}


def test_remove_message(sdk_server: SdkServer, pair: Pair) -> None:
    driver, sid = pair.driver, pair.sid
    driver.call("sendMessage", client="alice", sid=sid, body="oops")
    sent = driver.wait_event("messageAdded", EVENT_WAIT, client="bob")["data"]["message"]
    driver.call("removeMessage", client="alice", sid=sid, index=0)
    removed = driver.wait_event("messageRemoved", EVENT_WAIT, client="bob")["data"]["message"]
    assert removed["sid"] == sent["sid"]
    assert removed["index"] == 0
    with pytest.raises(TwilioRestException) as gone:
        sdk_server.chat.channels(sid).messages(sent["sid"]).fetch()
    assert gone.value.status == 404
    page = driver.call("getMessages", client="bob", sid=sid)
    assert page["items"] == []


def test_typing_starts_and_ends(sdk_server: SdkServer, pair: Pair) -> None:
    driver, sid, alice = pair.driver, pair.sid, pair.alice
    # bob's roster is loaded (the pair fixture): the SDK drops typing by someone not in it.
    sdk_server.chat.update(typing_indicator_timeout=1)
    try:
        driver.call("typing", client="alice", sid=sid)
        started = driver.wait_event("typingStarted", EVENT_WAIT, client="bob")
        began = time.monotonic()
        assert started["data"]["member"]["identity"] == alice
        assert started["data"]["channelSid"] == sid
        ended = driver.wait_event("typingEnded", EVENT_WAIT, client="bob")
        assert ended["data"]["member"]["identity"] == alice
        assert ended["data"]["member"]["isTyping"] is False
        # The server's timeout (one second here, the SDK adds its margin), not the default 5.
        assert time.monotonic() - began < 4
    finally:
        sdk_server.chat.update(typing_indicator_timeout=5)
    # Nobody is told of their own typing.
    assert driver.events("typingStarted", client="alice") == []


# --- The read horizon ---------------------------------------------------------------------------


def member_read(sdk_server: SdkServer, sid: str, identity: str) -> int | None:
    (member,) = [m for m in sdk_server.chat.channels(sid).members.list() if m.identity == identity]
    index: int | None = member.last_consumed_message_index
    return index


def test_read_horizon_and_unread_counts(sdk_server: SdkServer, pair: Pair) -> None:
    driver, sid, alice, bob = pair.driver, pair.sid, pair.alice, pair.bob
    for n in range(4):
        send_rest(sdk_server, sid, f"to alice {n}", bob)
    listen(driver, "alice", sid)

    def read(index: int | None) -> None:
        """alice's horizon reached bob (memberUpdated), her own client (updated) and REST."""
        seen = driver.wait_event(
            event_for(
                "memberUpdated",
                **{"member.identity": alice, "member.lastConsumedMessageIndex": index},
            ),
            EVENT_WAIT,
            client="bob",
        )["data"]
        assert {"lastConsumedMessageIndex", "lastReadMessageIndex"} & set(seen["updateReasons"])
        driver.wait_event(
            event_for("updated", **{"channel.lastConsumedMessageIndex": index}),
            EVENT_WAIT,
            client="alice",
        )
        assert member_read(sdk_server, sid, alice) == index

    def unread() -> Any:
        time.sleep(0.15)  # the SDKs keep a GET's answer for 100 ms (http_cache_interval PT1S)
        return driver.call("unreadCount", client="alice", sid=sid)

    assert driver.call("setAllRead", client="alice", sid=sid) == 0
    read(3)
    assert unread() == 0
    # No horizon, no count (as in Twilio: null until the user has read something).
    assert driver.call("setNoneRead", client="alice", sid=sid) is None
    read(None)
    assert unread() is None
    assert driver.call("advanceRead", client="alice", sid=sid, index=1) == 2
    read(1)
    # Advancing never goes back (the SDK sends the horizon it has)...
    assert driver.call("advanceRead", client="alice", sid=sid, index=0) == 2
    assert member_read(sdk_server, sid, alice) == 1
    assert driver.call("updateRead", client="alice", sid=sid, index=3) == 0
    read(3)
    # ...updating may: messages become unread again.
    assert driver.call("updateRead", client="alice", sid=sid, index=0) == 3
    read(0)
    assert unread() == 3


# --- Channels: create, update, delete, join, leave, add, remove ----------------------------------


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
def test_create_update_delete_channel(
    sdk_server: SdkServer, driver: Driver, fresh: Fresh, private: bool
) -> None:
    alice, bob = fresh("alice"), fresh("bob")
    unique = fresh("made")
    sdk_server.connect(driver, "alice", alice)
    sdk_server.connect(driver, "bob", bob)
    options: dict[str, Any] = {"isPrivate": True} if private and is_chat(driver.sdk) else {}
    made = driver.call(
        "createChannel",
        client="alice",
        friendlyName="Made by SDK",
        uniqueName=unique,
        attributes={"made": True},
        **options,
    )
    sid = made["sid"]
    assert made["uniqueName"] == unique
    joined = driver.wait_event(event_for("channelJoined", **{"channel.sid": sid}), client="alice")
    assert joined["data"]["channel"]["friendlyName"] == "Made by SDK"

    stored = sdk_server.chat.channels(sid).fetch()
    assert (stored.friendly_name, stored.unique_name, stored.created_by) == (
        "Made by SDK",
        unique,
        alice,
    )
    assert json.loads(stored.attributes) == {"made": True}
    if is_chat(driver.sdk):
        assert stored.type == ("private" if private else "public")
        assert made["isPrivate"] is private
    assert [m.identity for m in sdk_server.chat.channels(sid).members.list()] == [alice]

    driver.call("add", client="alice", sid=sid, identity=bob)
    driver.wait_event(event_for("channelJoined", **{"channel.sid": sid}), client="bob")
    listen(driver, "bob", sid)

    driver.call("updateChannel", client="alice", sid=sid, friendlyName="Renamed")
    renamed = driver.wait_event(
        event_for("updated", **{"channel.friendlyName": "Renamed"}), client="bob"
    )["data"]
    assert "friendlyName" in renamed["updateReasons"]
    driver.call("updateChannel", client="alice", sid=sid, attributes={"made": "again"})
    changed = driver.wait_event(
        event_for("updated", **{"channel.attributes": {"made": "again"}}), client="bob"
    )["data"]
    assert "attributes" in changed["updateReasons"]
    stored = sdk_server.chat.channels(sid).fetch()
    assert stored.friendly_name == "Renamed"
    assert json.loads(stored.attributes) == {"made": "again"}

    settle(driver, "bob", sid)
    driver.call("deleteChannel", client="alice", sid=sid)
    driver.wait_event(event_for("channelRemoved", **{"channel.sid": sid}), client="bob")
    driver.wait_event(event_for("channelRemoved", **{"channel.sid": sid}), client="alice")
    with pytest.raises(TwilioRestException) as gone:
        sdk_server.chat.channels(sid).fetch()
    assert gone.value.status == 404
    assert sid not in [c["sid"] for c in driver.call("subscribedChannels", client="bob")]


def test_join_and_leave_a_public_channel(
    sdk_server: SdkServer, driver: Driver, fresh: Fresh
) -> None:
    alice, bob = fresh("alice"), fresh("bob")
    sid = channel(sdk_server, bob, type="public", friendly_name="Open")
    sdk_server.connect(driver, "alice", alice)
    sdk_server.connect(driver, "bob", bob)
    listen(driver, "bob", sid)

    peeked = driver.call("getChannel", client="alice", sid=sid)
    assert peeked["friendlyName"] == "Open"
    assert peeked["status"] != "joined"
    driver.call("join", client="alice", sid=sid)
    joined = driver.wait_event(event_for("channelJoined", **{"channel.sid": sid}), client="alice")
    assert joined["data"]["channel"]["status"] == "joined"
    came = driver.wait_event(event_for("memberJoined", **{"member.identity": alice}), client="bob")
    assert came["data"]["channelSid"] == sid
    members = {m.identity for m in sdk_server.chat.channels(sid).members.list()}
    assert members == {alice, bob}
    assert sid in [c["sid"] for c in driver.call("subscribedChannels", client="alice")]
    settle(driver, "alice", sid)

    driver.call("leave", client="alice", sid=sid)
    driver.wait_event(event_for("channelLeft", **{"channel.sid": sid}), client="alice")
    driver.wait_event(event_for("memberLeft", **{"member.identity": alice}), client="bob")
    assert {m.identity for m in sdk_server.chat.channels(sid).members.list()} == {bob}


def test_add_and_remove_a_member(sdk_server: SdkServer, driver: Driver, fresh: Fresh) -> None:
    alice, bob, carol = fresh("alice"), fresh("bob"), fresh("carol")
    for name, identity in (("alice", alice), ("bob", bob), ("carol", carol)):
        sdk_server.connect(driver, name, identity)
    sid = driver.call("createChannel", client="alice", friendlyName="crew")["sid"]
    driver.wait_event(event_for("channelJoined", **{"channel.sid": sid}), client="alice")
    driver.call("add", client="alice", sid=sid, identity=bob)
    driver.wait_event(event_for("channelJoined", **{"channel.sid": sid}), client="bob")
    listen(driver, "bob", sid)

    driver.call("add", client="alice", sid=sid, identity=carol, attributes={"role": "guest"})
    added = driver.wait_event(event_for("channelJoined", **{"channel.sid": sid}), client="carol")
    assert added["data"]["channel"]["friendlyName"] == "crew"
    seen = driver.wait_event(event_for("memberJoined", **{"member.identity": carol}), client="bob")
    assert seen["data"]["channelSid"] == sid
    stored = {m.identity: m for m in sdk_server.chat.channels(sid).members.list()}
    assert set(stored) == {alice, bob, carol}
    if not is_chat(driver.sdk):  # Conversations' add() takes the participant's attributes
        assert json.loads(stored[carol].attributes) == {"role": "guest"}

    settle(driver, "carol", sid)
    driver.call("removeMember", client="alice", sid=sid, identity=carol)
    driver.wait_event(event_for("channelLeft", **{"channel.sid": sid}), client="carol")
    driver.wait_event(event_for("memberLeft", **{"member.identity": carol}), client="bob")
    assert {m.identity for m in sdk_server.chat.channels(sid).members.list()} == {alice, bob}
    assert sid not in [c["sid"] for c in driver.call("subscribedChannels", client="carol")]


# --- twilio-chat only: public channel descriptors and invites -----------------------------------


def test_public_channel_descriptors(
    sdk_server: SdkServer, chat_driver: Driver, fresh: Fresh
) -> None:
    driver = chat_driver
    alice = fresh("alice")
    unique = fresh("lobby")
    public = channel(
        sdk_server, type="public", friendly_name="Lobby", unique_name=unique, attributes={"a": 1}
    )
    send_rest(sdk_server, public, "hi", "system")
    private = channel(sdk_server, type="private", friendly_name="Hidden")
    sdk_server.connect(driver, "alice", alice)
    listed = {d["sid"]: d for d in driver.call("publicChannels", client="alice")}
    assert private not in listed
    lobby = listed[public]
    assert (lobby["friendlyName"], lobby["uniqueName"]) == ("Lobby", unique)
    assert lobby["attributes"] == {"a": 1}
    assert (lobby["membersCount"], lobby["messagesCount"]) == (0, 1)
    assert lobby["isPrivate"] is False


def test_invite_then_join_and_decline(
    sdk_server: SdkServer, chat_driver: Driver, fresh: Fresh
) -> None:
    driver = chat_driver
    alice, bob, carol, dave = fresh("alice"), fresh("bob"), fresh("carol"), fresh("dave")
    for name, identity in (("alice", alice), ("bob", bob), ("carol", carol), ("dave", dave)):
        sdk_server.connect(driver, name, identity)
    sid = driver.call("createChannel", client="alice", friendlyName="party", isPrivate=True)["sid"]
    driver.wait_event(event_for("channelJoined", **{"channel.sid": sid}), client="alice")

    driver.call("invite", client="alice", sid=sid, identity=bob)
    invited = driver.wait_event(event_for("channelInvited", **{"channel.sid": sid}), client="bob")
    assert invited["data"]["channel"]["status"] == "invited"
    assert [i.identity for i in sdk_server.chat.channels(sid).invites.list()] == [bob]
    driver.call("join", client="bob", sid=sid)
    driver.wait_event(event_for("channelJoined", **{"channel.sid": sid}), client="bob")
    assert {m.identity for m in sdk_server.chat.channels(sid).members.list()} == {alice, bob}
    assert sdk_server.chat.channels(sid).invites.list() == []

    driver.call("invite", client="alice", sid=sid, identity=carol)
    driver.wait_event(event_for("channelInvited", **{"channel.sid": sid}), client="carol")
    driver.call("decline", client="carol", sid=sid)
    driver.wait_event(event_for("channelLeft", **{"channel.sid": sid}), client="carol")
    # A private channel carol is not in is gone from her client.
    driver.wait_event(event_for("channelRemoved", **{"channel.sid": sid}), client="carol")
    assert sdk_server.chat.channels(sid).invites.list() == []
    assert {m.identity for m in sdk_server.chat.channels(sid).members.list()} == {alice, bob}

    # An invitation withdrawn over REST is gone from the invitee's client as well.
    invite = sdk_server.chat.channels(sid).invites.create(identity=dave)
    driver.wait_event(event_for("channelInvited", **{"channel.sid": sid}), client="dave")
    sdk_server.chat.channels(sid).invites(invite.sid).delete()
    driver.wait_event(event_for("channelLeft", **{"channel.sid": sid}), client="dave")


# --- Users ----------------------------------------------------------------------------------------


def test_users_and_their_updates(sdk_server: SdkServer, pair: Pair) -> None:
    driver, alice = pair.driver, pair.alice
    seen = driver.call("getUser", client="bob", identity=alice)
    assert seen["identity"] == alice
    assert seen["friendlyName"] is None

    driver.call("updateUser", client="alice", friendlyName="Alice A.")
    named = driver.wait_event(
        event_for("userUpdated", **{"user.identity": alice, "user.friendlyName": "Alice A."}),
        client="bob",
    )["data"]
    assert named["updateReasons"] == ["friendlyName"]
    driver.call("updateUser", client="alice", attributes={"title": "pilot"})
    changed = driver.wait_event(
        event_for("userUpdated", **{"user.identity": alice, "user.attributes": {"title": "pilot"}}),
        client="bob",
    )["data"]
    assert changed["updateReasons"] == ["attributes"]
    # Her own client hears of it too.
    driver.wait_event(
        event_for("userUpdated", **{"user.identity": alice, "user.friendlyName": "Alice A."}),
        client="alice",
    )
    stored = sdk_server.chat.users(alice).fetch()
    assert stored.friendly_name == "Alice A."
    assert json.loads(stored.attributes) == {"title": "pilot"}
    assert driver.call("getUser", client="bob", identity=alice)["friendlyName"] == "Alice A."


def test_reachability_follows_the_connection(sdk_server: SdkServer, pair: Pair) -> None:
    driver, alice = pair.driver, pair.alice
    assert sdk_server.chat.fetch().reachability_enabled is True  # hubbub serve's first service
    assert driver.call("getUser", client="bob", identity=alice)["isOnline"] is True
    driver.call("shutdown", client="alice")
    offline = driver.wait_event(
        event_for("userUpdated", **{"user.identity": alice, "user.isOnline": False}),
        EVENT_WAIT,
        client="bob",
    )["data"]
    assert any("nline" in reason for reason in offline["updateReasons"])
    assert sdk_server.chat.users(alice).fetch().is_online is False

    sdk_server.connect(driver, "alice-again", alice)
    driver.wait_event(
        event_for("userUpdated", **{"user.identity": alice, "user.isOnline": True}),
        EVENT_WAIT,
        client="bob",
    )


# --- REST writes seen live by the SDK -------------------------------------------------------------


def test_rest_writes_arrive_live(sdk_server: SdkServer, pair: Pair, fresh: Fresh) -> None:
    driver, sid = pair.driver, pair.sid
    carol = fresh("carol")
    sdk_server.connect(driver, "carol", carol)

    index = send_rest(sdk_server, sid, "from the server", "system", kind="notice")
    added = driver.wait_event("messageAdded", EVENT_WAIT, client="bob")["data"]["message"]
    assert (added["body"], added["author"], added["index"]) == ("from the server", "system", index)
    assert added["attributes"] == {"kind": "notice"}

    sdk_server.chat.channels(sid).update(friendly_name="Renamed over REST")
    renamed = driver.wait_event(
        event_for("updated", **{"channel.friendlyName": "Renamed over REST"}), client="bob"
    )["data"]
    assert "friendlyName" in renamed["updateReasons"]

    sdk_server.chat.channels(sid).members.create(identity=carol)
    driver.wait_event(event_for("memberJoined", **{"member.identity": carol}), client="bob")
    joined = driver.wait_event(event_for("channelJoined", **{"channel.sid": sid}), client="carol")
    assert joined["data"]["channel"]["friendlyName"] == "Renamed over REST"
    page = driver.call("getMessages", client="carol", sid=sid)
    assert [m["body"] for m in page["items"]] == ["from the server"]


# --- Permissions and services ---------------------------------------------------------------------


def test_sending_where_not_a_member_is_refused(
    sdk_server: SdkServer, driver: Driver, fresh: Fresh
) -> None:
    alice, bob = fresh("alice"), fresh("bob")
    sid = channel(sdk_server, bob, type="public", friendly_name="Not alice's")
    sdk_server.connect(driver, "alice", alice)
    with pytest.raises(DriverError) as refused:
        driver.call("sendMessage", client="alice", sid=sid, body="let me in")
    error = refused.value
    assert error.kind == "sdk"
    # twilsock's error: the HTTP status, and as its text (the error's message) what went
    # wrong, with the body the server answered: Twilio's error, code and all.
    assert (error.status, error.code) == (403, 50400)
    assert error.message == error.body["message"] == f"{alice} is not a member of this channel"
    assert error.body["code"] == 50400
    assert error.body["status"] == 403
    assert "more_info" in error.body
    assert sdk_server.chat.channels(sid).messages.list() == []


def test_another_service_sees_nothing_of_the_first(
    sdk_server: SdkServer, driver: Driver, fresh: Fresh
) -> None:
    alice = fresh("alice")
    here = channel(sdk_server, alice, friendly_name="first service")
    public = channel(sdk_server, type="public", friendly_name="first service, public")
    other = sdk_server.rest.chat.v2.services.create(friendly_name=fresh("elsewhere"))
    try:
        sdk_server.connect(driver, "alice", alice, service_sid=other.sid)
        assert driver.call("subscribedChannels", client="alice") == []
        for sid in (here, public):
            with pytest.raises(DriverError) as hidden:
                driver.call("getChannel", client="alice", sid=sid)
            assert hidden.value.kind == "sdk"
            assert hidden.value.status == 404, hidden.value.message
        if is_chat(driver.sdk):
            listed = [d["sid"] for d in driver.call("publicChannels", client="alice")]
            assert listed == []
    finally:
        sdk_server.rest.chat.v2.services(other.sid).delete()


# --- Media ---------------------------------------------------------------------------------------
#: Bytes that survive no careless text handling: every byte value, and then some.
PAYLOAD = bytes(range(256)) * 40 + os.urandom(1000)


def _sent(
    server: SdkServer, pair: Pair, index: int, filename: str, content_type: str, data: bytes
) -> None:
    """What bob's SDK and the REST API show of the media message at ``index``."""
    driver, sid = pair.driver, pair.sid
    added = driver.wait_event("messageAdded", EVENT_WAIT, client="bob")["data"]["message"]
    assert added["index"] == index
    assert added["type"] == "media"
    assert added["author"] == pair.alice
    assert added["media"] == {
        "sid": added["media"]["sid"],
        "contentType": content_type,
        # twilio-chat uploads without the file's name (FormData aside, which only browsers
        # send); Conversations name it.
        "filename": None if is_chat(pair.driver.sdk) else filename,
        "size": len(data),
    }
    assert added["media"]["sid"].startswith("ME")
    content = driver.call("mediaContent", client="bob", sid=sid, index=index)
    assert content["status"] == 200
    assert base64.b64decode(content["base64"]) == data
    assert content["contentType"].startswith(content_type)
    stored = server.chat.channels(sid).messages(added["sid"]).fetch()
    assert (stored.type, stored.media["sid"], stored.media["size"]) == (
        "media", added["media"]["sid"], len(data),
    )  # fmt: skip


def test_a_file_sent_by_one_sdk_is_read_by_another(sdk_server: SdkServer, pair: Pair) -> None:
    driver, sid = pair.driver, pair.sid
    index = driver.call(
        "sendMedia", client="alice", sid=sid, contentType="application/octet-stream",
        base64=base64.b64encode(PAYLOAD).decode(), filename="blob.bin", attributes={"k": 1},
    )  # fmt: skip
    assert int(index) == 0
    _sent(sdk_server, pair, 0, "blob.bin", "application/octet-stream", PAYLOAD)
    # Its history has it too, after a fresh read.
    page = driver.call("getMessages", client="alice", sid=sid)
    [message] = page["items"]
    assert message["type"] == "media"
    assert message["media"]["size"] == len(PAYLOAD)
    # A body of a media message cannot be changed.
    with pytest.raises(DriverError) as refused:
        driver.call("updateMessageBody", client="alice", sid=sid, index=0, body="words")
    assert refused.value.status == 400


@pytest.mark.parametrize("conv_sdk", [sdk for sdk in SDKS if not is_chat(sdk)])
def test_conversations_builder_sends_words_and_a_file(
    sdk_server: SdkServer, drivers: Drivers, fresh: Fresh, conv_sdk: str
) -> None:
    """Conversations' prepareMessage(): a body and a file in one message."""
    driver = drivers(conv_sdk)
    alice, bob = fresh("alice"), fresh("bob")
    sid = channel(sdk_server, alice, bob)
    sdk_server.connect(driver, "alice", alice)
    sdk_server.connect(driver, "bob", bob)
    listen(driver, "bob", sid)
    pair = Pair(driver, sid, alice, bob)
    png = bytes.fromhex("89504e470d0a1a0a") + PAYLOAD[:500]
    index = driver.call(
        "sendMedia", client="alice", sid=sid, how="builder", body="look",
        contentType="image/png", base64=base64.b64encode(png).decode(), filename="look.png",
    )  # fmt: skip
    assert int(index) == 0
    _sent(sdk_server, pair, 0, "look.png", "image/png", png)
    stored = sdk_server.chat.channels(sid).messages.list()
    assert [(m.type, m.body) for m in stored] == [("media", "look")]
    no_sdk_trouble(driver)
