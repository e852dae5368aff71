"""Presence recorded for push notifications is not told where reachability is off."""

from __future__ import annotations

import dataclasses

from hubbub.chat import users
from hubbub.chat.events import Event
from hubbub.chat.render import Urls
from tests.notify.conftest import T, World


def _went_away(world: World) -> list[Event]:
    """bob's only node goes silent: what its expiry tells those who share a channel."""
    world.store.join_presence("node-9", world.service_sid, "bob", now=T, lease_until=T + 1)
    gone = world.store.expire_presence(now=T + 2)
    assert [user.identity for _, user in gone] == ["bob"]
    return [
        event
        for account, user in gone
        for event in users.went_away(world.core, account, user, Urls("http://127.0.0.1"))
    ]


def test_a_user_going_silent_is_told_only_where_reachability_is_on(world: World) -> None:
    world.store.create_user(world.service_sid, "bob")
    world.notify(new_message={"enabled": True})  # presence recorded, for push
    assert _went_away(world) == []

    config = dataclasses.replace(world.config(), reachability_enabled=True)
    world.store.update_service(world.creds.account_sid, world.service_sid, config=config)
    (event,) = _went_away(world)
    assert event.frame["type"] == "user_updated"
    assert event.frame["user"]["is_online"] is False
