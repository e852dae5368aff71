"""Who hears of what: one NOTIFY row per event in the action's transaction, expanded by the
courier into one PUSH row per binding of the recipients who are not connected."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

import pytest

from hubbub.chat import channels, members, messages
from hubbub.notify.expand import Expander
from hubbub.notify.notifier import NOTIFY
from hubbub.notify.rows import PUSH, read_push
from hubbub.store import Binding, Store
from hubbub.store.outbox import CHUNK
from hubbub.store.records import Delivery, NewDelivery, NotificationSetting
from hubbub.webhooks.targets import changed
from tests.notify.conftest import World

ON: dict[str, Any] = {"enabled": True}


def _channel(world: World, name: str, *identities: str, friendly: str | None = None) -> str:
    values: dict[str, Any] = {"unique_name": name}
    if friendly:
        values["friendly_name"] = friendly
    made = channels.create_channel(world.core, world.actor(), values).resource
    assert made is not None
    for identity in identities:
        members.add_member(world.core, world.actor(), name, {"identity": identity})
    return str(made["sid"])


def _send(world: World, author: str, channel: str, body: str) -> dict[str, Any]:
    sent = messages.send_message(world.core, world.actor(author), channel, {"body": body})
    assert sent.resource is not None
    return sent.resource


def _pushes(rows: list[Delivery]) -> dict[str, dict[str, Any]]:
    """The PUSH rows by binding SID: the identity and the notification."""
    found = {}
    for row in rows:
        assert row.new.method == PUSH
        push = read_push(row.new.params)
        assert row.new.lane == f"push:{push.binding_sid}"
        found[push.binding_sid] = {"identity": push.identity, "n": push.notification}
    return found


def test_a_message_notifies_the_offline_members_but_its_author_the_muted_and_the_connected(
    world: World,
) -> None:
    store, service = world.store, world.service_sid
    general = _channel(world, "general", "alice", "bob", "carol", "dave", friendly="General")
    _channel(world, "elsewhere", "erin")
    store.update_user(service, "alice", friendly_name="Alice L.")
    store.update_member(service, general, "carol", notification_level="muted")
    world.notify(new_message=ON)
    bob_phone = world.bind("bob", "bob-fcm-token")
    bob_ipad = world.bind("bob", "ab" * 32, "apn")
    for identity in ("alice", "carol", "dave", "erin"):
        world.bind(identity, f"{identity}-token")
    world.bind("bob", "bob-old-phone", message_types=("twilio.channel.added_to_channel",))
    world.connect("dave")

    sent = _send(world, "alice", "general", "hello ${USER} there")

    # The sender paid for one small row, whatever the channel's size.
    (note,) = world.queued()
    assert (note.new.method, note.new.lane) == (NOTIFY, f"notify:{general}")
    pushes = _pushes(world.expand_all())
    assert set(pushes) == {bob_phone.sid, bob_ipad.sid}
    notification = pushes[bob_phone.sid]["n"]
    assert pushes[bob_ipad.sid]["n"] == notification
    assert notification.message_type == "twilio.channel.new_message"
    assert notification.body == "General;Alice L.: hello ${USER} there"
    assert (notification.sound, notification.badge, notification.title) == (None, None, None)
    assert dict(notification.data) == {
        "channel_sid": general,
        "message_sid": sent["sid"],
        "message_index": "0",
        "author": "alice",
    }
    # Nothing else was queued, and nothing is left to expand.
    assert world.queued(NOTIFY) == []


def test_nothing_is_queued_for_a_type_that_is_off(world: World) -> None:
    _channel(world, "general", "alice", "bob")
    world.bind("bob", "bob-token")
    _send(world, "alice", "general", "not yet")  # every type is off by default
    world.notify(added_to_channel=ON, removed_from_channel=ON, invited_to_channel=ON)
    _send(world, "alice", "general", "still not")
    assert world.queued() == []
    world.notify(new_message=ON)
    _send(world, "alice", "general", "now")
    assert len(world.queued(NOTIFY)) == 1
    # Turned off before the courier came to it: nobody is told.
    world.notify(new_message={"enabled": False})
    assert world.expand_all() == []


def test_settings_are_kept_briefly_and_dropped_when_the_service_changes(world: World) -> None:
    _channel(world, "general", "alice", "bob")
    _send(world, "alice", "general", "off")  # the notifier now holds "off"
    config = world.config()
    turned_on = replace(config.notifications, new_message=NotificationSetting(enabled=True))
    world.store.update_service(
        world.creds.account_sid, world.service_sid, config=replace(config, notifications=turned_on)
    )
    _send(world, "alice", "general", "still off here for up to 5 s")
    assert world.queued() == []
    world.notifier.observe(changed(world.service_sid))  # what the REST update publishes
    _send(world, "alice", "general", "on")
    assert len(world.queued(NOTIFY)) == 1


def test_membership_events_tell_the_user_someone_else_acted_on(world: World) -> None:
    world.notify(added_to_channel=ON, removed_from_channel=ON, invited_to_channel=ON)
    world.store.create_user(world.service_sid, "mallory", friendly_name="Mallory")
    general = _channel(world, "general", "mallory")
    _channel(world, "other", "mallory")
    phone = world.bind("bob", "bob-token")
    assert len(world.expand_all()) == 0  # mallory has no binding

    # The application's server adds bob over REST: no user did it.
    members.add_member(world.core, world.actor(), "general", {"identity": "bob"})
    (added,) = _pushes(world.expand_all()).values()
    assert added["identity"] == "bob"
    assert added["n"].message_type == "twilio.channel.added_to_channel"
    assert added["n"].body == "You have been added to channel general"  # no "by " dangling
    assert dict(added["n"].data) == {"channel_sid": general}
    world.store.settle_deliveries(sent=[d.id for d in world.queued()])

    # Mallory removes him, then invites him back.
    world.store.update_member(
        world.service_sid,
        general,
        "mallory",
        role_sid=world.config().default_channel_creator_role_sid,
    )
    members.remove_member(world.core, world.actor("mallory"), "general", "bob")
    members.invite(world.core, world.actor("mallory"), "general", {"identity": "bob"})
    found = [read_push(d.new.params).notification for d in world.expand_all()]
    assert [(n.message_type, n.body) for n in found] == [
        (
            "twilio.channel.removed_from_channel",
            "Mallory has removed you from the channel general",
        ),
        (
            "twilio.channel.invited_to_channel",
            "Mallory has invited you to join the channel general",
        ),
    ]
    world.store.settle_deliveries(sent=[d.id for d in world.queued()])

    # What users do to themselves tells nobody: bob joins (on his invite) and leaves.
    members.join(world.core, world.actor("bob"), "general")
    members.remove_member(world.core, world.actor("bob"), "general")
    assert world.queued() == []
    assert phone.sid  # his binding stayed all along


def test_templates_sounds_and_binding_types(world: World) -> None:
    _channel(world, "general", "alice", "bob", "carol")
    world.notify(
        new_message={
            "enabled": True,
            "template": "${USER_IDENTITY}@${CHANNEL_UNIQUE_NAME}/${CHANNEL_SID}: ${MESSAGE}",
            "sound": "ping.caf",
        }
    )
    # A binding may list its types as Twilio's REST API shows them (short).
    short = world.bind("bob", "bob-token", message_types=("new_message",))
    web = world.bind("carol", json.dumps({"endpoint": "https://push.example/x"}), "webpush")
    sent = _send(world, "alice", "general", "x" * 5000)
    pushes = _pushes(world.expand_all())
    assert set(pushes) == {short.sid, web.sid}
    notification = pushes[short.sid]["n"]
    assert notification.sound == "ping.caf"
    prefix = f"alice@general/{sent['channel_sid']}: "
    assert notification.body.startswith(prefix + "xxx")
    assert len(notification.body) == 1000
    assert notification.body.endswith("…")


def test_badges_count_each_users_unread_messages(world: World) -> None:
    store, service = world.store, world.service_sid
    general = _channel(world, "general", "alice", "bob", "carol")
    _channel(world, "random", "alice", "bob")
    _send(world, "alice", "random", "r0")
    _send(world, "alice", "random", "r1")
    _send(world, "alice", "general", "g0")
    store.update_member(service, general, "carol", last_consumed_message_index=0)
    bob = world.bind("bob", "bob-token", "apn")
    carol = world.bind("carol", "carol-token", "apn")
    world.notify(new_message={"enabled": True, "badge_count_enabled": True})
    _send(world, "alice", "general", "g1")
    pushes = _pushes(world.expand_all())
    # bob never read: 2 in random, 2 in general; carol read general's first.
    assert pushes[bob.sid]["n"].badge == 4
    assert pushes[carol.sid]["n"].badge == 1


def test_a_media_message_says_a_file_was_sent(world: World) -> None:
    general = _channel(world, "general", "alice", "bob")
    world.notify(new_message=ON)
    world.bind("bob", "bob-token")
    event = {
        "kind": "new_message",
        "service_sid": world.service_sid,
        "channel_sid": general,
        "author": "alice",
        "message_sid": "IM" + "0" * 32,
        "message_index": "3",
        "body": "",
        "media": "cat.png",
    }
    expander = Expander(world.store)

    def body() -> str | None:
        (row,) = expander.expand(world.creds.account_sid, event)
        return read_push(row.params).notification.body

    assert body() == "general;alice: Sent a file: cat.png"
    event["media"] = ""
    assert body() == "general;alice: Sent a file"
    config = world.config()
    media = replace(config.media, compatibility_message="Update your app to see it")
    world.store.update_service(
        world.creds.account_sid, world.service_sid, config=replace(config, media=media)
    )
    assert body() == "general;alice: Update your app to see it"


def test_a_channel_or_service_gone_before_expansion_tells_nobody(world: World) -> None:
    _channel(world, "general", "alice", "bob")
    world.notify(new_message=ON)
    world.bind("bob", "bob-token")
    _send(world, "alice", "general", "last words")
    channels.delete_channel(world.core, world.actor(), "general")
    assert world.expand_all() == []


def test_bindings_are_one_row_each_in_their_own_lane(world: World) -> None:
    names = [f"user{i:03}" for i in range(40)]
    _channel(world, "big", "alice", *names)
    world.notify(new_message=ON)
    bound: list[Binding] = [world.bind(name, f"{name}-token") for name in names]
    _send(world, "alice", "big", "to all")
    rows = world.expand_all()
    assert sorted(read_push(r.new.params).binding_sid for r in rows) == sorted(b.sid for b in bound)
    assert len({r.new.lane for r in rows}) == len(bound)


class _DiesAfter:
    """A store whose process dies (raises) at its ``n``-th ``queue_deliveries``: the one
    fault here that cannot be caused for real inside a test."""

    def __init__(self, store: Store, n: int) -> None:
        self._store, self._left = store, n

    def queue_deliveries(self, deliveries: Sequence[NewDelivery]) -> None:
        self._left -= 1
        if self._left == 0:
            raise SystemExit("the courier died")
        self._store.queue_deliveries(deliveries)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_large_expansion_lands_in_chunks_and_a_courier_dying_between_them_loses_no_push(
    world: World,
) -> None:
    names = [f"user{i:03}" for i in range(2 * CHUNK + 30)]
    _channel(world, "huge", "alice", *names)
    world.notify(new_message=ON)
    bound = {world.bind(name, f"{name}-token").sid for name in names}
    _send(world, "alice", "huge", "to everyone")
    (note,) = world.queued(NOTIFY)
    new = note.new

    # Each chunk is its own transaction: the first two are queued when the third fails.
    dying = Expander(cast(Store, _DiesAfter(world.store, 3)))
    with pytest.raises(SystemExit):
        dying.attempt(new.account_sid, new.url, new.method, new.params, 0)
    assert len(world.queued(PUSH)) == 2 * CHUNK
    # The notification was not forgotten: the next courier expands it in full again.
    assert [d.id for d in world.queued(NOTIFY)] == [note.id]
    pushes = world.expand_all()
    by_binding = Counter(read_push(r.new.params).binding_sid for r in pushes)
    assert set(by_binding) == bound
    assert len(pushes) == 2 * CHUNK + len(bound)
    # Each device's pushes still go in a lane of its own.
    lanes = [r.new.lane for r in sorted(pushes, key=lambda r: r.id)]
    assert len(set(lanes)) == len(bound)
