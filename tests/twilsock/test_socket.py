"""Subscriptions over a real socket: what a client hears of an object, whatever it asks.

A raw twilsock client against ``create_app`` under uvicorn (as ``hubbub serve`` runs it), with
writes over REST. Where a test shows that something does *not* arrive, it makes something else
happen after it that must arrive, and checks what came before that.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from websockets.sync.client import ClientConnection, connect

from hubbub.chat.provision import Credentials, new_account
from hubbub.crypto import SecretBox
from hubbub.realtime.node import Node
from hubbub.store import open_store
from hubbub.sync import objects
from hubbub.sync.objects import MESSAGES
from hubbub.tokens import Minter
from hubbub.twilsock import frames
from hubbub.twilsock.frames import Frame
from hubbub.web.app import create_app
from tests.twilsock.support import init, request
from tests.web.server import running

_ids = itertools.count(1)


@dataclass
class Server:
    url: str
    creds: Credentials
    rest: httpx.Client
    node: Node

    def token(self, identity: str) -> str:
        creds = self.creds
        minter = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)
        return minter.chat_token(identity, creds.chat_service_sid)

    def post(self, path: str, **form: str) -> dict[str, Any]:
        answer = self.rest.post(f"/v2/Services/{self.creds.chat_service_sid}/{path}", data=form)
        assert answer.status_code < 300, answer.text
        return dict(answer.json())

    def delete(self, path: str) -> None:
        answer = self.rest.delete(f"/v2/Services/{self.creds.chat_service_sid}/{path}")
        assert answer.status_code == 204, answer.text


class Client:
    """One twilsock session: requests answered in turn, notifications kept in order."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.heard: list[dict[str, Any]] = []

    def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        frame_id = f"RQ{next(_ids)}"
        self.socket.send(request(method, path, body, params=params, frame_id=frame_id))
        while True:
            frame = self._next()
            if frame.method == "reply" and frame.id == frame_id:
                assert frame.header["http_status"]["code"] < 300, frame.body()
                return frame.body()

    def subscribe(self, sid: str, kind: str, last_event_id: int) -> dict[str, Any]:
        wanted = {"object_sid": sid, "object_type": kind, "last_event_id": last_event_id}
        body = {"action": "establish", "correlation_id": 7, "requests": [wanted]}
        self.call("POST", "/v4/Subscriptions", body)
        return self.until("subscription_established")

    def until(self, event_type: str) -> dict[str, Any]:
        """The next Sync event of ``event_type``; what came before it stays in ``heard``."""
        for event in self.heard:
            if event["event_type"] == event_type:
                self.heard.remove(event)
                return event
        while True:
            frame = self._next()
            if frame.method == "notification":
                payload = frame.body()
                if payload.get("event_type") == event_type:
                    return dict(payload)
                self.heard.append(payload)

    def _next(self) -> Frame:
        frame = frames.parse(self._recv())
        if frame.method == "notification" and frame.header["message_type"] != "twilio.sync.event":
            return self._next()
        return frame

    def _recv(self) -> bytes:
        message = self.socket.recv(timeout=10)
        return message if isinstance(message, bytes) else message.encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path: Path = tmp_path_factory.mktemp("socket") / "socket.db"
    store = open_store(f"sqlite:///{path}")
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    app = create_app(store, box)
    with (
        running(app) as url,
        httpx.Client(base_url=url, auth=(creds.account_sid, creds.auth_token)) as rest,
    ):
        yield Server(url, creds, rest, app.state.node)
    store.close()


@contextmanager
def session(server: Server, identity: str) -> Iterator[Client]:
    with connect(server.url.replace("http://", "ws://") + "/v3/wsconnect") as socket:
        socket.send(init(server.token(identity)))
        # (The service's first session is answered a few seconds late: see test_journal_start.)
        assert frames.parse(socket.recv(timeout=10)).header["status"]["code"] == 200
        yield Client(socket)


def _channel(server: Server, name: str, *identities: str) -> str:
    sid = str(server.post("Channels", UniqueName=name)["sid"])
    for identity in identities:
        server.post(f"Channels/{sid}/Members", Identity=identity)
    return sid


def _message(server: Server, channel: str, body: str) -> int:
    return int(server.post(f"Channels/{channel}/Messages", Body=body, From="system")["index"])


def _added(event: dict[str, Any]) -> int:
    return int(event["event"]["item_index"])


def test_a_removed_member_hears_the_channel_no_more(server: Server) -> None:
    """A client that does not cancel its subscription still hears nothing of a channel once
    its user is removed from it."""
    room = _channel(server, "kicked-from", "ana", "ben")
    other = _channel(server, "still-in", "ben")
    with session(server, "ben") as ben:
        for sid in (room, other):
            described = ben.call("GET", f"/v3/Lists/{objects.of(MESSAGES, sid)}")
            ben.subscribe(described["sid"], "list", described["last_event_id"])
        hello = _message(server, room, "hi")
        assert _added(ben.until("list_item_added")) == hello  # while a member, ben hears it
        server.delete(f"Channels/{room}/Members/ben")
        _message(server, room, "after ben left")
        # Then something ben must hear: nothing of the first channel may have come before it.
        sent = _message(server, other, "still here")
        heard = ben.until("list_item_added")
        assert heard["event"]["list_sid"] == objects.of(MESSAGES, other)
        assert _added(heard) == sent
        leaked = [e for e in ben.heard if e["event"].get("list_sid") == objects.of(MESSAGES, room)]
        assert leaked == []


def test_subscribing_by_unique_name_follows_the_object_and_replays(server: Server) -> None:
    """twilio-chat names a channel's document ``CH….channel``; the subscription is the
    document's, by SID, and what the client missed since its read comes first."""
    room = _channel(server, "named", "cid")
    with session(server, "cid") as cid:
        document = cid.call("GET", f"/v3/Documents/{room}.channel")
        assert document["sid"] == objects.of(objects.CHANNEL_DOCUMENT, room)
        read_at = document["last_event_id"]
        missed = _message(server, room, "sent between the read and the subscription")
        established = cid.subscribe(f"{room}.channel", "document", read_at)
        assert established["event"]["object_sid"] == document["sid"]
        # The document as it is now was replayed first, with the message as its last.
        (replayed,) = [e for e in cid.heard if e["event_type"] == "document_updated"]
        assert replayed["event"]["document_sid"] == document["sid"]
        assert replayed["event"]["document_data"]["lastMessage"]["index"] == missed
        cid.heard.clear()
        # And it is followed live.
        live = _message(server, room, "live")
        updated = cid.until("document_updated")
        assert updated["event"]["document_data"]["lastMessage"]["index"] == live
        assert updated["event"]["id"] > replayed["event"]["id"]


def test_a_replay_sends_each_missed_item_once_in_order(server: Server) -> None:
    room = _channel(server, "replayed", "dee")
    list_sid = objects.of(MESSAGES, room)
    first = _message(server, room, "before the read")
    with session(server, "dee") as dee:
        described = dee.call("GET", f"/v3/Lists/{list_sid}")
        missed = [_message(server, room, f"missed {i}") for i in range(3)]
        dee.subscribe(list_sid, "list", described["last_event_id"])
        replayed = [_added(e) for e in dee.heard if e["event_type"] == "list_item_added"]
        assert replayed == missed
        assert first not in replayed
        dee.heard.clear()
        live = _message(server, room, "live")
        assert _added(dee.until("list_item_added")) == live
        assert dee.heard == []


def test_a_client_is_sent_to_reconnect_when_events_may_have_been_lost(server: Server) -> None:
    """When the broker had a gap (Redis came back), each twilsock client is closed with 308:
    the SDK reconnects and the journal replays what it missed."""
    with session(server, "eve") as eve:
        loop = server.node.loop
        assert loop is not None
        loop.call_soon_threadsafe(server.node.events_lost)  # as after a Redis gap
        closes = []
        while not closes:
            frame = frames.parse(eve._recv())
            if frame.method == "close":
                closes.append(frame.header["status"]["code"])
        assert closes == [308]
