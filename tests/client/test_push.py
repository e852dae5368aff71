"""The SDK's push registration against the real gateway, checked through REST (the official
client, whose blocking calls are fine here: the server runs in a thread of its own)."""

from __future__ import annotations

import pytest

from hubbub.client import ChatError
from tests.client.support import connect, run
from tests.push_material import credential
from tests.realtime.conftest import RealtimeServer
from tests.web.server import twilio_client


def test_set_unset_and_remove_push_registrations(realtime_server: RealtimeServer) -> None:
    server = realtime_server
    fcm = credential(server.store, server.box, server.creds.account_sid, "fcm")
    creds = server.creds
    rest = twilio_client(server.base_url, creds.account_sid, creds.auth_token)
    chat = rest.chat.v2.services(creds.chat_service_sid)

    async def scenario() -> None:
        async with await connect(server, "alice") as alice:
            sid = await alice.set_push_registration_id("fcm", "fcm-token-a")
            [binding] = chat.bindings.list()
            assert (binding.sid, binding.identity, binding.binding_type) == (sid, "alice", "fcm")
            assert binding.credential_sid == fcm
            assert binding.message_types == [
                "new_message",
                "added_to_channel",
                "invited_to_channel",
                "removed_from_channel",
            ]
            await alice.unset_push_registration_id("fcm")
            assert chat.bindings.list() == []
            await alice.unset_push_registration_id("fcm")  # nothing left to unset

            await alice.set_push_registration_id("fcm", "fcm-token-b", ["new_message"])
            assert [b.message_types for b in chat.bindings.list()] == [["new_message"]]
            await alice.remove_push_registrations("fcm", "fcm-token-b")
            assert chat.bindings.list() == []

            with pytest.raises(ChatError) as caught:
                await alice.set_push_registration_id("apn", "not-a-device-token")
            assert caught.value.code == 20001

    run(scenario())
