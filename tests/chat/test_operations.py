"""Chat operations: one function per action, whichever door it comes through.

The hooks seam is shown over two doors of a real server (REST and ``/v1/ws``): each action
is seen once, by the same name, and a pre-action hook that refuses or rewrites it does so for
both. The permission rules that only users meet are checked on the operations themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.fernet import Fernet

from hubbub.chat import channels, members, messages, users
from hubbub.chat.core import Actor, Core, Outcome
from hubbub.chat.errors import ApiError
from hubbub.chat.provision import Credentials, new_account
from hubbub.chat.render import Urls
from hubbub.crypto import SecretBox
from hubbub.store import Store, open_store
from hubbub.store.errors import Conflict
from tests.realtime.conftest import RealtimeServer, signed_in
from tests.web.server import twilio_client

V = TypeVar("V")


class Recorder:
    """Hooks that note every action, and refuse or rewrite messages when told to."""

    def __init__(self) -> None:
        self.before_calls: list[tuple[str, str]] = []
        self.after_calls: list[tuple[str, str]] = []
        self.refuse = False
        self.prefix = ""

    def calls_out(self, account_sid: str, service_sid: str) -> bool:
        return False

    def before(self, action: str, actor: Actor, values: V, subject: object = None) -> V:
        self.before_calls.append((action, actor.source))
        if action == "send_message" and isinstance(values, dict):
            if self.refuse:
                raise ApiError(403, 50107, "refused by the hook")
            if self.prefix:
                values = {**values, "body": self.prefix + values["body"]}  # type: ignore[assignment]
        return values

    def after(self, action: str, actor: Actor, outcome: Outcome) -> None:
        self.after_calls.append((action, actor.source))


def _rest(server: RealtimeServer) -> Any:
    creds = server.creds
    return twilio_client(
        server.base_url, creds.api_key_sid, creds.api_key_secret, creds.account_sid
    )


def _hooked(server: RealtimeServer) -> Recorder:
    recorder = Recorder()
    server.node.core.hooks = recorder
    return recorder


def test_every_door_calls_the_same_operation(realtime_server: RealtimeServer) -> None:
    hooks = _hooked(realtime_server)
    creds = realtime_server.creds
    chat = _rest(realtime_server).chat.v2.services(creds.chat_service_sid)
    general = chat.channels.create(unique_name="general")
    chat.channels("general").members.create(identity="alice")
    chat.channels("general").messages.create(body="from REST")
    assert hooks.before_calls == [
        ("create_channel", "API"),
        ("add_member", "API"),
        ("send_message", "API"),
    ]
    assert hooks.after_calls == hooks.before_calls

    async def over_the_socket() -> None:
        hooks.before_calls.clear()
        hooks.after_calls.clear()
        async with signed_in(realtime_server, "alice") as (alice,):
            sent = await alice.command("send_message", channel=general.sid, body="from alice")
            assert sent["ok"], sent

    asyncio.run(over_the_socket())
    assert ("send_message", "SDK") in hooks.before_calls
    assert ("send_message", "SDK") in hooks.after_calls


def test_a_pre_action_hook_refuses_or_rewrites_on_every_door(
    realtime_server: RealtimeServer,
) -> None:
    hooks = _hooked(realtime_server)
    creds = realtime_server.creds
    chat = _rest(realtime_server).chat.v2.services(creds.chat_service_sid)
    channel = chat.channels.create(unique_name="moderated")
    chat.channels("moderated").members.create(identity="alice")
    hooks.refuse = True
    with pytest.raises(Exception, match="refused by the hook"):
        chat.channels("moderated").messages.create(body="no")

    async def over_the_socket() -> None:
        async with signed_in(realtime_server, "alice") as (alice,):
            refused = await alice.command("send_message", channel=channel.sid, body="no")
            assert refused["ok"] is False
            assert refused["error"]["code"] == 50107
            hooks.refuse = False
            hooks.prefix = "[checked] "
            sent = await alice.command("send_message", channel=channel.sid, body="yes")
            assert sent["result"]["message"]["body"] == "[checked] yes"

    asyncio.run(over_the_socket())
    stored = realtime_server.store.list_messages(creds.chat_service_sid, channel.sid).items
    assert [message.body for message in stored] == ["[checked] yes"]


# -- rules only users meet ---------------------------------------------------------------------
@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Core, Credentials]]:
    store: Store = open_store(f"sqlite:///{tmp_path / 'ops.db'}")
    creds = new_account(store, SecretBox(Fernet.generate_key()))
    yield Core(store), creds
    store.close()


def _user(creds: Credentials, identity: str | None) -> Actor:
    return Actor(creds.account_sid, creds.chat_service_sid, Urls("http://127.0.0.1"), identity)


def test_users_change_their_own_name_but_not_others_or_roles(
    world: tuple[Core, Credentials],
) -> None:
    core, creds = world
    for identity in ("alice", "bob"):
        core.store.create_user(creds.chat_service_sid, identity)
    alice = _user(creds, "alice")
    outcome = users.update_user(core, alice, "alice", {"friendly_name": "Alice"})
    assert outcome.resource is not None
    assert outcome.resource["friendly_name"] == "Alice"
    assert outcome.events[0].frame["type"] == "user_updated"
    with pytest.raises(ApiError) as other:
        users.update_user(core, alice, "bob", {"friendly_name": "Mallory"})
    assert other.value.code == 50107
    admin_role = core.store.list_roles(creds.chat_service_sid).items[0].sid
    with pytest.raises(ApiError):
        users.update_user(core, alice, "alice", {"role_sid": admin_role})
    assert core.store.get_user(creds.chat_service_sid, "bob").friendly_name is None
    # The application's server may change anyone.
    server = _user(creds, None)
    users.update_user(core, server, "bob", {"friendly_name": "Bob"})
    assert core.store.get_user(creds.chat_service_sid, "bob").friendly_name == "Bob"


def test_only_a_channels_admin_may_rename_or_destroy_it(world: tuple[Core, Credentials]) -> None:
    core, creds = world
    for identity in ("alice", "bob"):
        core.store.create_user(creds.chat_service_sid, identity)
    alice, bob = _user(creds, "alice"), _user(creds, "bob")
    created = channels.create_channel(core, alice, {"unique_name": "room"})
    assert [event.frame["type"] for event in created.events] == [
        "channel_joined",
        "channel_added",
        "member_joined",
    ]
    members.join(core, bob, "room")
    with pytest.raises(ApiError) as renamed:
        channels.update_channel(core, bob, "room", {"friendly_name": "bob's"})
    assert renamed.value.code == 50107
    with pytest.raises(ApiError):
        channels.delete_channel(core, bob, "room")
    changed = channels.update_channel(core, alice, "room", {"friendly_name": "Room"})
    assert changed.resource is not None
    assert changed.resource["friendly_name"] == "Room"
    gone = channels.delete_channel(core, alice, "room")
    assert gone.events[0].follow == ("close", created.resource["sid"])  # type: ignore[index]


def test_the_creator_of_a_channel_over_rest_does_not_join_it(
    world: tuple[Core, Credentials],
) -> None:
    core, creds = world
    outcome = channels.create_channel(core, _user(creds, None), {"unique_name": "api"})
    assert outcome.resource is not None
    assert outcome.resource["created_by"] == "system"
    assert [event.frame["type"] for event in outcome.events] == ["channel_added"]
    assert not core.store.list_members(creds.chat_service_sid, "api").items


def test_a_user_sends_only_their_own_uploads_and_each_once(
    world: tuple[Core, Credentials],
) -> None:
    core, creds = world
    service_sid = creds.chat_service_sid
    for identity in ("alice", "bob"):
        core.store.create_user(service_sid, identity)
    alice, bob = _user(creds, "alice"), _user(creds, "bob")
    channels.create_channel(core, alice, {"unique_name": "room"})
    members.join(core, bob, "room")
    upload = core.store.create_media(
        creds.account_sid, service_sid, "ME" + "a" * 32,
        content_type="image/png", size=3, filename="a.png", author="alice",
    )  # fmt: skip
    with pytest.raises(ApiError) as theirs:  # bob may not send alice's upload
        messages.send_message(core, bob, "room", {"body": "", "media_sid": upload.sid})
    assert (theirs.value.status, theirs.value.code) == (404, 50507)

    # Two sends of the same upload checked side by side: the second to be stored is undone
    # whole, message and all, and says why.
    first = messages.prepare_message(core, alice, "room", {"body": "", "media_sid": upload.sid})
    second = messages.prepare_message(core, alice, "room", {"body": "", "media_sid": upload.sid})
    with core.atomic():
        stored = messages.store_draft(core.store, first)
    assert (stored.type, stored.media) == ("media", upload.carried())
    with pytest.raises(Conflict) as taken, core.atomic():
        messages.store_draft(core.store, second)
    assert taken.value.code == 50508
    assert [m.sid for m in core.store.list_messages(service_sid, "room").items] == [stored.sid]
    assert core.store.get_media(service_sid, upload.sid).message_sid == stored.sid
    with pytest.raises(ApiError) as again:  # checked before the write, too
        messages.send_message(core, alice, "room", {"body": "", "media_sid": upload.sid})
    assert (again.value.status, again.value.code) == (409, 50508)

    # The application's server may send any upload of the service, a user's or its own.
    server = _user(creds, None)
    own = core.store.create_media(
        creds.account_sid, service_sid, "ME" + "b" * 32, content_type="text/plain", size=1
    )
    outcome = messages.send_message(core, server, "room", {"body": "", "media_sid": own.sid})
    assert outcome.resource is not None
    assert outcome.resource["media"]["sid"] == own.sid
    assert outcome.events[0].frame["message"]["type"] == "media"
