"""The SDK's events and commands against the real gateway, each caused the way an application
would meet it: by another client, by the REST API, by the service's settings, by the clock."""

from __future__ import annotations

import time

import pytest

from hubbub.client import ChatClient, ChatError, ConnectionState, User
from hubbub.tokens import Minter
from tests.client.support import call, connect, record, rest, run, until
from tests.realtime.conftest import RealtimeServer


def test_rest_writes_reach_the_sdk_as_events(realtime_server: RealtimeServer) -> None:
    """Bob is added to a channel, hears its messages, is renamed, removed and added again, and
    the channel is updated and deleted, all through the REST API; his client reports each, keeps its
    ``Channel`` object current, and stops following what he left."""

    async def scenario() -> None:
        async with await connect(realtime_server, "bob") as bob, rest(realtime_server) as api:
            events = record(
                bob,
                "channel_joined",
                "channel_updated",
                "channel_left",
                "channel_removed",
                "message_added",
                "user_updated",
            )
            created = await call(api, "POST", "/Channels", UniqueName="news", FriendlyName="News")
            sid = created["sid"]
            await call(api, "POST", f"/Channels/{sid}/Members", Identity="bob")
            await until(lambda: len(events) == 1)
            news = events[0][1]
            assert (events[0][0], news.sid, news.status) == ("channel_joined", sid, "joined")
            assert news is await bob.get_channel_by_unique_name("news")  # one object per SID

            await call(api, "POST", f"/Channels/{sid}/Messages", Body="extra!", From="press")
            await until(lambda: len(events) == 2)
            assert events[1][0] == "message_added"
            assert (events[1][1].author, events[1][1].body) == ("press", "extra!")

            await call(api, "POST", f"/Channels/{sid}", FriendlyName="Old news")
            await until(lambda: len(events) == 3)
            assert events[2][0] == "channel_updated"
            assert news.friendly_name == "Old news"

            assert bob.user is not None
            await call(api, "POST", f"/Users/{bob.user.sid}", FriendlyName="Robert")
            await until(lambda: len(events) == 4)
            assert events[3][0] == "user_updated"
            assert bob.user.friendly_name == "Robert"

            await call(api, "DELETE", f"/Channels/{sid}/Members/bob")
            await until(lambda: len(events) == 5)
            assert (events[4][0], news.status) == ("channel_left", "known")
            assert await bob.get_subscribed_channels() == []

            await call(api, "POST", f"/Channels/{sid}/Members", Identity="bob")
            await call(api, "POST", f"/Channels/{sid}/Messages", Body="again")
            await until(lambda: len(events) == 7)
            assert [(e, getattr(x, "body", None)) for e, x in events[5:]] == [
                ("channel_joined", None),
                ("message_added", "again"),
            ]
            await call(api, "DELETE", f"/Channels/{sid}")
            await until(lambda: len(events) == 8)
            assert events[7] == ("channel_removed", news)
            with pytest.raises(ChatError) as gone:
                await bob.get_channel_by_sid(sid)
            assert gone.value.code == 20404

    run(scenario())


def test_typing_ends_after_the_services_timeout(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        async with (
            await connect(realtime_server, "alice") as alice,
            await connect(realtime_server, "bob") as bob,
            rest(realtime_server) as api,
        ):
            await call(api, "POST", "", TypingIndicatorTimeout="1")
            general = await alice.create_channel(unique_name="general")
            await (await bob.get_channel_by_sid(general.sid)).join()
            typing = record(bob, "typing_started", "typing_ended")
            started = time.monotonic()
            await general.typing()
            await until(lambda: len(typing) == 2)
            assert [(event, t.identity, t.channel_sid) for event, t in typing] == [
                ("typing_started", "alice", general.sid),
                ("typing_ended", "alice", general.sid),
            ]
            assert time.monotonic() - started >= 0.9

    run(scenario())


def test_reachability_reports_users_online_and_offline(realtime_server: RealtimeServer) -> None:
    """With reachability on, Alice hears Bob come online and go offline as ``user_updated``."""

    async def scenario() -> None:
        async with await connect(realtime_server, "alice") as alice, rest(realtime_server) as api:
            await call(api, "POST", "", ReachabilityEnabled="true")
            general = await alice.create_channel(unique_name="general")
            await call(api, "POST", f"/Channels/{general.sid}/Members", Identity="bob")
            updates: list[User] = record(alice, "user_updated")
            bob = await connect(realtime_server, "bob")
            await until(lambda: [u.is_online for u in updates] == [True])
            await bob.shutdown()
            await until(lambda: [u.is_online for u in updates] == [True, False])
            assert {u.identity for u in updates} == {"bob"}

    run(scenario())


def test_a_lapsing_fixed_token_expires_and_is_denied(realtime_server: RealtimeServer) -> None:
    """A token whose expiry (plus the server's 30 s leeway) is 3 s away: ``token_expired`` when
    it lapses, close code 4002, and with no provider to ask the client ends ``denied``."""
    creds = realtime_server.creds
    minter = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)
    token = minter.chat_token("alice", creds.chat_service_sid, ttl=5, now=int(time.time()) - 32)

    async def scenario() -> None:
        async with await ChatClient.create(token, url=realtime_server.url) as alice:
            expired: list[None] = []
            alice.on("token_expired", lambda: expired.append(None))
            states = record(alice, "connection_state_changed")
            await until(lambda: alice.state is ConnectionState.DENIED, timeout=15)
            await until(lambda: len(expired) == 1)
            assert alice.close_code == 4002
            assert states == [ConnectionState.DENIED]

    run(scenario())


def test_an_invitation_can_be_declined(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        async with (
            await connect(realtime_server, "alice") as alice,
            await connect(realtime_server, "bob") as bob,
        ):
            secret = await alice.create_channel(unique_name="secret", private=True)
            invited = record(bob, "channel_invited")
            await secret.invite("bob")
            await until(lambda: len(invited) == 1)
            assert invited[0].status == "invited"
            declined = await invited[0].decline()
            assert declined.status == "known"
            with pytest.raises(ChatError) as refused:
                await declined.join()  # the invitation is gone, and the channel private
            assert refused.value.code == 20404

    run(scenario())


def test_a_new_channel_can_be_joined_as_twilios_quickstart_does(
    realtime_server: RealtimeServer,
) -> None:
    async def scenario() -> None:
        async with await connect(realtime_server, "alice") as alice:
            general = await alice.create_channel(unique_name="general")
            joined = await general.join()  # the creator is a member already
            assert joined.status == "joined"
            assert [m.identity for m in await joined.get_members()] == ["alice"]

    run(scenario())


def test_the_read_horizon_moves_forwards_only(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        async with (
            await connect(realtime_server, "alice") as alice,
            await connect(realtime_server, "bob") as bob,
        ):
            general = await alice.create_channel(unique_name="general")
            theirs = await (await bob.get_channel_by_sid(general.sid)).join()
            for i in range(5):
                await general.send_message(f"m{i}")
            assert await theirs.get_unconsumed_messages_count() is None  # never set
            updates = record(alice, "member_updated")
            assert await theirs.update_last_consumed_message_index(3) == 1
            assert await theirs.update_last_consumed_message_index(1) == 1  # not backwards
            assert await theirs.get_unconsumed_messages_count() == 1
            await until(lambda: len(updates) >= 1)
            assert {(m.identity, m.last_consumed_message_index) for m in updates} == {("bob", 3)}
            [subscription] = await bob.get_subscribed_channels()
            assert subscription is theirs

    run(scenario())


@pytest.mark.parametrize("with_provider", [False, True], ids=["fixed token", "provider"])
def test_revoking_the_tokens_key_ends_the_session(
    realtime_server: RealtimeServer, with_provider: bool
) -> None:
    """The API key that signed the token is revoked: the server closes with 4003. A fixed token
    is then denied for good; a provider, now minting with another key, gets the client back."""
    creds = realtime_server.creds
    keys = f"{realtime_server.base_url}/2010-04-01/Accounts/{creds.account_sid}/Keys"
    minters = [Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)]

    async def provider() -> str:
        return minters[-1].chat_token("alice", creds.chat_service_sid)

    async def scenario() -> None:
        options = {"token_provider": provider} if with_provider else {}
        async with (
            rest(realtime_server) as api,
            await ChatClient.create(
                None if with_provider else await provider(), url=realtime_server.url, **options
            ) as alice,
        ):
            states = record(alice, "connection_state_changed")
            spare = await call(api, "POST", f"{keys}.json", FriendlyName="spare")
            minters.append(Minter(creds.account_sid, spare["sid"], spare["secret"]))
            await call(api, "DELETE", f"{keys}/{creds.api_key_sid}.json")
            if with_provider:
                await until(lambda: len(states) == 2)
                assert states == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]
                await alice.create_channel(unique_name="still-chatting")
            else:
                await until(lambda: alice.state is ConnectionState.DENIED)
                assert states == [ConnectionState.DENIED]
            assert alice.close_code == 4003

    run(scenario())
