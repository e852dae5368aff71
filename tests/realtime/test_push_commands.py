"""Push registration over ``/v1/ws``: ``get_webpush_key``, ``register_push`` and
``unregister_push``, over real sockets, with what REST then shows."""

from __future__ import annotations

import asyncio
from typing import Any

from hubbub.chat.provision import new_account
from tests.push_material import credential, subscription
from tests.realtime.conftest import RealtimeServer, signed_in
from tests.realtime.test_commands import error_of
from tests.web.server import twilio_client


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_a_browser_subscription_registers_as_a_webpush_binding(
    realtime_server: RealtimeServer,
) -> None:
    server = realtime_server
    store, creds = server.store, server.creds

    async def before_any_credential() -> None:
        async with signed_in(server, "alice") as (alice,):
            key = await alice.command("get_webpush_key")
            assert key["result"] == {"public_key": None, "credential_sid": None}
            refused = await alice.command(
                "register_push", binding_type="webpush", address=subscription()
            )
            assert error_of(refused) == (400, 20001)

    run(before_any_credential())
    webpush = credential(store, server.box, creds.account_sid, "webpush")
    public_key = store.get_credential(creds.account_sid, webpush).settings["public_key"]
    browser = subscription()

    async def scenario() -> str:
        async with signed_in(server, "alice", "bob") as (alice, bob):
            key = await alice.command("get_webpush_key")
            assert key["result"] == {"public_key": public_key, "credential_sid": webpush}
            # The subscription's JSON, as the page sends it (an object; a string works too).
            made = await alice.command("register_push", binding_type="webpush", address=browser)
            assert made["ok"], made
            result = made["result"]
            assert result["binding_type"] == "webpush"
            assert result["credential_sid"] == webpush
            assert result["message_types"] == [
                "twilio.channel.new_message",
                "twilio.channel.added_to_channel",
                "twilio.channel.invited_to_channel",
                "twilio.channel.removed_from_channel",
            ]
            for bad in (
                {"binding_type": "webpush", "address": {"endpoint": "https://x"}},
                {"binding_type": "carrier-pigeon", "address": "x"},
                {"binding_type": "webpush", "address": browser, "message_types": "all"},
                {"binding_type": "webpush", "address": "[" * 4000},  # deeper than parsers go
            ):
                assert error_of(await alice.command("register_push", **bad)) == (400, 20001)
            # Bob cannot remove it.
            gone = await bob.command("unregister_push", binding_sid=result["binding_sid"])
            assert gone["result"] == {"removed": []}
            return str(result["binding_sid"])

    sid = run(scenario())
    rest = twilio_client(server.base_url, creds.account_sid, creds.auth_token)
    chat = rest.chat.v2.services(creds.chat_service_sid)
    [listed] = chat.bindings.list(binding_type=["webpush"])
    assert (listed.sid, listed.identity, listed.credential_sid) == (sid, "alice", webpush)
    assert listed.message_types == [
        "new_message",
        "added_to_channel",
        "invited_to_channel",
        "removed_from_channel",
    ]
    # Another account's service shows none of it.
    other = new_account(store, server.box, name="other")
    theirs = twilio_client(server.base_url, other.account_sid, other.auth_token)
    assert theirs.chat.v2.services(other.chat_service_sid).bindings.list() == []

    async def unregister() -> None:
        async with signed_in(server, "alice") as (alice,):
            gone = await alice.command("unregister_push", binding_type="webpush", address=browser)
            assert gone["result"] == {"removed": [sid]}
            again = await alice.command("unregister_push", binding_sid=sid)
            assert again["result"] == {"removed": []}

    run(unregister())
    assert chat.bindings.list() == []


def test_register_push_takes_fcm_and_apn_tokens_and_message_types(
    realtime_server: RealtimeServer,
) -> None:
    server = realtime_server
    fcm = credential(server.store, server.box, server.creds.account_sid, "fcm")
    credential(server.store, server.box, server.creds.account_sid, "apn")

    async def scenario() -> None:
        async with signed_in(server, "carol") as (carol,):
            made = await carol.command(
                "register_push",
                binding_type="fcm",
                address="fcm-registration-token",
                message_types=["new_message"],
            )
            assert made["result"]["credential_sid"] == fcm
            assert made["result"]["message_types"] == ["twilio.channel.new_message"]
            ios = await carol.command("register_push", binding_type="apn", address="a1" * 32)
            assert ios["ok"], ios
            listed = server.store.list_bindings(server.creds.chat_service_sid).items
            assert {(b.binding_type, b.identity) for b in listed} == {
                ("fcm", "carol"),
                ("apn", "carol"),
            }

    run(scenario())
