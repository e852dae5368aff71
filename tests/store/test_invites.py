"""Invites to a channel."""

from __future__ import annotations

import pytest

from hubbub import sids
from hubbub.store import Conflict, NotFound, Service, Store


def test_invite_crud(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid, unique_name="general")

    invite = store.create_invite(service.sid, "general", "bob", created_by="alice")

    assert sids.is_sid(invite.sid, "IN")
    assert (invite.channel_sid, invite.identity, invite.created_by) == (channel.sid, "bob", "alice")
    assert invite.role_sid == service.config.default_channel_role_sid
    assert store.get_invite(service.sid, channel.sid, invite.sid) == invite
    store.delete_invite(service.sid, "general", invite.sid)
    with pytest.raises(NotFound):
        store.get_invite(service.sid, "general", invite.sid)
    with pytest.raises(NotFound):
        store.delete_invite(service.sid, "general", invite.sid)


def test_one_invite_per_identity(store: Store, service: Service) -> None:
    store.create_channel(service.sid, unique_name="general")
    admin = str(service.config.default_channel_creator_role_sid)
    store.create_invite(service.sid, "general", "bob", role_sid=admin)

    with pytest.raises(Conflict) as caught:
        store.create_invite(service.sid, "general", "bob")
    assert (caught.value.resource, caught.value.value) == ("Invite", "bob")


def test_list_invites(store: Store, service: Service) -> None:
    store.create_channel(service.sid, unique_name="general")
    made = [store.create_invite(service.sid, "general", name) for name in ("a", "b", "c")]

    page = store.list_invites(service.sid, "general", limit=2)
    rest = store.list_invites(service.sid, "general", limit=2, cursor=page.next_cursor)
    assert page.items + rest.items == tuple(made)
    only = store.list_invites(service.sid, "general", identities=["c"])
    assert only.items == (made[2],)


def test_invites_are_scoped_to_their_channel(store: Store, service: Service) -> None:
    store.create_channel(service.sid, unique_name="one")
    store.create_channel(service.sid, unique_name="two")
    invite = store.create_invite(service.sid, "one", "bob")

    with pytest.raises(NotFound):
        store.get_invite(service.sid, "two", invite.sid)
    with pytest.raises(NotFound):
        store.delete_invite(service.sid, "two", invite.sid)
    assert store.list_invites(service.sid, "two").items == ()


def test_list_user_invites(store: Store, service: Service) -> None:
    other = store.create_service(service.account_sid, friendly_name="other")
    for name in ("one", "two", "three"):
        store.create_channel(service.sid, unique_name=name)
    store.create_channel(other.sid, unique_name="elsewhere")
    mine = [store.create_invite(service.sid, name, "bob") for name in ("two", "one")]
    store.create_invite(service.sid, "three", "carol")
    store.create_invite(other.sid, "elsewhere", "bob")

    first = store.list_user_invites(service.sid, "bob", limit=1)
    rest = store.list_user_invites(service.sid, "bob", limit=1, cursor=first.next_cursor)
    assert first.items + rest.items == tuple(mine)  # oldest first, this service only
    assert rest.next_cursor is None
    assert store.list_user_invites(service.sid, "nobody").items == ()
    store.delete_invite(service.sid, "two", mine[0].sid)
    assert store.list_user_invites(service.sid, "bob").items == (mine[1],)
