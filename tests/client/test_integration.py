"""The SDK against the real gateway: live chat between two clients, the token lifecycle, and a
reconnect with catch-up after the connection is cut."""

from __future__ import annotations

import pytest

from hubbub.client import ChatClient, ChatError, ConnectionState, Message
from tests.client.relay import Relay
from tests.client.support import call, connect, record, rest, run, until
from tests.realtime.conftest import RealtimeServer


def test_two_clients_chat(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        async with (
            await connect(realtime_server, "alice") as alice,
            await connect(realtime_server, "bob") as bob,
        ):
            added = record(bob, "channel_added")
            general = await alice.create_channel("General", "general", {"topic": "all"})
            assert general.status == "joined"
            await until(lambda: len(added) == 1)
            assert added[0].unique_name == "general"

            joined = record(alice, "member_joined")
            theirs = await bob.get_channel_by_unique_name("general")
            assert theirs.attributes == {"topic": "all"}
            await theirs.join()
            await until(lambda: [m.identity for m in joined] == ["bob"])

            to_bob, to_alice = record(bob, "message_added"), record(alice, "message_added")
            typing = record(bob, "typing_started")
            await general.typing()
            index = await general.send_message("hello", {"mood": "good"})
            assert index == 0
            await until(lambda: len(to_bob) == 1 and len(to_alice) == 1)
            message: Message = to_bob[0]
            assert (message.author, message.body, message.index) == ("alice", "hello", 0)
            assert message.attributes == {"mood": "good"}
            assert message.channel_sid == general.sid
            await until(lambda: [t.identity for t in typing] == ["alice"])

            assert [m.body for m in await theirs.get_messages()] == ["hello"]
            assert await theirs.update_last_consumed_message_index(0) == 0
            assert await theirs.get_unconsumed_messages_count() == 0
            assert [c.sid for c in await bob.get_subscribed_channels()] == [general.sid]
            page = await bob.get_public_channels()
            assert [c.sid for c in page.items] == [general.sid]
            assert not page.has_next_page

            left = record(alice, "member_left")
            await theirs.leave()
            await until(lambda: [m.identity for m in left] == ["bob"])
            assert theirs.status == "known"

    run(scenario())


def test_a_private_channel_needs_an_invite(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        async with (
            await connect(realtime_server, "alice") as alice,
            await connect(realtime_server, "bob") as bob,
        ):
            secret = await alice.create_channel(unique_name="secret", private=True)
            with pytest.raises(ChatError) as hidden:
                await bob.get_channel_by_sid(secret.sid)
            assert hidden.value.code == 20404
            invited = record(bob, "channel_invited")
            await secret.invite("bob")
            await until(lambda: len(invited) == 1)
            assert invited[0].status == "invited"
            await invited[0].join()
            assert invited[0].status == "joined"

    run(scenario())


def test_a_bad_token_fails_create(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        with pytest.raises(ChatError) as refused:
            await ChatClient.create("not-a-token", url=realtime_server.url)
        assert refused.value.code == 20101

    run(scenario())


def test_update_token_keeps_the_connection(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        async with await connect(realtime_server, "alice") as alice:
            events = record(alice, "connection_state_changed", "channel_joined")
            await alice.update_token(realtime_server.mint("alice", ttl=7200))
            with pytest.raises(ChatError) as refused:
                await alice.update_token(realtime_server.mint("mallory"))
            assert refused.value.code == 20106
            # The old token stays in force, on the same connection.
            await alice.create_channel(unique_name="still-here")
            # Its channel_joined comes after any change of state from before it: there is none.
            await until(lambda: len(events) >= 1)
            assert [event for event, _ in events] == ["channel_joined"]
            assert alice.state is ConnectionState.CONNECTED

    run(scenario())


def test_a_provider_renews_a_short_token_in_place(realtime_server: RealtimeServer) -> None:
    """Tokens of 5 s, warned 3 s before expiry (the fixture's setting): the client renews each
    in turn; a second warning only comes once the server has taken the first renewal."""
    minted: list[str] = []

    async def provider() -> str:
        minted.append(realtime_server.mint("alice", ttl=5))
        return minted[-1]

    async def scenario() -> None:
        alice = await ChatClient.create(token_provider=provider, url=realtime_server.url)
        async with alice:
            states = record(alice, "connection_state_changed")
            warnings = record(alice, "token_about_to_expire")
            await until(lambda: len(warnings) >= 2 and len(minted) >= 3, timeout=15)
            assert states == []
            await alice.create_channel(unique_name="renewed")

    run(scenario())


def test_reconnect_catches_up_on_what_was_missed(realtime_server: RealtimeServer) -> None:
    """Bob's connection is cut and kept shut while 3 messages are sent live and 120 more are
    written straight to the store (more than one page); after reconnecting he gets each of them
    once, in order, then live messages again."""

    async def scenario() -> None:
        async with Relay(realtime_server.url) as relay:
            alice = await connect(realtime_server, "alice")
            bob = await connect(realtime_server, "bob", url=relay.url)
            async with alice, bob:
                general = await alice.create_channel(unique_name="general")
                await (await bob.get_channel_by_sid(general.sid)).join()
                got = record(bob, "message_added")
                states = record(bob, "connection_state_changed")
                await general.send_message("m0")
                await until(lambda: len(got) == 1)

                relay.cut(stay_shut=True)
                await until(lambda: bob.state is ConnectionState.CONNECTING)
                for i in range(1, 4):
                    await general.send_message(f"m{i}")
                service = realtime_server.creds.chat_service_sid
                for i in range(4, 124):
                    realtime_server.store.create_message(
                        service, general.sid, body=f"m{i}", from_="alice"
                    )
                await until(lambda: relay.refused >= 2)  # a few failed attempts, backing off
                relay.reopen()

                await until(lambda: len(got) >= 124)
                await general.send_message("m124")
                await until(lambda: len(got) >= 125)
                # m125 comes after anything still to come from before it, duplicates included.
                await general.send_message("m125")
                await until(lambda: len(got) >= 126)
                assert [m.body for m in got] == [f"m{i}" for i in range(126)]
                assert [m.index for m in got] == list(range(126))
                assert states[:1] == [ConnectionState.CONNECTING]
                assert states[-1] is ConnectionState.CONNECTED
                assert bob.close_code == 1006

    run(scenario())


def test_edits_and_removals_made_while_away_are_reported_after_reconnecting(
    realtime_server: RealtimeServer,
) -> None:
    """Bob is cut off after getting m0-m4; meanwhile m1 is edited and m3 removed through the
    gateway, m2 edited and m4 removed through the REST API, and m5 sent. Back, he hears of each
    change once, in index order; the removed messages come as he last knew them."""

    async def scenario() -> None:
        async with (
            Relay(realtime_server.url) as relay,
            await connect(realtime_server, "alice") as alice,
            await connect(realtime_server, "bob", url=relay.url) as bob,
            rest(realtime_server) as api,
        ):
            general = await alice.create_channel(unique_name="general")
            await (await bob.get_channel_by_sid(general.sid)).join()
            changes = record(bob, "message_added", "message_updated", "message_removed")
            sids = []
            for i in range(5):
                await general.send_message(f"m{i}")
            await until(lambda: len(changes) == 5)
            sids = [message.sid for _, message in changes]

            relay.cut(stay_shut=True)
            await until(lambda: bob.state is ConnectionState.CONNECTING)
            messages = f"/Channels/{general.sid}/Messages"
            await general.update_message(sids[1], body="m1, edited")
            await general.remove_message(sids[3])
            await call(api, "POST", f"{messages}/{sids[2]}", Body="m2, edited")
            await call(api, "DELETE", f"{messages}/{sids[4]}")
            await general.send_message("m5")
            relay.reopen()

            await until(lambda: len(changes) >= 10)
            # m6 comes after anything still to come from before it: nothing more should.
            await general.send_message("m6")
            await until(lambda: len(changes) >= 11)
            caught_up = [(event, m.index, m.body) for event, m in changes[5:]]
            assert caught_up == [
                ("message_updated", 1, "m1, edited"),
                ("message_updated", 2, "m2, edited"),
                ("message_removed", 3, "m3"),
                ("message_removed", 4, "m4"),
                ("message_added", 5, "m5"),
                ("message_added", 6, "m6"),
            ]
            edited = changes[5][1]
            assert (edited.was_edited, edited.last_updated_by) == (True, "alice")

            # Live again: an edit and a removal are reported once each, as they happen.
            await general.update_message(sids[0], body="m0, edited")
            await general.remove_message(sids[1])
            await until(lambda: len(changes) >= 13)
            await general.send_message("m7")
            await until(lambda: len(changes) >= 14)
            assert [(event, m.index, m.body) for event, m in changes[11:]] == [
                ("message_updated", 0, "m0, edited"),
                ("message_removed", 1, "m1, edited"),
                ("message_added", 7, "m7"),
            ]

    run(scenario())


def test_history_the_application_loaded_is_caught_up_too(realtime_server: RealtimeServer) -> None:
    """Bob joins a channel with history and loads its last three messages; of the changes made
    while he is away, he hears of those to the messages he loaded, not of the others."""

    async def scenario() -> None:
        async with (
            Relay(realtime_server.url) as relay,
            await connect(realtime_server, "alice") as alice,
            await connect(realtime_server, "bob", url=relay.url) as bob,
            rest(realtime_server) as api,
        ):
            general = await alice.create_channel(unique_name="general")
            sids = [
                (await call(api, "POST", f"/Channels/{general.sid}/Messages", Body=f"m{i}"))["sid"]
                for i in range(5)
            ]
            joined = record(bob, "channel_joined")
            theirs = await (await bob.get_channel_by_sid(general.sid)).join()
            await until(lambda: len(joined) == 1)
            assert [m.index for m in await theirs.get_messages(page_size=3)] == [2, 3, 4]
            changes = record(bob, "message_added", "message_updated", "message_removed")

            relay.cut(stay_shut=True)
            await until(lambda: bob.state is ConnectionState.CONNECTING)
            messages = f"/Channels/{general.sid}/Messages"
            await call(api, "DELETE", f"{messages}/{sids[0]}")  # never loaded: not reported
            await call(api, "POST", f"{messages}/{sids[1]}", Body="edited")  # nor this
            await call(api, "DELETE", f"{messages}/{sids[3]}")
            await call(api, "POST", f"{messages}/{sids[4]}", Body="m4, edited")
            relay.reopen()

            await until(lambda: len(changes) >= 2)
            # m5 comes after anything still to come from before it: nothing more should.
            await general.send_message("m5")
            await until(lambda: len(changes) >= 3)
            assert [(event, m.index, m.body) for event, m in changes] == [
                ("message_removed", 3, "m3"),
                ("message_updated", 4, "m4, edited"),
                ("message_added", 5, "m5"),
            ]

    run(scenario())


def test_members_and_invitations(realtime_server: RealtimeServer) -> None:
    """A channel's members with their users; an invitation made while the invitee was away is
    among their subscribed channels, as ``invited``, and can be joined from there."""

    async def scenario() -> None:
        async with await connect(realtime_server, "alice") as alice:
            room = await alice.create_channel(unique_name="room", private=True)
            await room.invite("bob")
            members = await room.get_members()
            assert [(m.identity, m.user and m.user.identity) for m in members] == [
                ("alice", "alice")
            ]
            async with await connect(realtime_server, "bob") as bob:
                [invited] = await bob.get_subscribed_channels()
                assert (invited.sid, invited.status) == (room.sid, "invited")
                await invited.join()
                assert invited.status == "joined"
                members = await room.get_members()
                assert sorted(m.identity for m in members) == ["alice", "bob"]

    run(scenario())


def test_a_page_cut_short_by_the_server_says_so(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        async with await connect(realtime_server, "alice") as alice:
            heavy = await alice.create_channel(unique_name="heavy")
            for n in range(60):
                await heavy.send_message('"' * 20000 + str(n), {"q": '"' * 4000})
            page = await heavy.get_messages(page_size=60)
            assert page.truncated
            assert 0 < len(page) < 60
            assert [m.index for m in page] == list(range(60 - len(page), 60))  # the newest
            small = await heavy.get_messages(page_size=2)
            assert not small.truncated
            assert [m.index for m in small] == [58, 59]

    run(scenario())
