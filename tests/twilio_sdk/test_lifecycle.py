"""Twilio's own SDKs through a session's whole life, against real ``hubbub serve`` processes.

The token's lifecycle (a warning, a renewal in place, expiry), a revoked API key, a server
stopped and started again with changes made while it was down (the Sync journal's replay),
two nodes on PostgreSQL and Redis, and every kind of client in one channel: Programmable Chat
and Conversations SDKs, hubbub's Python SDK and a bare ``/v1/ws`` client.

Each SDK runs in one driver process for the whole module (``drivers``), and most tests run the
same scenario for every SDK at once (:func:`each`), so that their waits overlap.

The server ends a session :data:`LEEWAY` seconds after its token's ``exp`` (the clock skew it
forgives; ``hubbub serve`` has no flag for it). To see that moment within seconds, the tests
mint tokens whose ``exp`` is already just past (as a minting server whose clock is behind
would): the server takes them, warns at once, and ends the session a few seconds later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import websockets
import websockets.asyncio.client
from websockets.asyncio.client import ClientConnection

from hubbub.client import Channel, ChatClient
from hubbub.tokens import DEFAULT_LEEWAY
from hubbub.tokens.claims import now_seconds
from tests.postgres import PostgresDatabases
from tests.twilio_sdk.driver import Driver, DriverError, Event, event_for
from tests.twilio_sdk.nodes import Loop, Node, Rest, Tokens, poll
from tests.twilio_sdk.sdks import SDKS

#: The server's ``--token-warning``: a token this close to its expiry gets ``tokenAboutToExpire``.
WARNING = 3
#: How long after a token's ``exp`` the server ends its session (``hubbub.tokens``' default).
LEEWAY = DEFAULT_LEEWAY
#: A token that expired this long ago is still taken, and its session ends
#: ``LEEWAY - EXPIRED_AGO`` seconds later (the margin covers a slow start of the client).
EXPIRED_AGO = LEEWAY - 5
#: After a ``close`` frame the SDKs (twilsock's DISCONNECTING_TIMEOUT) wait this long for their
#: socket to close before they report "disconnected".
SDK_DISCONNECT_WAIT = 3.0
#: twilio-chat 5.x leaves this rejection unhandled a few seconds after the server refuses its
#: token at ``init`` (its configuration request, queued behind the connection, fails): the
#: SDK's own doing, whatever the server.
CHAT5_DENIED = 'Fetch resource from "Client/v1/Configuration" failed.'
#: How long the tests wait for an event that should come (generous: machines are busy).
EVENT_WAIT = 15.0
#: How long they watch for events that should not come.
QUIET = 1.0


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drivers() -> Iterator[dict[str, Driver]]:
    """A driver process per SDK for the whole module, started side by side."""
    with ThreadPoolExecutor(len(SDKS)) as pool:
        futures = {sdk: pool.submit(Driver, sdk, start_timeout=120) for sdk in SDKS}
    started: dict[str, Driver] = {}
    failed: list[BaseException] = []
    for sdk, future in futures.items():
        try:
            started[sdk] = future.result()
        except Exception as exc:  # the others are closed, then the first failure raised
            failed.append(exc)
    try:
        if failed:
            raise failed[0]
        yield started
    finally:
        for driver in started.values():
            driver.close()
    for driver in started.values():
        trouble = [
            event
            for event in driver.events("unhandledRejection") + driver.events("uncaughtException")
            if not (driver.sdk == "chat5" and event["data"]["message"] == CHAT5_DENIED)
        ]
        assert trouble == [], driver.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One ``hubbub serve`` on SQLite for the tests that do not stop it, warning tokens
    :data:`WARNING` seconds before they expire."""
    workdir = tmp_path_factory.mktemp("lifecycle")
    node = Node(workdir, "--db", f"sqlite:///{workdir}/hubbub.db", "--token-warning", str(WARNING))
    node.start()
    try:
        yield node
    finally:
        node.close()
    assert "Traceback" not in node.log, node.log


# --- Helpers ----------------------------------------------------------------------------------


def each(sdks: tuple[str, ...] | list[str], scenario: Callable[[str], Any]) -> dict[str, Any]:
    """``scenario(sdk)`` for every SDK at once, in threads; fails naming each SDK that did."""
    with ThreadPoolExecutor(len(sdks)) as pool:
        futures = {sdk: pool.submit(scenario, sdk) for sdk in sdks}
    results: dict[str, Any] = {}
    failures: list[str] = []
    for sdk, future in futures.items():
        try:
            results[sdk] = future.result()
        except BaseException as exc:
            failures.append(f"[{sdk}] {type(exc).__name__}: {exc}")
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
    return results


def connect(
    driver: Driver, node: Node, identity: str, token: str | None = None, **args: Any
) -> dict[str, Any]:
    """A client named ``identity`` in ``driver``, initialised against ``node``."""
    token = token or Tokens(node.creds).token(identity)
    args.setdefault("timeoutMs", 30000)
    result: dict[str, Any] = driver.call(
        "create", client=identity, token=token, uri=node.twilsock_uri, **args
    )
    return result


def states(driver: Driver, client: str) -> list[str]:
    return [e["data"]["state"] for e in driver.events("connectionStateChanged", client=client)]


def settled(driver: Driver, client: str) -> int:
    """Wait until ``client`` is connected, and return how many of its events came so far.

    twilio-chat 5.x resolves its start before it registers for typing (its state goes
    connected, connecting, connected): it is settled once it has said connected twice."""
    wanted = 2 if driver.sdk == "chat5" else 1
    poll(
        lambda: (
            states(driver, client)[-1:] == ["connected"]
            and states(driver, client).count("connected") >= wanted
        ),
        EVENT_WAIT,
        what=f"{client} connected: {states(driver, client)}",
    )
    return len(driver.events(client=client))


def since(driver: Driver, client: str, mark: int, name: str | None = None) -> list[Event]:
    """``client``'s events after the first ``mark`` of them (those named ``name``)."""
    return [e for e in driver.events(client=client)[mark:] if name is None or e["event"] == name]


def channel(rest: Rest, *identities: str, kind: str = "private", **fields: Any) -> str:
    """A new channel (over REST) with these members; its SID."""
    sid: str = rest.call("POST", "/Channels", Type=kind, **fields)["sid"]
    for identity in identities:
        rest.call("POST", f"/Channels/{sid}/Members", Identity=identity)
    return sid


def hearing(driver: Driver, client: str, sid: str, rest: Rest, tries: int = 6) -> dict[str, Any]:
    """Listen on channel ``sid`` and wait until ``client`` hears its messages live.

    An SDK subscribes to a channel's messages a moment after it reports the channel: what is
    sent before that is history to it, not ``messageAdded``. So messages are sent over REST
    until one is heard (each ``tries`` seconds apart at most); returns the one heard, which
    the SDK then holds."""
    driver.call("listen", client=client, sid=sid)
    mark = len(driver.events(client=client))
    for attempt in range(tries):
        rest.call("POST", f"/Channels/{sid}/Messages", Body=f"ping {attempt}", From="pinger")
        try:
            heard = driver.wait_event("messageAdded", 2 + attempt, client=client)
        except TimeoutError:
            continue
        message: dict[str, Any] = heard["data"]["message"]
        # Nothing but pings, in order, from the first heard on.
        for event in since(driver, client, mark, "messageAdded"):
            assert event["data"]["message"]["body"].startswith("ping"), event
        return message
    raise AssertionError(f"{client} never heard a message on {sid}")


def wait_for(driver: Driver, client: str, name: str, **fields: Any) -> dict[str, Any]:
    """The data of ``client``'s next event ``name`` with these fields (see :func:`event_for`)."""
    data: dict[str, Any] = driver.wait_event(event_for(name, **fields), EVENT_WAIT, client=client)[
        "data"
    ]
    return data


def shutdown(driver: Driver, *clients: str) -> None:
    for client in clients:
        with contextlib.suppress(DriverError):  # not created, or gone already
            driver.call("shutdown", client=client, timeout=10)


def ended(driver: Driver, client: str, mark: int) -> None:
    """``client``'s connection ended after event ``mark``, and it did not come back: it said
    disconnecting, then disconnected, and stayed so for :data:`QUIET` seconds."""
    poll(
        lambda: states(driver, client)[-1:] == ["disconnected"],
        EVENT_WAIT,
        what=f"{client} disconnected: {states(driver, client)}",
    )
    time.sleep(QUIET)
    after = [e["data"]["state"] for e in since(driver, client, mark, "connectionStateChanged")]
    assert after == ["disconnecting", "disconnected"], after


# --- 1. A token about to expire, renewed in place ------------------------------------------------


def test_a_renewed_token_keeps_the_session(server: Node, drivers: dict[str, Driver]) -> None:
    """Two users per SDK: one whose token is already in its last seconds (warned at once,
    ended at ``exp`` + leeway unless renewed) and one whose token reaches the warning while
    connected. Each renews it with ``updateToken`` when ``tokenAboutToExpire`` fires; neither
    reconnects, the first outlives its old token's end, and both hear a message sent after."""
    rest, tokens = server.rest(), Tokens(server.creds)

    def scenario(sdk: str) -> None:
        driver = drivers[sdk]
        late, timed = f"renew-late-{sdk}", f"renew-timed-{sdk}"
        sid = channel(rest, late, timed, "renew-bob-" + sdk)
        old_exp = now_seconds() - EXPIRED_AGO
        connect(driver, server, late, tokens.token(late, expires_in=-EXPIRED_AGO))
        started = time.monotonic()
        connect(driver, server, timed, tokens.token(timed, ttl=WARNING + 4))
        marks = {client: settled(driver, client) for client in (late, timed)}
        for client in (late, timed):
            driver.call("listen", client=client, sid=sid)
        # The first is warned at once, the second once its token is WARNING s from expiry.
        driver.wait_event("tokenAboutToExpire", EVENT_WAIT, client=late)
        assert driver.call("updateToken", client=late, token=tokens.token(late)) == {
            "connectionState": "connected"
        }
        driver.wait_event("tokenAboutToExpire", EVENT_WAIT, client=timed)
        # Its token had WARNING + 4 s to go (less the second its exp is rounded down to).
        assert time.monotonic() - started >= 2.5, "warned before the token's last seconds"
        driver.call("updateToken", client=timed, token=tokens.token(timed))

        # Past the moment the old token's session would have ended.
        time.sleep(max(0.0, old_exp + LEEWAY + 1.5 - time.time()))
        for client in (late, timed):
            assert driver.events("tokenExpired", client=client) == []
            assert driver.events("connectionError", client=client) == []
            after = since(driver, client, marks[client], "connectionStateChanged")
            assert after == [], after  # no reconnect
        rest.call("POST", f"/Channels/{sid}/Messages", Body="still here", From="renew-bob-" + sdk)
        for client in (late, timed):
            added = driver.wait_event("messageAdded", EVENT_WAIT, client=client)
            assert added["data"]["message"]["body"] == "still here"
        # The warning came once: the renewed tokens have an hour to go.
        for client in (late, timed):
            assert len(driver.events("tokenAboutToExpire", client=client)) == 1
        shutdown(driver, late, timed)

    each(SDKS, scenario)


# --- 2. Expiry ------------------------------------------------------------------------------


def test_a_token_that_expires_ends_the_session(server: Node, drivers: dict[str, Driver]) -> None:
    """No renewal: the server closes the session (410) at ``exp`` + leeway, the SDK fires
    ``tokenExpired`` and does not reconnect."""
    tokens = Tokens(server.creds)

    def scenario(sdk: str) -> None:
        driver = drivers[sdk]
        client = f"expiring-{sdk}"
        end = now_seconds() - EXPIRED_AGO + LEEWAY
        connect(driver, server, client, tokens.token(client, expires_in=-EXPIRED_AGO))
        mark = settled(driver, client)
        driver.wait_event("tokenExpired", EVENT_WAIT, client=client)
        assert time.time() >= end - 1, "ended before the token's time"
        ended(driver, client, mark)
        assert "Server closed connection" in driver.stderr
        shutdown(driver, client)

    each(SDKS, scenario)


def test_an_expired_token_fails_initialisation(server: Node, drivers: dict[str, Driver]) -> None:
    tokens = Tokens(server.creds)

    def scenario(sdk: str) -> None:
        driver = drivers[sdk]
        client = f"expired-{sdk}"
        token = tokens.token(client, expires_in=-(LEEWAY + 10))
        with pytest.raises(DriverError) as refused:
            connect(driver, server, client, token, timeoutMs=10000)
        driver.wait_event("tokenExpired", EVENT_WAIT, client=client)
        error = driver.wait_event("connectionError", EVENT_WAIT, client=client)["data"]
        assert (error["terminal"], error["httpStatusCode"], error["errorCode"]) == (
            True,
            401,
            20104,
        ), error
        assert refused.value.kind == "init", refused.value
        assert "denied" in states(driver, client) or sdk == "chat5", states(driver, client)

    each(SDKS, scenario)


# --- 3. A revoked API key ----------------------------------------------------------------------


def test_revoking_the_api_key_ends_the_session(server: Node, drivers: dict[str, Driver]) -> None:
    """Sessions on tokens of a key revoked over REST end within a couple of seconds (401, no
    reconnect); a new token of that key is refused at once."""
    rest = server.rest()
    key_sid, secret = rest.create_key()
    tokens = Tokens(server.creds, key_sid, secret)
    marks: dict[str, int] = {}

    def connected(sdk: str) -> None:
        client = f"revoked-{sdk}"
        # Errors only in its log: the SDKs' warnings would crowd out the line looked for.
        connect(drivers[sdk], server, client, tokens.token(client), logLevel="error")
        marks[sdk] = settled(drivers[sdk], client)

    each(SDKS, connected)
    rest.revoke_key(key_sid)
    revoked = time.monotonic()

    def cut_off(sdk: str) -> None:
        driver, client = drivers[sdk], f"revoked-{sdk}"
        driver.wait_event(
            event_for("connectionStateChanged", state="disconnecting"), 5, client=client
        )
        # The server sweeps for revoked keys once a second.
        assert time.monotonic() - revoked < 3
        ended(driver, client, marks[sdk])
        assert driver.events("tokenExpired", client=client) == []
        # The server said why (the SDKs log the close frame's status).
        closed = 'Server closed connection: {"code":401,"status":"UNAUTHORIZED"'
        assert closed in driver.stderr, driver.stderr
        assert "the token's API key was revoked" in driver.stderr
        again = f"revoked-again-{sdk}"
        with pytest.raises(DriverError) as refused:
            connect(driver, server, again, tokens.token(again), timeoutMs=10000)
        assert refused.value.kind == "init", refused.value
        error = driver.wait_event("connectionError", EVENT_WAIT, client=again)["data"]
        assert (error["terminal"], error["httpStatusCode"]) == (True, 401), error

    each(SDKS, cut_off)


# --- 4. A server restart: the SDKs reconnect and miss nothing ----------------------------------


def test_a_restarted_server_replays_what_was_missed(
    tmp_path: Path, drivers: dict[str, Driver]
) -> None:
    """Each SDK listens on a channel of its own; the server stops (SIGTERM: close 308; then
    kill -9: the socket just drops), a second server on the same SQLite database takes changes
    meanwhile (messages, an edit, a member joining, a rename), and the first comes back on its
    port. The SDKs reconnect by themselves and hear every change they missed, once, in order."""
    database = f"sqlite:///{tmp_path}/hubbub.db"
    node = Node(tmp_path, "--db", database).start()
    other = Node(tmp_path, "--db", database)
    try:
        other.start()
        rest, other_rest = node.rest(), other.rest()
        sids = {sdk: channel(rest, f"replay-{sdk}", f"replay-bob-{sdk}") for sdk in SDKS}
        #: Per SDK: the message it heard before the outages (edited during them), and the
        #: index of the next message.
        before: dict[str, dict[str, Any]] = {}
        next_index: dict[str, int] = {}

        def listening(sdk: str) -> None:
            driver, client = drivers[sdk], f"replay-{sdk}"
            connect(driver, node, client)
            settled(driver, client)
            before[sdk] = hearing(driver, client, sids[sdk], rest)
            stored = rest.call("GET", f"/Channels/{sids[sdk]}/Messages?PageSize=100")
            next_index[sdk] = len(stored["messages"])

        each(SDKS, listening)
        for round_, how in enumerate((signal.SIGTERM, signal.SIGKILL), 1):
            marks = {sdk: len(drivers[sdk].events(client=f"replay-{sdk}")) for sdk in SDKS}
            node.stop(how)
            if how is signal.SIGTERM:
                # Told to come back later (close 308), not just cut off.
                each(
                    SDKS,
                    lambda sdk: drivers[sdk].wait_event(
                        event_for("connectionStateChanged", state="disconnecting"),
                        EVENT_WAIT,
                        client=f"replay-{sdk}",
                    ),
                )
            for sdk, sid in sids.items():
                bob = f"replay-bob-{sdk}"
                path = f"/Channels/{sid}"
                first = next_index[sdk]
                other_rest.call("POST", f"{path}/Messages", Body=f"missed {first}", From=bob)
                edited = f"{path}/Messages/{before[sdk]['sid']}"
                other_rest.call("POST", edited, Body=f"edit {round_}")
                for index in (first + 1, first + 2):
                    other_rest.call("POST", f"{path}/Messages", Body=f"missed {index}", From=bob)
                other_rest.call("POST", f"{path}/Members", Identity=f"joiner{round_}-{sdk}")
                other_rest.call("POST", path, FriendlyName=f"renamed {round_}")
            node.start()
            if how is signal.SIGKILL:  # no goodbye: the socket just dropped
                for sdk in SDKS:
                    client = f"replay-{sdk}"
                    changes = since(drivers[sdk], client, marks[sdk], "connectionStateChanged")
                    assert changes[0]["data"]["state"] == "connecting", changes

            def caught_up(sdk: str, round_: int = round_, marks: dict[str, int] = marks) -> None:
                driver, client = drivers[sdk], f"replay-{sdk}"
                list_events = ("messageAdded", "messageUpdated")
                first = next_index[sdk]
                expected = [
                    ("messageAdded", first, f"missed {first}"),
                    ("messageUpdated", before[sdk]["index"], f"edit {round_}"),
                    ("messageAdded", first + 1, f"missed {first + 1}"),
                    ("messageAdded", first + 2, f"missed {first + 2}"),
                ]

                def seen() -> list[tuple[str, int, str]]:
                    return [
                        (e["event"], e["data"]["message"]["index"], e["data"]["message"]["body"])
                        for e in since(driver, client, marks[sdk])
                        if e["event"] in list_events
                    ]

                poll(lambda: len(seen()) >= len(expected), 30, what=lambda: seen())
                joined = driver.wait_event("memberJoined", EVENT_WAIT, client=client)
                renamed = driver.wait_event(
                    event_for("updated", **{"channel.friendlyName": f"renamed {round_}"}),
                    EVENT_WAIT,
                    client=client,
                )
                time.sleep(QUIET)  # nothing comes twice
                assert seen() == expected
                assert joined["data"]["member"]["identity"] == f"joiner{round_}-{sdk}"
                assert "friendlyName" in renamed["data"]["updateReasons"]
                assert len(since(driver, client, marks[sdk], "memberJoined")) == 1
                renames = [
                    e
                    for e in since(driver, client, marks[sdk], "updated")
                    if "friendlyName" in e["data"]["updateReasons"]
                ]
                assert len(renames) == 1, renames
                after = states(driver, client)[-1:]
                assert after == ["connected"], states(driver, client)
                next_index[sdk] = first + 3

            each(SDKS, caught_up)

        # And live again, once.
        def live(sdk: str) -> None:
            driver, client = drivers[sdk], f"replay-{sdk}"
            mark = len(driver.events(client=client))
            rest.call("POST", f"/Channels/{sids[sdk]}/Messages", Body="live", From="x")
            added = driver.wait_event(
                event_for("messageAdded", **{"message.body": "live"}), EVENT_WAIT, client=client
            )
            assert added["data"]["message"]["index"] == next_index[sdk]
            time.sleep(QUIET)
            assert len(since(driver, client, mark, "messageAdded")) == 1
            shutdown(driver, client)

        each(SDKS, live)
    finally:
        other.stop()
        node.close()
    assert "Traceback" not in node.log, node.log
    assert "Traceback" not in other.log, other.log


# --- 5. Two nodes on PostgreSQL and Redis ------------------------------------------------------


@pytest.fixture
def two_nodes(
    tmp_path: Path, postgres: PostgresDatabases, redis_url: str
) -> Iterator[tuple[Node, Node]]:
    database = postgres.new()
    nodes = [Node(tmp_path, "--db", database, "--redis", redis_url) for _ in range(2)]
    try:
        for node in nodes:  # one after the other: the first writes the credentials
            node.start()
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.close()
        postgres.drop(database)
    for node in nodes:
        assert "Traceback" not in node.log, node.log


def test_users_on_two_nodes_share_a_channel(
    two_nodes: tuple[Node, Node], drivers: dict[str, Driver]
) -> None:
    """alice (Conversations 3.x) on node A, bob (twilio-chat 6.x) on node B: each hears the
    other's messages, typing, members joining and read horizon, live; so does a REST write
    through node B reach alice on node A."""
    node_a, node_b = two_nodes
    alice, bob = drivers["conv3"], drivers["chat6"]
    rest_a, rest_b = node_a.rest(), node_b.rest()
    sid = channel(rest_a, "alice", kind="public")
    connect(alice, node_a, "alice")
    connect(bob, node_b, "bob")
    hearing(alice, "alice", sid, rest_a)
    # bob joins through node B; alice hears it on node A.
    bob.call("join", client="bob", sid=sid)
    wait_for(bob, "bob", "channelJoined", **{"channel.sid": sid})
    wait_for(alice, "alice", "memberJoined", **{"member.identity": "bob"})
    hearing(bob, "bob", sid, rest_b)
    base = len(rest_a.call("GET", f"/Channels/{sid}/Messages?PageSize=100")["messages"])

    # Messages, both ways.
    alice.call("sendMessage", client="alice", sid=sid, body="from A")
    heard = wait_for(bob, "bob", "messageAdded", **{"message.body": "from A"})["message"]
    assert (heard["author"], heard["index"]) == ("alice", base)
    bob.call("sendMessage", client="bob", sid=sid, body="from B")
    heard = wait_for(alice, "alice", "messageAdded", **{"message.body": "from B"})["message"]
    assert (heard["author"], heard["index"]) == ("bob", base + 1)

    # Typing, both ways.
    alice.call("typing", client="alice", sid=sid)
    wait_for(bob, "bob", "typingStarted", **{"member.identity": "alice"})
    bob.call("typing", client="bob", sid=sid)
    wait_for(alice, "alice", "typingStarted", **{"member.identity": "bob"})

    # A member added by REST through node B.
    rest_b.call("POST", f"/Channels/{sid}/Members", Identity="dave")
    wait_for(alice, "alice", "memberJoined", **{"member.identity": "dave"})
    wait_for(bob, "bob", "memberJoined", **{"member.identity": "dave"})

    # Read horizons.
    bob.call("advanceRead", client="bob", sid=sid, index=base + 1)
    horizon = {"member.identity": "bob", "member.lastConsumedMessageIndex": base + 1}
    wait_for(alice, "alice", "memberUpdated", **horizon)
    alice.call("advanceRead", client="alice", sid=sid, index=base)
    horizon = {"member.identity": "alice", "member.lastConsumedMessageIndex": base}
    wait_for(bob, "bob", "memberUpdated", **horizon)

    # A REST write through node B reaches alice on node A.
    rest_b.call("POST", f"/Channels/{sid}/Messages", Body="from REST on B", From="system")
    heard = wait_for(alice, "alice", "messageAdded", **{"message.body": "from REST on B"})
    assert (heard["message"]["author"], heard["message"]["index"]) == ("system", base + 2)
    shutdown(alice, "alice")
    shutdown(bob, "bob")


# --- 6. Every kind of client in one channel ----------------------------------------------------


class RawWs:
    """A bare ``/v1/ws`` client, on a :class:`Loop`: every push kept, in order."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.pushes: list[dict[str, Any]] = []
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, token: str) -> RawWs:
        raw = cls(await websockets.asyncio.client.connect(url))
        reply = await raw.command("authenticate", token=token)
        assert reply["ok"], reply
        return raw

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in self.socket:
                frame = json.loads(text)
                waiting = self._waiting.pop(frame.get("id"), None)
                if waiting is not None and frame.get("type") == "reply":
                    waiting.set_result(frame)
                else:
                    self.pushes.append(frame)

    async def command(self, kind: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        reply = self._waiting[self._next_id] = asyncio.get_running_loop().create_future()
        await self.socket.send(json.dumps({"id": self._next_id, "type": kind, **params}))
        return await asyncio.wait_for(reply, EVENT_WAIT)

    def pushed(self, kind: str) -> list[dict[str, Any]]:
        return [frame for frame in list(self.pushes) if frame.get("type") == kind]

    async def close(self) -> None:
        await self.socket.close()
        await self._reader


def test_every_kind_of_client_in_one_channel(server: Node, drivers: dict[str, Driver]) -> None:
    """A twilio-chat 6.x user, a Conversations 3.x user, a hubbub Python SDK user and a bare
    ``/v1/ws`` client in one channel: each hears the others' messages, typing, joining (the
    bare client joins last) and read horizon."""
    rest, tokens = server.rest(), Tokens(server.creds)
    sdks = {"chat6": "i-chat", "conv3": "i-conv"}
    py, raw = "i-py", "i-raw"
    sid = channel(rest, *sdks.values(), py, kind="public")
    each(list(sdks), lambda sdk: connect(drivers[sdk], server, sdks[sdk]))
    each(list(sdks), lambda sdk: hearing(drivers[sdk], sdks[sdk], sid, rest))
    loop = Loop()
    heard: list[tuple[str, Any]] = []

    async def python_sdk() -> tuple[ChatClient, Channel]:
        client = await ChatClient.create(tokens.token(py), url=server.ws_url)
        for name in ("message_added", "typing_started", "member_joined", "member_updated"):
            client.on(name, lambda value, name=name: heard.append((name, value)))
        return client, await client.get_channel_by_sid(sid)

    python, python_channel = loop.run(python_sdk())
    bare: RawWs = loop.run(RawWs.open(server.ws_url, tokens.token(raw)))
    try:

        def python_heard(kind: str, test: Callable[[Any], bool]) -> list[Any]:
            return [value for name, value in list(heard) if name == kind and test(value)]

        def everyone_hears(
            kind: str,
            sdk_fields: Callable[[str], dict[str, Any]],
            python_test: Callable[[str, Any], bool],
            raw_test: Callable[[str, dict[str, Any]], bool],
            actors: tuple[str, ...],
        ) -> None:
            """What each of ``actors`` did reaches every client but its own."""
            for actor in actors:
                for sdk, client in sdks.items():
                    if client != actor:
                        wait_for(drivers[sdk], client, kind, **sdk_fields(actor))

                def python_hears(actor: str = actor) -> list[Any]:
                    return python_heard(_python_event(kind), lambda v: python_test(actor, v))

                def raw_hears(actor: str = actor) -> list[dict[str, Any]]:
                    return [f for f in bare.pushed(_raw_event(kind)) if raw_test(actor, f)]

                if actor != py:
                    poll(python_hears, EVENT_WAIT, what=f"{py} hears {kind} of {actor}")
                if actor != raw:
                    poll(raw_hears, EVENT_WAIT, what=f"{raw} hears {kind} of {actor}")

        everyone = (*sdks.values(), py, raw)

        # The bare client joins; the others hear it.
        assert loop.run(bare.command("join", channel=sid))["ok"]
        everyone_hears(
            "memberJoined",
            lambda actor: {"member.identity": actor},
            lambda actor, member: member.identity == actor,
            lambda actor, frame: frame["member"]["identity"] == actor,
            (raw,),
        )

        # A message from each.
        for sdk, client in sdks.items():
            drivers[sdk].call("sendMessage", client=client, sid=sid, body=f"from {client}")
        loop.run(python_channel.send_message(f"from {py}"))
        assert loop.run(bare.command("send_message", channel=sid, body=f"from {raw}"))["ok"]
        everyone_hears(
            "messageAdded",
            lambda actor: {"message.body": f"from {actor}", "message.author": actor},
            lambda actor, message: (message.author, message.body) == (actor, f"from {actor}"),
            lambda actor, frame: (
                frame["message"]["body"] == f"from {actor}" and frame["message"]["from"] == actor
            ),
            everyone,
        )

        # Typing from each.
        for sdk, client in sdks.items():
            drivers[sdk].call("typing", client=client, sid=sid)
        loop.run(python_channel.typing())
        assert loop.run(bare.command("typing", channel=sid))["ok"]
        everyone_hears(
            "typingStarted",
            lambda actor: {"member.identity": actor},
            lambda actor, typing: typing.identity == actor,
            lambda actor, frame: frame["identity"] == actor,
            everyone,
        )

        # Each reads up to the last message.
        last = len(rest.call("GET", f"/Channels/{sid}/Messages?PageSize=100")["messages"]) - 1
        for sdk, client in sdks.items():
            drivers[sdk].call("advanceRead", client=client, sid=sid, index=last)
        loop.run(python_channel.update_last_consumed_message_index(last))
        assert loop.run(bare.command("set_consumed", channel=sid, index=last))["ok"]
        everyone_hears(
            "memberUpdated",
            lambda actor: {"member.identity": actor, "member.lastConsumedMessageIndex": last},
            lambda actor, member: (
                (member.identity, member.last_consumed_message_index) == (actor, last)
            ),
            lambda actor, frame: (
                (
                    frame["member"]["identity"],
                    frame["member"]["last_consumed_message_index"],
                )
                == (actor, last)
            ),
            everyone,
        )
    finally:
        loop.run(bare.close())
        loop.run(python.shutdown())
        loop.close()
        for sdk, client in sdks.items():
            shutdown(drivers[sdk], client)


def _python_event(kind: str) -> str:
    """The Python SDK's name for the driver's event ``kind``."""
    return {
        "memberJoined": "member_joined",
        "messageAdded": "message_added",
        "typingStarted": "typing_started",
        "memberUpdated": "member_updated",
    }[kind]


_raw_event = _python_event  # /v1/ws pushes have the same names
