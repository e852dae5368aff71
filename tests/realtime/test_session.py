"""The session state machine, driven by frames and a clock it is handed: no sockets, no sleep."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from hubbub.chat.keys import KeyRing
from hubbub.chat.provision import Credentials, new_account
from hubbub.chat.render import Urls
from hubbub.crypto import SecretBox
from hubbub.realtime.commands import Commands
from hubbub.realtime.protocol import CloseCode
from hubbub.realtime.session import AUTH_TIMEOUT, BURST, Close, Send, Session, Step
from hubbub.store import Store, open_store
from hubbub.tokens import Minter

T0 = 1_795_867_200.0  # the session's clock starts here


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'session.db'}")
    yield opened
    opened.close()


@pytest.fixture
def setup(store: Store) -> tuple[Commands, Credentials, Minter]:
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    chat = Commands(store, KeyRing(store, box, ttl=0.0), Urls("http://127.0.0.1"))
    minter = Minter(creds.account_sid, creds.api_key_sid, creds.api_key_secret)
    return chat, creds, minter


def frame(kind: str, command_id: int = 1, **params: Any) -> str:
    return json.dumps({"id": command_id, "type": kind, **params})


def sent(step: Step) -> list[dict[str, Any]]:
    return [action.frame for action in step.actions if isinstance(action, Send)]


def closed(step: Step) -> CloseCode | None:
    closes = [action.code for action in step.actions if isinstance(action, Close)]
    return closes[0] if closes else None


def opened(setup: tuple[Commands, Credentials, Minter], ttl: int = 600) -> Session:
    chat, creds, minter = setup
    session = Session(chat, now=T0, warning=180)
    token = minter.chat_token("alice", creds.chat_service_sid, ttl=ttl, now=int(T0))
    step = session.receive(frame("authenticate", token=token), T0)
    assert sent(step)[0]["ok"] is True
    return session


def test_the_lifecycle_warns_then_expires(setup: tuple[Commands, Credentials, Minter]) -> None:
    session = opened(setup, ttl=600)
    exp = T0 + 600
    assert session.next_deadline() == exp - 180  # the key is checked process-wide, not here
    assert sent(session.tick(T0 + 1)) == []
    assert session.next_deadline() <= exp - 180
    assert sent(session.tick(exp - 181)) == []
    assert sent(session.tick(exp - 180)) == [
        {"type": "token_about_to_expire", "expires_at": int(exp)}
    ]
    assert sent(session.tick(exp - 100)) == []  # said once
    leeway = setup[0].leeway
    step = session.tick(exp + leeway - 1)
    assert closed(step) is None
    step = session.tick(exp + leeway)
    assert sent(step) == [{"type": "token_expired"}]
    assert closed(step) == CloseCode.TOKEN_EXPIRED
    assert session.closed


def test_update_token_renews_in_place(setup: tuple[Commands, Credentials, Minter]) -> None:
    _, creds, minter = setup
    session = opened(setup, ttl=600)
    session.tick(T0 + 430)  # warned
    fresh = minter.chat_token("alice", creds.chat_service_sid, ttl=3600, now=int(T0 + 430))
    step = session.receive(frame("update_token", 2, token=fresh), T0 + 431)
    assert sent(step) == [
        {"id": 2, "type": "reply", "ok": True, "result": {"expires_at": int(T0 + 430 + 3600)}}
    ]
    assert closed(session.tick(T0 + 700)) is None  # the old expiry passes unnoticed
    warned = session.tick(T0 + 430 + 3600 - 180)
    assert sent(warned)[0]["type"] == "token_about_to_expire"  # re-armed for the new token


@pytest.mark.parametrize(
    ("identity", "service", "code"),
    [("mallory", None, 20106), ("alice", "IS" + "0" * 32, 20106)],
)
def test_update_token_must_keep_identity_and_service(
    setup: tuple[Commands, Credentials, Minter], identity: str, service: str | None, code: int
) -> None:
    chat, creds, minter = setup
    session = opened(setup, ttl=600)
    other = minter.chat_token(identity, service or creds.chat_service_sid, now=int(T0))
    step = session.receive(frame("update_token", 2, token=other), T0 + 1)
    reply = sent(step)[0]
    assert (reply["ok"], reply["error"]["code"]) == (False, code)
    assert closed(step) is None
    # The old token stays in force: it still expires when it did.
    assert closed(session.tick(T0 + 600 + chat.leeway)) == CloseCode.TOKEN_EXPIRED


def test_a_bad_update_keeps_the_old_token(setup: tuple[Commands, Credentials, Minter]) -> None:
    session = opened(setup)
    step = session.receive(frame("update_token", 2, token="garbage"), T0 + 1)
    assert sent(step)[0]["error"]["code"] == 20101
    assert not session.closed


def test_a_revoked_key_closes_the_session(
    setup: tuple[Commands, Credentials, Minter], store: Store
) -> None:
    chat, creds, _ = setup
    session = opened(setup)
    assert session.who is not None
    assert chat.key_alive(session.who)
    store.update_api_key(creds.account_sid, creds.api_key_sid, revoked=True)
    # The process-wide sweep asks the key ring, then revokes the sessions of a dead key.
    assert not chat.key_alive(session.who)
    assert closed(session.revoke()) == CloseCode.KEY_REVOKED
    assert session.closed
    assert session.revoke().actions == []


def test_authentication_timeout_and_order(setup: tuple[Commands, Credentials, Minter]) -> None:
    chat, _, _ = setup
    session = Session(chat, now=T0)
    assert session.next_deadline() == T0 + AUTH_TIMEOUT
    assert closed(session.tick(T0 + AUTH_TIMEOUT)) == CloseCode.AUTH_TIMEOUT
    early = Session(chat, now=T0)
    assert (
        closed(early.receive(frame("send_message", channel="x"), T0))
        == CloseCode.PROTOCOL_VIOLATION
    )


def test_malformed_frames_and_floods(setup: tuple[Commands, Credentials, Minter]) -> None:
    for text in ("not json", "[]", '{"type": "ping"}', '{"id": true, "type": "ping"}'):
        session = opened(setup)
        assert closed(session.receive(text, T0 + 1)) == CloseCode.PROTOCOL_VIOLATION, text
    session = opened(setup)
    assert closed(session.receive("x" * (65 * 1024), T0 + 1)) == CloseCode.FRAME_TOO_LARGE
    flood = opened(setup)
    results = [flood.receive(frame("ping", i), T0 + 1) for i in range(int(BURST) + 1)]
    assert closed(results[-1]) == CloseCode.RATE_LIMITED
    assert all(closed(step) is None for step in results[:-2])


def test_unknown_commands_are_errors_not_closes(
    setup: tuple[Commands, Credentials, Minter],
) -> None:
    session = opened(setup)
    step = session.receive(frame("teleport", 9), T0 + 1)
    reply = sent(step)[0]
    assert (reply["id"], reply["ok"], reply["error"]["code"]) == (9, False, 20001)
    assert not session.closed
