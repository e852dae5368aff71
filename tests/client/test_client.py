"""The client against a scripted server: replies, timeouts, close codes, reconnects, catch-up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from hubbub.client import (
    Backoff,
    ChatClient,
    ChatError,
    CommandTimeout,
    ConnectionState,
    FrameTooLarge,
    Message,
    NotConnected,
)
from tests.client.fake_server import CHANNEL_SID, FakeServer

Scenario = Callable[[FakeServer], Awaitable[None]]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        async with FakeServer() as server:
            await scenario(server)

    asyncio.run(main())


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def supervisor_ended() -> None:
    """Until the client's supervisor, the one task that ever reconnects, has ended: from then
    on no connection is attempted, however long one waits."""
    await until(lambda: all(task.get_name() != "hubbub-client" for task in asyncio.all_tasks()))


async def connect(server: FakeServer, **options: Any) -> ChatClient:
    if "token_provider" not in options:
        options.setdefault("token", "good")
    options.setdefault("timeout", 2.0)
    return await ChatClient.create(
        url=server.url, backoff=Backoff(initial=0.02, cap=0.1), **options
    )


def record(client: ChatClient, event: str) -> list[Any]:
    seen: list[Any] = []
    client.on(event, seen.append)
    return seen


def provider(*tokens: str) -> tuple[Callable[[], Awaitable[str]], list[str]]:
    """A token provider handing out ``tokens`` in turn (the last one forever)."""
    handed: list[str] = []
    queue: Iterator[str] = iter(tokens)

    async def next_token() -> str:
        token = next(queue, tokens[-1])
        handed.append(token)
        return token

    return next_token, handed


def test_commands_get_their_replies_and_errors() -> None:
    async def scenario(server: FakeServer) -> None:
        async with await connect(server) as client:
            assert (client.identity, client.state) == ("alice", ConnectionState.CONNECTED)
            assert client.user is not None
            assert client.user.identity == "alice"
            channel = await client.get_channel_by_unique_name("general")
            assert channel.sid == CHANNEL_SID
            assert channel.status == "joined"  # learned from the subscribed channels
            assert await channel.send_message("hi", {"k": 1}) == 0
            with pytest.raises(ChatError) as refused:
                await client.get_channel_by_sid("CHmissing")
            assert (refused.value.code, refused.value.status) == (20404, 404)
        ids = [command["id"] for command in server.commands]
        assert ids == sorted(set(ids))
        sent = next(c for c in server.commands if c["type"] == "send_message")
        assert sent["attributes"] == '{"k":1}'

    run(scenario)


def test_a_refused_token_fails_create() -> None:
    async def scenario(server: FakeServer) -> None:
        with pytest.raises(ChatError) as refused:
            await connect(server, token="bad")
        assert refused.value.code == 20101
        assert server.connections == 1

    run(scenario)


def test_a_missing_reply_times_out_and_its_late_reply_is_ignored() -> None:
    async def scenario(server: FakeServer) -> None:
        server.held.add("typing")
        async with await connect(server, timeout=0.3) as client:
            channel = await client.get_channel_by_sid(CHANNEL_SID)
            with pytest.raises(CommandTimeout):
                await channel.typing()
            await server.release()  # the late reply, read by the client before the next one
            assert await channel.send_message("after") == 0
            assert client.state is ConnectionState.CONNECTED

    run(scenario)


def test_an_oversized_command_is_not_sent() -> None:
    async def scenario(server: FakeServer) -> None:
        async with await connect(server) as client:
            channel = await client.get_channel_by_sid(CHANNEL_SID)
            before = len(server.commands)
            with pytest.raises(FrameTooLarge):
                await channel.send_message("x" * 70_000)
            assert len(server.commands) == before
            assert await channel.send_message("small") == 0

    run(scenario)


# 4002 and 4003 are caused by the real server in test_live_events.py; 4001 on a live
# connection only by a scripted one.
@pytest.mark.parametrize("code", [4001])
def test_a_fixed_token_refused_later_ends_denied(code: int) -> None:
    async def scenario(server: FakeServer) -> None:
        async with await connect(server) as client:
            states = record(client, "connection_state_changed")
            await server.close_all(code)
            await until(lambda: client.state is ConnectionState.DENIED)
            await supervisor_ended()
            assert server.connections == 1
            assert client.close_code == code
            with pytest.raises(NotConnected):
                await client.get_channel_by_sid(CHANNEL_SID)
        assert states == [ConnectionState.DENIED]

    run(scenario)


@pytest.mark.parametrize("code", [4001])
def test_a_provider_is_asked_for_a_fresh_token_before_reconnecting(code: int) -> None:
    async def scenario(server: FakeServer) -> None:
        server.valid_tokens = {"first", "second"}
        next_token, handed = provider("first", "second")
        async with await connect(server, token_provider=next_token) as client:
            states = record(client, "connection_state_changed")
            await server.close_all(code)
            await until(lambda: server.connections == 2 and client.state == "connected")
            assert handed == ["first", "second"]
            assert server.tokens_seen == ["first", "second"]
            assert states == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]

    run(scenario)


def test_a_provider_that_fails_or_hands_a_bad_token_is_retried() -> None:
    async def scenario(server: FakeServer) -> None:
        server.valid_tokens = {"first", "third"}
        calls = 0

        async def flaky() -> str:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise OSError("token server down")
            return ["first", "", "bad", "third"][calls - 1]

        async with await connect(server, token_provider=flaky) as client:
            await server.close_all(4002)
            await until(lambda: client.state == "connected" and server.connections == 3)
            assert server.tokens_seen == ["first", "bad", "third"]

    run(scenario)


@pytest.mark.parametrize("code", [4004, 4008, 4009, 1000])
def test_fatal_codes_end_the_client(code: int) -> None:
    async def scenario(server: FakeServer) -> None:
        next_token, handed = provider("good")
        async with await connect(server, token_provider=next_token) as client:
            await server.close_all(code)
            await until(lambda: client.state is ConnectionState.DISCONNECTED)
            await supervisor_ended()
            assert server.connections == 1
            assert handed == ["good"]

    run(scenario)


@pytest.mark.parametrize("code", [1001, 1011, 4000, 4029, None])
def test_transient_closes_reconnect_with_the_same_token(code: int | None) -> None:
    async def scenario(server: FakeServer) -> None:
        async with await connect(server) as client:
            if code is None:
                server.drop_all()
            else:
                await server.close_all(code)
            await until(lambda: server.connections == 2 and client.state == "connected")
            assert server.tokens_seen == ["good", "good"]
            assert client.close_code == (1006 if code is None else code)

    run(scenario)


def test_commands_wait_for_a_reconnect_and_in_flight_ones_fail() -> None:
    async def scenario(server: FakeServer) -> None:
        server.held.add("typing")  # never answered
        async with await connect(server) as client:
            channel = await client.get_channel_by_sid(CHANNEL_SID)
            in_flight = asyncio.create_task(channel.typing())
            await until(lambda: "typing" in server.types())
            server.drop_all()
            with pytest.raises(NotConnected):
                await in_flight
            # Issued while reconnecting: sent once the new connection is up.
            assert await channel.send_message("later") == 0
            assert server.connections == 2

    run(scenario)


def test_about_to_expire_renews_through_the_provider_in_place() -> None:
    async def scenario(server: FakeServer) -> None:
        server.valid_tokens = {"first", "second"}
        next_token, handed = provider("first", "second")
        async with await connect(server, token_provider=next_token) as client:
            assert handed == ["first"]
            warnings = record(client, "token_about_to_expire")
            await server.push({"type": "token_about_to_expire", "expires_at": 1234})
            await until(lambda: server.tokens_seen == ["first", "second"])
            assert "update_token" in server.types()
            await until(lambda: warnings == [1234])
            assert server.connections == 1

    run(scenario)


def test_a_refused_update_token_raises_and_keeps_the_connection() -> None:
    async def scenario(server: FakeServer) -> None:
        async with await connect(server) as client:
            with pytest.raises(ChatError):
                await client.update_token("bad")
            await client.update_token("good")
            assert client.state is ConnectionState.CONNECTED

    run(scenario)


def test_catch_up_after_a_drop_delivers_each_message_once_in_order() -> None:
    async def scenario(server: FakeServer) -> None:
        server.add_message()  # 0: history before the client starts, never delivered
        async with await connect(server) as client:
            received = record(client, "message_added")
            await server.send_message()  # 1, live
            await until(lambda: len(received) == 1)
            server.drop_all()
            server.add_message()  # 2 and 3 while the client is away
            server.add_message()

            async def live_before_catch_up(server: FakeServer) -> None:
                # 4 is pushed on the new connection before the client asks what it missed,
                # so it is both pushed and in the history the client fetches.
                await server.send_message()

            server.after_auth = live_before_catch_up
            await until(lambda: len(received) >= 4)
            server.after_auth = None
            await server.send_message()  # 5, live again
            await until(lambda: len(received) >= 5)
            # 6 comes after anything still to come from before it, duplicates included.
            await server.send_message()
            await until(lambda: len(received) >= 6)
        assert [m.index for m in received] == [1, 2, 3, 4, 5, 6]
        assert all(isinstance(m, Message) and m.channel_sid == CHANNEL_SID for m in received)
        forwards = [c for c in server.commands if c.get("direction") == "forwards"]
        # From the oldest message delivered (1), re-read to find edits and removals.
        assert forwards[0]["anchor"] == 1

    run(scenario)


def test_shutdown_is_final_and_idempotent() -> None:
    async def scenario(server: FakeServer) -> None:
        client = await connect(server)
        states = record(client, "connection_state_changed")
        await client.shutdown()
        await client.shutdown()
        assert states == [ConnectionState.DISCONNECTED]
        with pytest.raises(NotConnected):
            await client.get_subscribed_channels()
        await supervisor_ended()
        assert server.connections == 1

    run(scenario)


def test_a_callback_may_run_commands_and_shut_the_client_down() -> None:
    async def scenario(server: FakeServer) -> None:
        client = await connect(server)
        replies: list[int] = []

        async def on_message(message: Message) -> None:
            channel = await client.get_channel_by_sid(message.channel_sid)
            replies.append(await channel.send_message(f"re: {message.body}"))
            await client.shutdown()

        client.on("message_added", on_message)
        await server.send_message("hello")
        await until(lambda: client.state is ConnectionState.DISCONNECTED)
        assert replies == [1]

    run(scenario)


def test_unknown_events_and_missing_tokens_are_refused() -> None:
    async def scenario(server: FakeServer) -> None:
        with pytest.raises(ValueError, match="token"):
            await ChatClient.create(url=server.url)
        async with await connect(server) as client:
            with pytest.raises(ValueError, match="messageAdded"):
                client.on("messageAdded", print)

    run(scenario)
