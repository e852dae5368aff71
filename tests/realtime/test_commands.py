"""Commands over real sockets at their edges: permissions, privacy, bad values, history pages."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from hubbub.realtime.commands import REPLY_BUDGET
from tests.realtime.client import RawClient
from tests.realtime.conftest import RealtimeServer, signed_in


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def error_of(reply: dict[str, Any]) -> tuple[int, int]:
    assert reply["ok"] is False, reply
    error = reply["error"]
    assert set(error) == {"code", "message", "more_info", "status"}, error
    return error["status"], error["code"]


def test_message_edits_and_removals_need_their_permissions(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        async with signed_in(realtime_server, "alice", "bob") as (alice, bob):
            await alice.command("create_channel", unique_name="room")
            await bob.command("join", channel="room")
            sent = await alice.command("send_message", channel="room", body="mine")
            sid = sent["result"]["message"]["sid"]
            # A channel user may edit and remove only their own messages.
            for params in [{"body": "theirs now"}, {"attributes": '{"x": 1}'}]:
                refused = await bob.command("update_message", channel="room", sid=sid, **params)
                assert error_of(refused) == (403, 50107), params
            # An edit that changes nothing is refused, rather than stamped with bob's name.
            assert error_of(await bob.command("update_message", channel="room", sid=sid)) == (
                400,
                20001,
            )
            assert error_of(await bob.command("remove_message", channel="room", sid=sid)) == (
                403,
                50107,
            )
            history = await alice.command("get_messages", channel="room")
            [message] = history["result"]["messages"]
            assert (message["body"], message["last_updated_by"]) == ("mine", None)
            # The author may.
            edited = await alice.command("update_message", channel="room", sid=sid, body="edit")
            assert edited["result"]["message"]["body"] == "edit"
            assert (await alice.command("remove_message", channel="room", sid=sid))["ok"]

    run(scenario())


def test_service_permissions_are_enforced(realtime_server: RealtimeServer) -> None:
    store, creds = realtime_server.store, realtime_server.creds
    service = creds.chat_service_sid
    nobody = store.create_role(service, friendly_name="nobody", type="deployment", permissions=[])
    lurker = store.create_role(
        service, friendly_name="lurker", type="channel", permissions=["sendMessage"]
    )

    async def scenario() -> None:
        async with signed_in(realtime_server, "alice", "mallory") as (alice, mallory):
            await alice.command("create_channel", unique_name="open")
            store.update_user(service, "mallory", role_sid=nobody.sid)
            assert error_of(await mallory.command("create_channel", unique_name="mine")) == (
                403,
                50107,
            )
            assert error_of(await mallory.command("join", channel="open")) == (403, 50107)
            # A member whose channel role lacks inviteMember may not invite.
            store.create_member(service, "open", "mallory", role_sid=lurker.sid)
            assert error_of(await mallory.command("invite", channel="open", identity="friend")) == (
                403,
                50107,
            )
            assert store.list_invites(service, "open").items == ()

    run(scenario())


def test_a_private_channel_looks_missing_to_outsiders(realtime_server: RealtimeServer) -> None:
    """Every command an outsider may try answers exactly as if the channel did not exist."""
    sid_like = {"sid": "IM" + "0" * 32}
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("get_channel", {}),
        ("join", {}),
        ("leave", {}),
        ("decline", {}),
        ("invite", {"identity": "eve"}),
        ("send_message", {"body": "hi"}),
        ("update_message", {**sid_like, "body": "x"}),
        ("remove_message", sid_like),
        ("get_messages", {}),
        ("get_members", {}),
        ("typing", {}),
        ("set_consumed", {"index": 0}),
        ("get_unconsumed_count", {}),
    ]

    async def answers(client: RawClient) -> list[dict[str, Any]]:
        replies = []
        for kind, params in attempts:
            reply = await client.command(kind, channel="secret", **params)
            assert reply["ok"] is False, (kind, reply)
            replies.append(reply["error"])
        return replies

    async def scenario() -> None:
        async with signed_in(realtime_server, "alice", "mallory") as (alice, mallory):
            before = await answers(mallory)  # no such channel yet
            assert {error["code"] for error in before} == {20404}
            await alice.command("create_channel", unique_name="secret", channel_type="private")
            await alice.command("send_message", channel="secret", body="the plan")
            assert await answers(mallory) == before
            assert not [p for p in mallory.pushes if p.get("channel_sid")]

    run(scenario())


def test_invitations_are_listed_and_the_channel_visible_to_the_invitee(
    realtime_server: RealtimeServer,
) -> None:
    async def scenario() -> None:
        async with signed_in(realtime_server, "alice") as (alice,):
            await alice.command("create_channel", unique_name="secret", channel_type="private")
            await alice.command("invite", channel="secret", identity="bob")
        # Bob was not connected when invited: he finds the invitation when he comes.
        async with signed_in(realtime_server, "bob") as (bob,):
            listed = (await bob.command("get_subscribed_channels"))["result"]["channels"]
            assert [
                (i["channel"]["unique_name"], "invite" in i, "member" in i) for i in listed
            ] == [("secret", True, False)]
            assert listed[0]["invite"]["identity"] == "bob"
            seen = await bob.command("get_channel", channel="secret")
            assert seen["result"]["channel"]["unique_name"] == "secret"
            assert error_of(await bob.command("get_messages", channel="secret")) == (404, 20404)
            assert (await bob.command("join", channel="secret"))["ok"]
            listed = (await bob.command("get_subscribed_channels"))["result"]["channels"]
            assert [("member" in item, "invite" in item) for item in listed] == [(True, False)]

    run(scenario())


def test_bad_values_get_error_replies_and_the_session_goes_on(
    realtime_server: RealtimeServer,
) -> None:
    async def scenario() -> None:
        async with signed_in(realtime_server, "alice") as (alice,):
            await alice.command("create_channel", unique_name="room")
            await alice.command("send_message", channel="room", body="one")
            cases: list[tuple[str, dict[str, Any], tuple[int, int]]] = [
                ("get_messages", {"channel": "room", "anchor": 2**63}, (400, 20001)),
                ("get_messages", {"channel": "room", "anchor": -1}, (400, 20001)),
                ("get_messages", {"channel": "room", "page_size": "10"}, (400, 20001)),
                ("set_consumed", {"channel": "room", "index": 2**63}, (400, 20001)),
                ("get_channel", {"channel": 7}, (400, 20001)),
                ("send_message", {"channel": "room", "body": 5}, (400, 20001)),
                ("send_message", {"channel": "room", "body": "x" * 40000}, (400, 50504)),
                ("send_message", {"channel": "room", "attributes": "{"}, (400, 50304)),
                ("send_message", {"channel": "room", "attributes": '{"a": NaN}'}, (400, 50304)),
                ("send_message", {"channel": "room", "attributes": "[" * 5000}, (400, 50304)),
                ("create_channel", {"unique_name": "CH" + "0" * 32}, (400, 50306)),
                ("create_channel", {"unique_name": "x" * 300}, (400, 20001)),
                ("invite", {"channel": "room", "identity": "US" + "0" * 32}, (400, 50206)),
                ("invite", {"channel": "room", "identity": ""}, (400, 20001)),
                ("invite", {"channel": "room", "identity": "a" * 5500}, (400, 50207)),
                ("invite", {"channel": "room", "identity": "al\x01ice"}, (400, 20001)),
                ("no_such_command", {}, (400, 20001)),
            ]
            for kind, params, expected in cases:
                assert error_of(await alice.command(kind, **params)) == expected, (kind, params)
            sent = await alice.command("send_message", channel="room", body="two")
            big = "y" * 40000
            sid = sent["result"]["message"]["sid"]
            assert error_of(
                await alice.command("update_message", channel="room", sid=sid, body=big)
            ) == (400, 50504)
            # Attributes may also be given as JSON itself.
            structured = await alice.command(
                "send_message", channel="room", body="three", attributes={"k": [1, 2]}
            )
            assert json.loads(structured["result"]["message"]["attributes"]) == {"k": [1, 2]}
            assert (await alice.command("ping"))["ok"]

    run(scenario())


def test_frames_that_break_the_protocol_close_with_4008(realtime_server: RealtimeServer) -> None:
    async def close_after(frames: list[str], identity: str | None = None) -> int | None:
        client = await RawClient.open(realtime_server.url)
        if identity is not None:
            await client.authenticate(realtime_server.mint(identity))
        for frame in frames:
            await client.socket.send(frame)
        return await client.close_code()

    deep = "[" * 5000 + "]" * 5000
    lone = '{"id": 1, "type": "send_message", "channel": "room", "body": "\\ud800"}'
    assert run(close_after([deep])) == 4008  # before authenticating
    assert run(close_after([deep], "alice")) == 4008
    assert run(close_after(['{"id": "\\udfff", "type": "ping"}'], "alice")) == 4008
    assert run(close_after([lone], "alice")) == 4008

    async def paired() -> None:  # a surrogate *pair* is an ordinary character
        async with signed_in(realtime_server, "bob") as (bob,):
            await bob.command("create_channel", unique_name="emoji")
            sent = await bob.command("send_message", channel="emoji", body="\ud83d\ude00")
            assert sent["result"]["message"]["body"] == "😀"

    run(paired())


def test_oversized_and_flooding_clients_are_closed(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        async with signed_in(realtime_server, "big") as (big,):
            # Over the 1 MiB hubbub's socket layer takes: the server may close before the
            # client is done sending it.
            with contextlib.suppress(ConnectionClosed):
                await big.socket.send("x" * (2 << 20))
            # Under another ASGI server, that server's own limit (uvicorn's: 16 MiB) applies
            # before the protocol's.
            expected = 1009 if realtime_server.adapter == "hubbub" else 4009
            assert await big.close_code() == expected
        async with signed_in(realtime_server, "pieces") as (pieces,):
            # 70 KiB in fragments: over the 64 KiB a message may be, however it is cut.
            await pieces.socket.send(iter(["y" * 10240] * 7))
            assert await pieces.close_code() == 4009
        async with signed_in(realtime_server, "flood") as (flood,):
            for n in range(400):
                await flood.socket.send(json.dumps({"id": n, "type": "ping"}))
            assert await flood.close_code() == 4029
            replies = [frame for frame in flood.pushes if frame.get("type") == "reply"]
            assert 90 <= len(replies) < 400  # the burst was served, the rest refused

    run(scenario())


def test_history_pages_by_anchor_and_direction(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        async with signed_in(realtime_server, "alice") as (alice,):
            await alice.command("create_channel", unique_name="log")
            for n in range(10):
                await alice.command("send_message", channel="log", body=f"m{n}")
            removed = await alice.command("get_messages", channel="log", anchor=4, page_size=1)
            sid = removed["result"]["messages"][0]["sid"]
            await alice.command("remove_message", channel="log", sid=sid)

            async def page(**params: Any) -> list[int]:
                reply = await alice.command("get_messages", channel="log", **params)
                return [message["index"] for message in reply["result"]["messages"]]

            assert await page(page_size=3) == [7, 8, 9]  # the newest, backwards by default
            assert await page(page_size=3, anchor=6) == [3, 5, 6]  # the anchor included; 4 gone
            assert await page(page_size=3, anchor=2, direction="forwards") == [2, 3, 5]
            assert await page(direction="forwards") == [0, 1, 2, 3, 5, 6, 7, 8, 9]
            assert await page(anchor=100) == [0, 1, 2, 3, 5, 6, 7, 8, 9]
            assert await page(anchor=100, direction="forwards") == []
            wrong = await alice.command("get_messages", channel="log", direction="sideways")
            assert error_of(wrong) == (400, 20001)

    run(scenario())


def test_a_page_of_large_messages_is_cut_to_fit_and_says_so(
    realtime_server: RealtimeServer,
) -> None:
    """Quotes double in size when encoded: a hundred such messages would make one reply of
    several MiB, more than clients take in a frame. The page is cut, and paging goes on."""
    attributes = json.dumps({"q": '"' * 4000})

    async def scenario() -> None:
        # Taking frames as large as the SDK does (8 MiB), so that only the server's cut shows.
        alice = RawClient(await connect(realtime_server.url, max_size=8 << 20))
        await alice.authenticate(realtime_server.mint("alice"))
        async with alice.socket:
            await alice.command("create_channel", unique_name="heavy")
            for n in range(100):
                body = '"' * 20000 + str(n)
                sent = await alice.command(
                    "send_message", channel="heavy", body=body, attributes=attributes
                )
                assert sent["ok"], sent
            seen: list[int] = []
            anchor = 0
            while True:
                await alice.socket.send(
                    json.dumps(
                        {
                            "id": "page",
                            "type": "get_messages",
                            "channel": "heavy",
                            "page_size": 100,
                            "anchor": anchor,
                            "direction": "forwards",
                        }
                    )
                )
                while True:  # past the pushes of the messages sent above
                    raw = await asyncio.wait_for(alice.socket.recv(), 10)
                    frame = json.loads(raw)
                    if frame.get("id") == "page":
                        break
                assert len(raw.encode()) <= REPLY_BUDGET + 4096
                result = frame["result"]
                seen += [message["index"] for message in result["messages"]]
                if not result.get("truncated"):
                    break
                anchor = seen[-1] + 1
            assert seen == list(range(100))
            # Backwards, the newest are kept.
            newest = await alice.command("get_messages", channel="heavy", page_size=100)
            indexes = [m["index"] for m in newest["result"]["messages"]]
            assert newest["result"]["truncated"] is True
            assert indexes == list(range(100 - len(indexes), 100))

    run(scenario())


def test_the_read_horizon_stops_at_the_newest_message(realtime_server: RealtimeServer) -> None:
    async def scenario() -> None:
        async with signed_in(realtime_server, "alice", "bob") as (alice, bob):
            await alice.command("create_channel", unique_name="room")
            await bob.command("join", channel="room")
            for n in range(3):
                await alice.command("send_message", channel="room", body=f"m{n}")
            ahead = await bob.command("set_consumed", channel="room", index=1000)
            assert ahead["result"]["unread"] == 0
            await alice.command("send_message", channel="room", body="later")
            unread = await bob.command("get_unconsumed_count", channel="room")
            assert unread["result"]["unread"] == 1  # not swallowed by the horizon set ahead

    run(scenario())


def test_members_are_listed_with_their_users(realtime_server: RealtimeServer) -> None:
    creds = realtime_server.creds
    service = realtime_server.store.get_service(creds.account_sid, creds.chat_service_sid)

    async def scenario(reachability: bool) -> None:
        async with signed_in(realtime_server, "alice", "bob") as (alice, bob):
            await alice.command("create_channel", unique_name=f"crew-{reachability}")
            await bob.command("join", channel=f"crew-{reachability}")
            realtime_server.store.create_member(
                service.sid, f"crew-{reachability}", "carol"
            )  # never connected
            listed = await alice.command("get_members", channel=f"crew-{reachability}", page_size=2)
            result = listed["result"]
            assert result["reachability_enabled"] is reachability
            rest = await alice.command(
                "get_members",
                channel=f"crew-{reachability}",
                page_token=result["next_page_token"],
            )
            everyone = result["members"] + rest["result"]["members"]
            assert rest["result"]["next_page_token"] is None
            online = {m["member"]["identity"]: m["user"]["is_online"] for m in everyone}
            if reachability:
                assert online == {"alice": True, "bob": True, "carol": False}
            else:
                assert set(online) == {"alice", "bob", "carol"}
                assert not [p for p in alice.pushes if p["type"] == "user_updated"]
            outsider = await RawClient.open(realtime_server.url)
            await outsider.authenticate(realtime_server.mint("dave"))
            refused = await outsider.command("get_members", channel=f"crew-{reachability}")
            assert error_of(refused) == (403, 50400)
            await outsider.socket.close()

    run(scenario(False))
    realtime_server.store.update_service(
        service.account_sid,
        service.sid,
        config=dataclasses.replace(service.config, reachability_enabled=True),
    )
    run(scenario(True))


def test_joining_a_channel_one_is_in_answers_with_the_membership(
    realtime_server: RealtimeServer,
) -> None:
    """Twilio's quickstart order: create a channel (whose creator is in it), then join it."""

    async def scenario() -> None:
        async with signed_in(realtime_server, "alice", "bob") as (alice, bob):
            created = await alice.command("create_channel", unique_name="quickstart")
            assert created["ok"], created
            joined = await alice.command("join", channel="quickstart")
            assert joined["ok"], joined
            assert joined["result"]["member"]["identity"] == "alice"
            first = await bob.command("join", channel="quickstart")
            again = await bob.command("join", channel="quickstart")
            assert again["result"]["member"]["sid"] == first["result"]["member"]["sid"]
            # Nothing happened the second time: the channel heard of bob once.
            await alice.command("ping")
            joins = [
                push["member"]["identity"]
                for push in alice.pushes
                if push["type"] == "member_joined"
            ]
            assert joins == ["alice", "bob"]

    run(scenario())
    store, creds = realtime_server.store, realtime_server.creds
    members = store.list_members(creds.chat_service_sid, "quickstart").items
    assert sorted(member.identity for member in members) == ["alice", "bob"]


def test_media_messages_between_group_commits(realtime_server: RealtimeServer) -> None:
    """A media message is committed alone in its turn among text messages sent at the same
    moment; two connections racing to send one upload: one message carries it, the other is
    refused and stores nothing."""
    store, creds = realtime_server.store, realtime_server.creds
    upload = store.create_media(
        creds.account_sid, creds.chat_service_sid, "ME" + "c" * 32,
        content_type="image/gif", size=35, filename="dot.gif", author="alice",
    )  # fmt: skip

    async def scenario() -> None:
        async with signed_in(realtime_server, "alice", "alice", "bob") as (alice, again, bob):
            await alice.command("create_channel", unique_name="room")
            await bob.command("join", channel="room")
            frames = [
                (bob, {"id": 101, "type": "send_message", "channel": "room", "body": "one"}),
                (alice, {"id": 102, "type": "send_message", "channel": "room",
                         "media_sid": upload.sid}),
                (again, {"id": 103, "type": "send_message", "channel": "room",
                         "media_sid": upload.sid, "body": "twice"}),
                (bob, {"id": 104, "type": "send_message", "channel": "room", "body": "two"}),
            ]  # fmt: skip
            # All sent before any is answered, so that they meet in the commit queue.
            await asyncio.gather(*(client.socket.send(json.dumps(f)) for client, f in frames))
            replies = {}
            for client, frame in frames:
                while frame["id"] not in replies:
                    got = await client.next_frame()
                    if "id" in got:
                        replies[got["id"]] = got
                    else:
                        client.pushes.append(got)
            # Whichever of alice's two connections came first carries the upload.
            won, lost = (102, 103) if replies[102]["ok"] else (103, 102)
            assert error_of(replies[lost]) == (409, 50508)
            message = replies[won]["result"]["message"]
            assert (message["type"], message["body"]) == ("media", "" if won == 102 else "twice")
            assert message["media"] == {
                "sid": upload.sid, "content_type": "image/gif", "filename": "dot.gif", "size": 35,
            }  # fmt: skip
            assert replies[101]["ok"]
            assert replies[104]["ok"]
            pushed = await bob.push(
                "message_added", where=lambda f: f["message"]["type"] == "media"
            )
            assert pushed["message"]["media"]["sid"] == upload.sid
            history = (await bob.command("get_messages", channel="room"))["result"]["messages"]
            assert [m["index"] for m in history] == [0, 1, 2]
            assert [m["body"] for m in history if m["type"] == "text"] == ["one", "two"]
            assert [m["sid"] for m in history if m["type"] == "media"] == [message["sid"]]
            # Bob may not send alice's upload; a media message's body stays as sent.
            other = await bob.command("send_message", channel="room", media_sid=upload.sid)
            assert error_of(other) == (404, 50507)
            edit = await alice.command(
                "update_message", channel="room", sid=message["sid"], body="new words"
            )
            assert error_of(edit) == (400, 50509)

    run(scenario())
    assert store.get_media(creds.chat_service_sid, upload.sid).message_sid is not None
