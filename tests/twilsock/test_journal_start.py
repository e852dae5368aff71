"""A service's objects are journaled from its first session with Twilio's SDKs: before that its
actions write nothing for them; the clients of its first moments read only once every process
journals them."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from hubbub.chat import channels, messages
from hubbub.chat.core import Core
from hubbub.chat.keys import KeyRing
from hubbub.chat.provision import new_account
from hubbub.chat.render import Urls
from hubbub.crypto import SecretBox
from hubbub.realtime.commands import Commands
from hubbub.store import Store
from hubbub.sync import objects
from hubbub.sync.journal import SETTLE, UNJOURNALED_TTL, Journal
from hubbub.sync.objects import MESSAGES
from hubbub.tokens import Minter
from hubbub.twilsock import frames
from hubbub.twilsock.api import Api
from hubbub.twilsock.session import Later, TwilsockSession
from tests.twilsock.conftest import BASE, T0
from tests.twilsock.support import init, only


def test_a_service_without_sdk_sessions_journals_nothing_until_its_first_one(
    store: Store,
) -> None:
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    now = [T0]
    journal = Journal(lambda: now[0])
    core = Core(store, journal=journal)
    commands = Commands(store, KeyRing(store, box, ttl=0.0), Urls(BASE), core=core)
    server = commands.core
    actor = commands.authenticate(
        Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret).chat_token(
            "alice", creds.chat_service_sid, ttl=600, now=int(T0)
        ),
        now=int(T0),
    ).actor
    room = channels.create_channel(server, actor, {"unique_name": "room"}).resource or {}
    sent = messages.send_message(server, actor, room["sid"], {"body": "before"})
    # Nothing rides with the events, nothing is kept: the service pays nothing for the SDKs.
    assert all(not event.riders for event in sent.events)
    list_sid = objects.of(MESSAGES, room["sid"])
    assert store.last_event_ids([list_sid]) == {list_sid: 0}

    # The first SDK session turns the journal on, and holds its answer back for SETTLE.
    minter = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)
    token = minter.chat_token("alice", creds.chat_service_sid, ttl=600, now=int(T0))
    session = TwilsockSession(commands, Api(commands), now=T0)
    step = session.receive(init(token), T0)
    assert step.actions == []
    (later,) = step.then
    assert isinstance(later, Later)
    assert later.seconds == SETTLE > UNJOURNALED_TTL
    (reply,) = later.actions
    assert frames.parse(reply.frame.data).header["status"]["code"] == 200  # type: ignore[union-attr]

    # From then on the service's actions are journaled.
    after = messages.send_message(server, actor, room["sid"], {"body": "after"})
    riders = [rider.audience[1] for event in after.events for rider in event.riders]
    assert list_sid in riders
    assert store.last_event_ids([list_sid]) == {list_sid: 1}
    # Another session a second later (here, or on another process) waits out the rest...
    now[0] = T0 + 1
    soon = TwilsockSession(commands, Api(commands), now=now[0]).receive(init(token), now[0])
    (held,) = soon.then
    assert isinstance(held, Later)
    assert held.seconds == pytest.approx(SETTLE - 1)
    elsewhere = Journal(lambda: now[0])  # another process: it reads when the journal began
    assert elsewhere.start(store, creds.chat_service_sid) == pytest.approx(SETTLE - 1)
    # ...and once SETTLE is over, sessions are answered at once.
    now[0] = T0 + SETTLE
    again = TwilsockSession(commands, Api(commands), now=now[0])
    assert only(again.receive(init(token), now[0])).header["status"]["code"] == 200


def test_every_process_notices_within_its_ttl(store: Store) -> None:
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    now = [100.0]
    here = Journal(lambda: T0, lambda: now[0])
    there = Journal(lambda: T0, lambda: now[0])
    assert not there.journaled(store, creds.chat_service_sid)  # remembered as off
    assert here.start(store, creds.chat_service_sid) == SETTLE
    assert store.last_event_ids([creds.chat_service_sid])[creds.chat_service_sid] == 1
    here.start(store, creds.chat_service_sid)  # once is enough: nothing more is written
    assert store.last_event_ids([creds.chat_service_sid])[creds.chat_service_sid] == 1
    assert here.journaled(store, creds.chat_service_sid)
    now[0] += UNJOURNALED_TTL / 2
    assert not there.journaled(store, creds.chat_service_sid)  # still believed off...
    now[0] += UNJOURNALED_TTL / 2 + 0.01
    assert there.journaled(store, creds.chat_service_sid)  # ...but not for longer
    now[0] += 10**6
    assert there.journaled(store, creds.chat_service_sid)  # and on for good
