"""Push credentials (an account's) and bindings (a service's devices), on every backend."""

from __future__ import annotations

import threading

import pytest

from hubbub import sids
from hubbub.store import Account, Binding, NotFound, Service, Store
from hubbub.store.records import CredentialType

TYPES = ("twilio.channel.new_message", "twilio.channel.added_to_channel")


def _register(
    store: Store,
    service: Service,
    identity: str,
    address: str,
    *,
    binding_type: CredentialType = "fcm",
    message_types: tuple[str, ...] = TYPES,
) -> Binding:
    return store.register_binding(
        service.account_sid,
        service.sid,
        identity=identity,
        binding_type=binding_type,
        address=address,
        endpoint=f"{identity}-phone",
        message_types=message_types,
    )


def test_credential_crud(store: Store, account: Account) -> None:
    made = store.create_credential(
        account.sid,
        type="apn",
        sealed="sealed-secrets",
        friendly_name="iOS",
        sandbox=True,
        settings={"key_id": "ABC123", "team_id": "TEAM"},
    )

    assert sids.is_sid(made.sid, "CR")
    assert store.get_credential(account.sid, made.sid) == made
    assert (made.type, made.sandbox, made.settings["key_id"]) == ("apn", True, "ABC123")

    changed = store.update_credential(account.sid, made.sid, friendly_name=None, sealed="new")
    assert (changed.friendly_name, changed.sealed, changed.sandbox) == (None, "new", True)
    assert changed.settings == made.settings
    assert [c.sid for c in store.list_credentials(account.sid).items] == [made.sid]

    store.delete_credential(account.sid, made.sid)
    with pytest.raises(NotFound):
        store.get_credential(account.sid, made.sid)
    with pytest.raises(NotFound):
        store.update_credential(account.sid, made.sid, sandbox=False)


def test_credentials_are_the_accounts_own(store: Store, account: Account) -> None:
    other = store.create_account(friendly_name="other", auth_token_hash="hash")
    made = store.create_credential(account.sid, type="fcm", sealed="x")

    with pytest.raises(NotFound):
        store.get_credential(other.sid, made.sid)
    with pytest.raises(NotFound):
        store.delete_credential(other.sid, made.sid)
    assert store.list_credentials(other.sid).items == ()
    with pytest.raises(NotFound):
        store.create_credential("AC" + "0" * 32, type="fcm", sealed="x")


def test_resealing_reaches_credentials(store: Store, account: Account) -> None:
    made = store.create_credential(account.sid, type="fcm", sealed="old")

    store.reseal_secrets(lambda sealed: sealed.upper() if sealed == "old" else sealed)

    assert store.get_credential(account.sid, made.sid).sealed == "OLD"


def test_a_device_registering_again_keeps_one_binding(store: Store, service: Service) -> None:
    first = _register(store, service, "alice", "token-1")

    again = _register(store, service, "bob", "token-1", message_types=TYPES[:1])

    assert again.sid == first.sid
    assert (again.identity, again.message_types) == ("bob", TYPES[:1])
    assert [b.sid for b in store.list_bindings(service.sid).items] == [first.sid]
    # The same token of another provider is another device.
    other = _register(store, service, "bob", "token-1", binding_type="apn")
    assert other.sid != first.sid


def test_concurrent_first_registrations_make_one_binding(store: Store, service: Service) -> None:
    made: list[Binding] = []
    threads = [
        threading.Thread(target=lambda: made.append(_register(store, service, "alice", "t")))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({b.sid for b in made}) == 1
    assert len(store.list_bindings(service.sid).items) == 1


def test_bindings_are_found_by_user_type_and_message_type(store: Store, service: Service) -> None:
    alice = _register(store, service, "alice", "a1")
    alice_ios = _register(store, service, "alice", "a2", binding_type="apn")
    bob = _register(store, service, "bob", "b1", message_types=TYPES[1:])

    assert {b.sid for b in store.list_bindings(service.sid, identities=["alice"]).items} == {
        alice.sid,
        alice_ios.sid,
    }
    assert [b.sid for b in store.list_bindings(service.sid, binding_types=["apn"]).items] == [
        alice_ios.sid
    ]
    found = store.bindings_for(service.sid, ["alice", "bob"], TYPES[0])
    assert {b.sid for b in found} == {alice.sid, alice_ios.sid}
    assert [b.sid for b in store.bindings_for(service.sid, ["bob"], TYPES[1])] == [bob.sid]
    assert store.bindings_for(service.sid, [], TYPES[0]) == []


def test_bindings_are_the_services_own_and_go_with_it(store: Store, service: Service) -> None:
    other = store.create_service(service.account_sid, friendly_name="other")
    binding = _register(store, service, "alice", "a1")

    with pytest.raises(NotFound):
        store.get_binding(other.sid, binding.sid)
    with pytest.raises(NotFound):
        store.delete_binding(other.sid, binding.sid)
    with pytest.raises(NotFound):
        store.register_binding(
            service.account_sid,
            "IS" + "0" * 32,
            identity="x",
            binding_type="fcm",
            address="y",
            endpoint="e",
            message_types=TYPES,
        )

    store.delete_service(service.account_sid, service.sid)
    assert store.list_bindings(service.sid).items == ()


def test_a_dead_address_is_forgotten(store: Store, service: Service) -> None:
    other = store.create_service(service.account_sid, friendly_name="other")
    dead = _register(store, service, "alice", "dead")
    _register(store, other, "alice", "dead")
    kept = _register(store, service, "alice", "alive")

    assert store.forget_address(service.sid, "fcm", "dead") == 1
    assert store.forget_address(service.sid, "fcm", "dead") == 0

    assert [b.sid for b in store.list_bindings(service.sid).items] == [kept.sid]
    # Another service's binding of the same address is its own: not the same credential.
    assert [b.address for b in store.list_bindings(other.sid).items] == ["dead"]
    with pytest.raises(NotFound):
        store.get_binding(service.sid, dead.sid)
