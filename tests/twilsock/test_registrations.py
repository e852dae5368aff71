"""Push registrations of Twilio's SDKs (ERS requests tunnelled through twilsock), as
@twilio/notifications sends them, through the session state machine."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet

from hubbub.crypto import SecretBox
from hubbub.twilsock.session import TwilsockSession
from tests.push_material import credential
from tests.twilsock.conftest import T0, World
from tests.twilsock.support import init, only, request

PRODUCT = {"productId": "ip_messaging"}
TYPES = [
    "twilio.channel.new_message",
    "twilio.channel.added_to_channel",
    "twilio.channel.invited_to_channel",
    "twilio.channel.removed_from_channel",
    "twilio.channel.consumption_update",
]


def _session(world: World, identity: str, **grant: str) -> TwilsockSession:
    chat = {"service_sid": world.service_sid, **grant}
    now = int(T0)
    token = world.minter.mint({"identity": identity, "chat": chat}, now=now, exp=now + 600, nbf=now)
    session = TwilsockSession(world.commands, world.api, now=T0, warning=180.0)
    reply = only(session.receive(init(token), T0))
    assert reply.header["status"]["code"] == 200, reply.header
    return session


def _ers(session: TwilsockSession, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    reply = only(session.receive(request(method, path, body, params=PRODUCT), T0 + 1))
    assert reply.header["status"]["code"] == 200
    return int(reply.header["http_status"]["code"]), reply.body() if reply.payload else None


def _registration(token: str, channel_type: str = "fcm") -> dict[str, Any]:
    """What RegistrarConnector.updateRegistration posts."""
    return {
        "endpoint_platform": "web",
        "channel_type": channel_type,
        "version": "3" if channel_type == "fcm" else "4",
        "message_types": TYPES,
        "data": {"registration_id": token},
    }


def test_an_sdk_registers_and_unregisters_by_id(world: World) -> None:
    box = SecretBox(Fernet.generate_key())
    older = credential(world.store, box, world.creds.account_sid, "fcm")
    named = credential(world.store, box, world.creds.account_sid, "fcm")
    credential(world.store, box, world.creds.account_sid, "fcm")  # newest, not named
    session = _session(world, "alice", push_credential_sid=named, endpoint_id="alice-pixel")
    service = world.service_sid

    status, answer = _ers(session, "POST", "/v1/registrations", _registration("fcm-token-1"))
    assert status == 200, answer
    binding = world.store.get_binding(service, answer["id"])
    assert (binding.identity, binding.binding_type, binding.address) == (
        "alice",
        "fcm",
        "fcm-token-1",
    )
    assert (binding.credential_sid, binding.endpoint) == (named, "alice-pixel")
    assert binding.message_types == tuple(TYPES)
    assert older != named

    # Registering again (a new set of types) updates the same binding.
    again = dict(_registration("fcm-token-1"), message_types=TYPES[:1])
    status, second = _ers(session, "POST", "/v1/registrations", again)
    assert (status, second["id"]) == (200, answer["id"])
    assert world.store.get_binding(service, answer["id"]).message_types == tuple(TYPES[:1])

    status, _ = _ers(session, "DELETE", f"/v1/registrations/{answer['id']}", {})
    assert status == 204
    assert world.store.list_bindings(service).items == ()
    # Gone is gone: the SDK's retry succeeds.
    assert _ers(session, "DELETE", f"/v1/registrations/{answer['id']}", {})[0] == 204


def test_removing_by_address_and_the_newest_credential_by_default(world: World) -> None:
    box = SecretBox(Fernet.generate_key())
    apn = credential(world.store, box, world.creds.account_sid, "apn")
    alice = _session(world, "alice")
    token = "0f" * 32
    status, answer = _ers(alice, "POST", "/v1/registrations", _registration(token, "apn"))
    assert status == 200, answer
    found = world.store.get_binding(world.service_sid, answer["id"])
    assert found.credential_sid == apn
    assert found.endpoint.startswith("alice:apn:")

    # Bob cannot remove Alice's device; Alice can (Conversations' removePushRegistrations).
    bob = _session(world, "bob")
    body = {"binding_type": "apn", "address": token}
    assert _ers(bob, "DELETE", "/v1/registrations", body)[0] == 204
    assert _ers(bob, "DELETE", f"/v1/registrations/{answer['id']}", {})[0] == 204
    assert world.store.get_binding(world.service_sid, answer["id"]).identity == "alice"
    assert _ers(alice, "DELETE", "/v1/registrations", body)[0] == 204
    assert world.store.list_bindings(world.service_sid).items == ()


def test_registrations_that_cannot_be_served_are_refused_in_twilios_shape(world: World) -> None:
    alice = _session(world, "alice")
    status, error = _ers(alice, "POST", "/v1/registrations", _registration("t"))
    assert (status, error["code"]) == (400, 20001)
    assert "no fcm push credential" in error["message"]
    box = SecretBox(Fernet.generate_key())
    credential(world.store, box, world.creds.account_sid, "fcm")
    for bad in (
        dict(_registration("t"), channel_type="sms"),
        dict(_registration("t"), data=None),
        dict(_registration("t"), message_types="twilio.channel.new_message"),
        dict(_registration("t"), message_types=["twilio.unknown"]),
        dict(_registration(""), channel_type="fcm"),
        ["not", "an", "object"],
    ):
        status, error = _ers(alice, "POST", "/v1/registrations", bad)
        assert (status, error["code"]) == (400, 20001), bad
    assert _ers(alice, "PUT", "/v1/registrations")[0] == 405
    apn = credential(world.store, box, world.creds.account_sid, "apn")
    wrong = _session(world, "carol", push_credential_sid=apn)
    status, error = _ers(wrong, "POST", "/v1/registrations", _registration("t"))
    assert (status, error["code"]) == (400, 20001)
    assert world.store.list_bindings(world.service_sid).items == ()
