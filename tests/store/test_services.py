"""Services, their configuration, and roles (the four defaults included)."""

from __future__ import annotations

import dataclasses

import pytest

from hubbub import sids
from hubbub.store import (
    Account,
    Conflict,
    NotFound,
    NotificationSetting,
    Service,
    ServiceLimits,
    ServiceMedia,
    ServiceNotifications,
    Store,
)


def test_new_service_has_twilio_defaults(store: Store, service: Service) -> None:
    config = service.config

    assert sids.is_sid(service.sid, "IS")
    assert config.read_status_enabled
    assert not config.reachability_enabled
    assert (config.typing_indicator_timeout, config.consumption_report_interval) == (5, 10)
    assert config.limits == ServiceLimits(channel_members=250, user_channels=100)
    assert config.webhook_method == "POST"
    assert config.webhook_filters == ()
    assert config.pre_webhook_url is None
    assert config.notifications == ServiceNotifications()
    assert config.media.size_limit_mb == 150


def test_new_service_has_the_four_default_roles(store: Store, service: Service) -> None:
    roles = {role.friendly_name: role for role in store.list_roles(service.sid).items}

    assert set(roles) == {"service admin", "service user", "channel admin", "channel user"}
    assert roles["service admin"].type == "deployment"
    assert roles["service user"].type == "deployment"
    assert roles["channel admin"].type == "channel"
    assert set(roles["service user"].permissions) == {
        "createChannel",
        "joinChannel",
        "editOwnUserInfo",
    }
    assert {"destroyChannel", "editAnyUserInfo", "deleteAnyMessage"} <= set(
        roles["service admin"].permissions
    )
    assert {"sendMessage", "leaveChannel", "editOwnMessage", "deleteOwnMessage"} <= set(
        roles["channel user"].permissions
    )
    assert "deleteAnyMessage" not in roles["channel user"].permissions
    assert {"removeMember", "deleteAnyMessage"} <= set(roles["channel admin"].permissions)

    config = service.config
    assert config.default_service_role_sid == roles["service user"].sid
    assert config.default_channel_role_sid == roles["channel user"].sid
    assert config.default_channel_creator_role_sid == roles["channel admin"].sid
    assert store.get_service(service.account_sid, service.sid) == service


def test_update_service_config_round_trips(store: Store, service: Service) -> None:
    new_message = NotificationSetting(
        enabled=True, template="${USER}: ${MESSAGE}", sound="ding", badge_count_enabled=True
    )
    config = dataclasses.replace(
        service.config,
        reachability_enabled=True,
        typing_indicator_timeout=7,
        pre_webhook_url="https://hooks.example/pre",
        webhook_method="GET",
        webhook_filters=("onMessageSend", "onChannelAdd"),
        post_webhook_retry_count=3,
        limits=ServiceLimits(channel_members=500, user_channels=600),
        notifications=dataclasses.replace(
            service.config.notifications, new_message=new_message, log_enabled=True
        ),
        media=ServiceMedia(size_limit_mb=150, compatibility_message="media ✓"),
    )

    updated = store.update_service(
        service.account_sid, service.sid, friendly_name="renamed", config=config
    )

    assert updated.config == config
    assert updated.friendly_name == "renamed"
    assert updated.date_updated > service.date_updated
    assert store.get_service(service.account_sid, service.sid) == updated


def test_default_roles_must_belong_to_the_service(store: Store, service: Service) -> None:
    other = store.create_service(service.account_sid, friendly_name="other")
    foreign = dataclasses.replace(
        service.config, default_channel_role_sid=other.config.default_channel_role_sid
    )

    with pytest.raises(NotFound) as caught:
        store.update_service(service.account_sid, service.sid, config=foreign)
    assert caught.value.resource == "Role"


def test_list_services_pages(store: Store, account: Account) -> None:
    made = [store.create_service(account.sid, friendly_name=f"s{i}") for i in range(3)]

    first = store.list_services(account.sid, limit=2)
    second = store.list_services(account.sid, limit=2, cursor=first.next_cursor)

    assert [s.sid for s in first.items + second.items] == [s.sid for s in made]
    assert second.next_cursor is None


def test_deleting_a_service_deletes_everything_in_it(store: Store, service: Service) -> None:
    channel = store.create_channel(service.sid, unique_name="general")
    store.create_member(service.sid, channel.sid, "alice")
    store.create_message(service.sid, channel.sid, body="hi")
    store.create_invite(service.sid, channel.sid, "bob")

    store.delete_service(service.account_sid, service.sid)

    with pytest.raises(NotFound):
        store.get_service(service.account_sid, service.sid)
    with pytest.raises(NotFound):
        store.get_channel(service.sid, channel.sid)
    with pytest.raises(NotFound):
        store.get_user(service.sid, "alice")
    with pytest.raises(NotFound):
        store.get_role(service.sid, str(service.config.default_channel_role_sid))
    with pytest.raises(NotFound):
        store.delete_service(service.account_sid, service.sid)


def test_role_crud(store: Store, service: Service) -> None:
    role = store.create_role(
        service.sid,
        friendly_name="moderator",
        type="channel",
        permissions=["sendMessage", "removeMember"],
    )

    assert sids.is_sid(role.sid, "RL")
    assert store.get_role(service.sid, role.sid) == role

    changed = store.update_role(service.sid, role.sid, permissions=["sendMessage"])
    assert changed.permissions == ("sendMessage",)
    assert changed.friendly_name == "moderator"
    assert changed.date_updated > role.date_updated

    store.delete_role(service.sid, role.sid)
    with pytest.raises(NotFound):
        store.get_role(service.sid, role.sid)


def test_role_type_is_checked(store: Store, service: Service) -> None:
    with pytest.raises(ValueError, match="role type"):
        store.create_role(
            service.sid,
            friendly_name="x",
            type="global",  # type: ignore[arg-type]
            permissions=[],
        )


def test_roles_in_use_cannot_be_deleted(store: Store, service: Service) -> None:
    default = str(service.config.default_service_role_sid)
    with pytest.raises(Conflict, match="default"):
        store.delete_role(service.sid, default)

    role = store.create_role(service.sid, friendly_name="vip", type="deployment", permissions=[])
    store.create_user(service.sid, "alice", role_sid=role.sid)
    with pytest.raises(Conflict, match="in use"):
        store.delete_role(service.sid, role.sid)

    store.delete_user(service.sid, "alice")
    store.delete_role(service.sid, role.sid)


def test_roles_of_another_service_are_not_found(store: Store, service: Service) -> None:
    other = store.create_service(service.account_sid, friendly_name="other")
    foreign = store.create_role(other.sid, friendly_name="x", type="channel", permissions=[])

    for call in (
        lambda: store.get_role(service.sid, foreign.sid),
        lambda: store.update_role(service.sid, foreign.sid, permissions=[]),
        lambda: store.delete_role(service.sid, foreign.sid),
        lambda: store.create_user(service.sid, "alice", role_sid=foreign.sid),
    ):
        with pytest.raises(NotFound):
            call()
