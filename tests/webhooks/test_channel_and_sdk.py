"""Channel webhooks firing, the Python SDK meeting a pre-event webhook, the SSRF guard, and
accounts without a sealed auth token."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from hubbub.chat.provision import new_account
from hubbub.client import ChatClient, ChatError
from hubbub.crypto import SecretBox
from hubbub.store import open_store
from hubbub.webhooks.addresses import Guard
from hubbub.webhooks.http import Client
from hubbub.webhooks.sender import Sender
from tests.webhooks.conftest import HookedServer, synced
from tests.webhooks.receiver import Answer, receiving


async def _room(hooked: HookedServer) -> tuple[ChatClient, str]:
    alice = await ChatClient.create(hooked.mint("alice"), url=hooked.ws_url)
    channel = await alice.create_channel(unique_name="room", friendly_name="Room")
    return alice, channel.sid


@synced
async def test_channel_webhooks_are_called_for_their_filters_and_trigger_words(
    hooked: HookedServer,
) -> None:
    alice, channel = await _room(hooked)
    try:
        webhooks = hooked.service().channels(channel).webhooks
        base = hooked.receiver.base_url
        webhooks.create(
            type="webhook",
            configuration_url=f"{base}/members",
            configuration_filters=["onMemberAdded", "onMemberRemoved"],
        )
        webhooks.create(
            type="trigger",
            configuration_url=f"{base}/trigger",
            configuration_triggers=["help", "urgent"],
            configuration_method="GET",
        )
        room = await alice.get_channel_by_sid(channel)
        await room.send_message("nothing to see")
        await room.send_message("I need HELP now")
        bob = await ChatClient.create(hooked.mint("bob"), url=hooked.ws_url)
        try:
            await (await bob.get_channel_by_sid(channel)).join()
        finally:
            await bob.shutdown()
        await room.send_message("help, urgent")  # one webhook, however many words match
        received = hooked.receiver.wait_for(3)

        def path(r: Any) -> str:
            return str(r.url.split("?")[0].rsplit("/", 1)[1])

        # Each receiver's webhooks come in order; two receivers' are sent side by side.
        assert sorted((path(r), r.method, r.event) for r in received) == [
            ("members", "POST", "onMemberAdded"),
            ("trigger", "GET", "onMessageSent"),
            ("trigger", "GET", "onMessageSent"),
        ]
        triggered = [r.form["Body"] for r in received if path(r) == "trigger"]
        assert triggered == ["I need HELP now", "help, urgent"]
        assert [r.form["Identity"] for r in received if path(r) == "members"] == ["bob"]
        hooked.receiver.assert_signed(hooked.creds.auth_token)
    finally:
        await alice.shutdown()


@synced
async def test_the_sdk_sees_a_refusal_as_an_error_and_a_rewrite_in_its_message(
    hooked: HookedServer,
) -> None:
    alice, channel = await _room(hooked)
    try:
        room = await alice.get_channel_by_sid(channel)
        hooked.hook("onMessageSend", pre=True)
        hooked.receiver.script = [Answer(400)]
        with pytest.raises(ChatError) as refused:
            await room.send_message("no")
        assert (refused.value.status, refused.value.code) == (403, 20403)
        hooked.receiver.script = [Answer(200, json.dumps({"body": "yes"}).encode())]
        index = await room.send_message("maybe")
        page = await room.get_messages()
        assert [(m.index, m.body) for m in page] == [(index, "yes")]
    finally:
        await alice.shutdown()


@synced
async def test_a_webhook_at_a_forbidden_address_refuses_the_action(
    hooked: HookedServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The fixture's server may reach loopback; this one keeps the default guard.
    sender = Sender(hooked.store, hooked.box, Client(Guard()))
    alice, channel = await _room(hooked)
    try:
        hooked.app.state.node.core.hooks.sender = sender
        hooked.hook("onMessageSend", pre=True)
        room = await alice.get_channel_by_sid(channel)
        with caplog.at_level(logging.INFO, "hubbub.webhooks"), pytest.raises(ChatError):
            await room.send_message("hello")
        assert hooked.receiver.received == []
        assert "127.0.0.1" in caplog.text
    finally:
        await alice.shutdown()
        sender.close()


def test_an_account_without_a_sealed_token_sends_unsigned_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'old.db'}")
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    store.update_account(creds.account_sid, sealed_auth_token=None)  # as before migration 0005
    with receiving() as receiver, Client(Guard.from_strings(["127.0.0.0/8"])) as client:
        sender = Sender(store, box, client)
        with caplog.at_level(logging.WARNING, "hubbub.webhooks"):
            for _ in range(2):
                attempt = sender.attempt(
                    creds.account_sid, f"{receiver.base_url}/post", "POST", (("A", "b"),), 0
                )
                assert attempt.ok
        assert [r.headers.get("x-twilio-signature") for r in receiver.wait_for(2)] == [None, None]
        assert caplog.text.count("no sealed auth token") == 1
        assert "hubbub keys auth-token" in caplog.text
    store.close()
