"""``hubbub backup`` and ``hubbub restore``: a copy taken under write load holds every message
acknowledged before it began, with no gap in any channel's indexes."""

from __future__ import annotations

import sqlite3
import stat
import threading
from collections import defaultdict
from pathlib import Path

import pytest

from hubbub.crypto import generate_key
from hubbub.store import NewMessage, open_store
from tests.support import run_cli

CHANNELS = 3


pytestmark = pytest.mark.usefixtures("clean_environment")


def test_a_backup_under_write_load_restores_every_acknowledged_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "srv").mkdir()
    url = f"sqlite:///{tmp_path / 'srv' / 'hub.db'}"
    assert run_cli(capsys, "init", "--db", url)[0] == 0
    store = open_store(url)
    service = store.list_services(store.list_accounts().items[0].sid).items[0].sid
    channels = [store.create_channel(service, unique_name=f"c{n}").sid for n in range(CHANNELS)]
    # A few MB of history, so that the copy takes a while as writers go on.
    for _ in range(20):
        batch: list[NewMessage] = [
            (service, c, "alice", "x" * 200, "{}") for c in channels for _ in range(150)
        ]
        store.create_messages(batch)

    acknowledged: list[tuple[str, int, str]] = []  # appended once the store call returned
    stop = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        number = 0
        try:
            while not stop.is_set():
                channel = channels[number % CHANNELS]
                body = f"live {number}"
                message = store.create_message(service, channel, body=body, from_="bob")
                acknowledged.append((channel, message.index, body))
                number += 1
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    writers = [threading.Thread(target=write) for _ in range(2)]
    for writer in writers:
        writer.start()
    try:
        while len(acknowledged) < 100:
            stop.wait(0.005)
        before = list(acknowledged)
        status, out, err = run_cli(capsys, "backup", str(tmp_path / "hub.backup"), "--db", url)
        during = len(acknowledged) - len(before)
    finally:
        stop.set()
        for writer in writers:
            writer.join()
        store.close()
    assert failures == []
    assert status == 0, err
    assert "backed up" in out
    assert "keep a copy of" in out
    assert during > 0, "no message was written while the backup ran"
    backup = tmp_path / "hub.backup"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    restored_url = f"sqlite:///{tmp_path / 'restored' / 'hub.db'}"
    (tmp_path / "restored").mkdir()
    status, out, err = run_cli(capsys, "restore", str(backup), "--db", restored_url)
    assert status == 0, err
    assert "put the master key this backup was taken with at" in out

    database = sqlite3.connect(tmp_path / "restored" / "hub.db")
    try:
        rows = database.execute("SELECT channel_sid, message_index, body FROM messages").fetchall()
        counts = dict(database.execute("SELECT sid, messages_count FROM channels").fetchall())
        next_index = dict(database.execute("SELECT sid, next_message_index FROM channels"))
    finally:
        database.close()
    indexes: dict[str, list[int]] = defaultdict(list)
    for channel, index, _ in rows:
        indexes[channel].append(index)
    for channel in channels:
        assert sorted(indexes[channel]) == list(range(len(indexes[channel])))  # no gap, no repeat
        assert counts[channel] == next_index[channel] == len(indexes[channel])
    assert set(before) <= set(rows)


def test_restore_refuses_to_replace_a_database_unless_told_and_never_one_in_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert run_cli(capsys, "init", "--db", url)[0] == 0
    backup = tmp_path / "copy.db"
    assert run_cli(capsys, "backup", str(backup), "--db", url)[0] == 0

    status, _, err = run_cli(capsys, "backup", str(backup), "--db", url)
    assert (status, err) == (1, f"hubbub: {backup} already exists: back up to a new file\n")
    status, _, err = run_cli(capsys, "restore", str(backup), "--db", url)
    assert status == 1
    assert err == (
        f"hubbub: {tmp_path / 'hub.db'} exists: stop every server using it, then add --force "
        "to replace it\n"
    )
    serving = open_store(url)  # as a running hubbub serve holds it
    try:
        serving.list_accounts()
        status, _, err = run_cli(capsys, "restore", str(backup), "--db", url, "--force")
        assert status == 1
        assert "is in use, by a running hubbub serve or another command: stop it first" in err
    finally:
        serving.close()
    status, out, err = run_cli(capsys, "restore", str(backup), "--db", url, "--force")
    assert status == 0, err
    assert out == f"restored {backup} to {tmp_path / 'hub.db'}\n"  # the key beside it opens it

    (tmp_path / "not-a-db").write_text("hello")
    status, _, err = run_cli(capsys, "restore", str(tmp_path / "not-a-db"), "--db", url, "--force")
    assert (status, err.count("\n")) == (1, 1)
    assert "is not an SQLite database" in err


def test_postgresql_is_pointed_at_its_own_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("backup", "restore"):
        status, _, err = run_cli(
            capsys, command, str(tmp_path / "x"), "--db", "postgresql://u@localhost/chat"
        )
        assert status == 1
        assert err.count("\n") == 1
        assert "pg_dump -Fc" in err
        assert "pg_restore" in err


def test_restore_checks_the_key_against_sealed_auth_tokens_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert run_cli(capsys, "init", "--db", url)[0] == 0
    store = open_store(url)
    try:
        account = store.list_accounts().items[0]
        for key in store.list_api_keys(account.sid).items:  # the auth token is all that is sealed
            store.delete_api_key(account.sid, key.sid)
    finally:
        store.close()
    backup = tmp_path / "copy.db"
    assert run_cli(capsys, "backup", str(backup), "--db", url)[0] == 0
    (tmp_path / "elsewhere").mkdir()
    restored = f"sqlite:///{tmp_path / 'elsewhere' / 'hub.db'}"
    monkeypatch.setenv("HUBBUB_MASTER_KEY", generate_key())
    status, out, err = run_cli(capsys, "restore", str(backup), "--db", restored)
    assert status == 0, err
    assert "does not open this backup's sealed secrets" in out
