"""Twilio's SDKs register a device for push (``setPushRegistrationId``) and remove it again,
against a real ``hubbub serve``: the binding appears over REST with the user, the provider,
the message types the SDK asked for and the token's push credential, and goes away."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hubbub.store import Binding, Store, open_store
from tests.push_material import service_account
from tests.twilio_sdk.conftest import SdkServer
from tests.twilio_sdk.driver import Driver

Drivers = Callable[[str], Driver]
Fresh = Callable[[str], str]

#: What each SDK subscribes a push channel to (twilio-chat client.ts, 5.x adding typing;
#: Conversations' client.ts, which adds typing too), as the REST API lists them.
CONV = {
    "twilio.conversations.new_message",
    "twilio.conversations.added_to_conversation",
    "twilio.conversations.removed_from_conversation",
    "twilio.ipmsg.typing_indicator",
    "consumption_update",
}
CHAT = {
    "new_message",
    "added_to_channel",
    "invited_to_channel",
    "removed_from_channel",
    "consumption_update",
}
REST_TYPES = {
    "chat5": CHAT | {"twilio.ipmsg.typing_indicator"},
    "chat6": CHAT,
    "conv2": CONV,
    "conv3": CONV,
}


@pytest.fixture(scope="module")
def fcm_credential(sdk_server: SdkServer) -> str:
    made = sdk_server.rest.chat.v2.credentials.create(
        type="fcm", secret=service_account(), friendly_name="sdk tests"
    )
    sid: str = made.sid
    return sid


@pytest.fixture
def stored(sdk_server: SdkServer) -> Iterator[Store]:
    """The server's own database, read beside it (what REST does not show: the address)."""
    store = open_store(f"sqlite:///{sdk_server.workdir / 'hubbub.db'}", run_migrations=False)
    yield store
    store.close()


def _bindings(server: SdkServer, identity: str) -> list[Any]:
    return list(server.chat.bindings.list(identity=[identity]))


def _until(check: Callable[[], bool], timeout: float = 10) -> None:
    # twilio-chat 5.x's calls resolve before its registrar has sent anything; the later SDKs'
    # once the server answered.
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _registered(
    server: SdkServer, store: Store, identity: str, sdk: str, credential: str, token: str
) -> Binding:
    _until(lambda: len(_bindings(server, identity)) == 1)
    [binding] = _bindings(server, identity)
    assert (binding.identity, binding.binding_type) == (identity, "fcm")
    assert binding.credential_sid == credential
    assert set(binding.message_types) == REST_TYPES[sdk]
    record = store.get_binding(server.service_sid, binding.sid)
    assert record.address == token
    return record


@pytest.mark.parametrize("sdk", ["chat5", "chat6", "conv2", "conv3"])
def test_set_push_registration_id_makes_a_binding_and_unset_removes_it(
    sdk: str,
    sdk_server: SdkServer,
    drivers: Drivers,
    fresh: Fresh,
    fcm_credential: str,
    stored: Store,
) -> None:
    driver = drivers(sdk)
    identity = fresh("alice")
    sdk_server.connect(driver, "alice", identity, push_credential_sid=fcm_credential)
    token = f"fcm-{fresh('device')}"

    driver.call("setPushRegistrationId", client="alice", channelType="fcm", registrationId=token)
    _registered(sdk_server, stored, identity, sdk, fcm_credential, token)

    driver.call("unsetPushRegistrationId", client="alice", channelType="fcm")
    _until(lambda: _bindings(sdk_server, identity) == [])
    assert driver.events("unhandledRejection") == [], driver.stderr


def test_conversations_remove_push_registrations_by_token(
    sdk_server: SdkServer, drivers: Drivers, fresh: Fresh, fcm_credential: str, stored: Store
) -> None:
    driver = drivers("conv3")
    identity = fresh("bob")
    sdk_server.connect(driver, "bob", identity, push_credential_sid=fcm_credential)
    token = f"fcm-{fresh('device')}"
    driver.call("setPushRegistrationId", client="bob", channelType="fcm", registrationId=token)
    _registered(sdk_server, stored, identity, "conv3", fcm_credential, token)

    driver.call("removePushRegistrations", client="bob", channelType="fcm", registrationId=token)
    assert _bindings(sdk_server, identity) == []


def test_a_phone_that_changes_hands_keeps_one_binding(
    sdk_server: SdkServer, drivers: Drivers, fresh: Fresh, fcm_credential: str, stored: Store
) -> None:
    """Alice signs out without unregistering, Bob signs in on the same phone: the phone's
    binding is Bob's, and Alice is not told of anything on it."""
    token = f"fcm-{fresh('device')}"
    alice, bob = fresh("alice"), fresh("bob")
    first = drivers("chat6")
    sdk_server.connect(first, "alice", alice, push_credential_sid=fcm_credential)
    first.call("setPushRegistrationId", client="alice", channelType="fcm", registrationId=token)
    [before] = _bindings(sdk_server, alice)
    first.call("shutdown", client="alice")

    second = drivers("chat6")
    sdk_server.connect(second, "bob", bob, push_credential_sid=fcm_credential)
    second.call("setPushRegistrationId", client="bob", channelType="fcm", registrationId=token)
    _until(lambda: _bindings(sdk_server, alice) == [])
    [after] = _bindings(sdk_server, bob)
    assert after.sid == before.sid
    assert stored.get_binding(sdk_server.service_sid, after.sid).address == token
