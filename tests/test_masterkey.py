"""The master key follows the database, is refused at start-up when it cannot open it, and is
rotated without a moment in which no key on disk opens the database."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from hubbub import masterkey
from hubbub.crypto import SecretBox, generate_key
from hubbub.settings import ENVIRONMENT
from hubbub.store import open_store
from tests.postgres import PostgresDatabases
from tests.support import run_cli

pytestmark = pytest.mark.usefixtures("clean_environment")


def secrets_of(url: str, key: str) -> dict[str, str]:
    """Every sealed secret in the database at ``url`` (the API keys' secrets, the accounts'
    auth tokens), opened with ``key``, by SID."""
    box = SecretBox(key)
    store = open_store(url)
    try:
        opened = {}
        for account in store.list_accounts(limit=100).items:
            if account.sealed_auth_token is not None:
                opened[account.sid] = box.decrypt(account.sealed_auth_token)
            keys = store.list_api_keys(account.sid, limit=100).items
            opened |= {k.sid: box.decrypt(k.encrypted_secret) for k in keys}
        return opened
    finally:
        store.close()


def no_server(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stand in for uvicorn: record what ``hubbub serve`` would have run."""
    import uvicorn

    started: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    monkeypatch.setenv(ENVIRONMENT, "")  # restored after the test
    return started


def test_the_key_lives_beside_the_sqlite_database_whatever_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, elsewhere, other = tmp_path / "srv", tmp_path / "home", tmp_path / "other"
    for folder in (data, elsewhere, other):
        folder.mkdir()
    url = f"sqlite:///{data / 'hub.db'}"
    monkeypatch.chdir(elsewhere)
    status, _, err = run_cli(capsys, "init", "--db", url, "--json")
    assert status == 0, err
    key_file = data / "hubbub-master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not (elsewhere / "hubbub-master.key").exists()

    monkeypatch.chdir(other)
    assert run_cli(capsys, "keys", "create", "--db", url)[0] == 0
    started = no_server(monkeypatch)
    status, _, err = run_cli(capsys, "serve", "--db", url)
    assert status == 0, err
    assert len(started) == 1
    assert json.loads(os.environ[ENVIRONMENT])["master_key_file"] == str(key_file)
    assert os.listdir(other) == []  # no key, no credentials left in the wrong directory
    assert len(secrets_of(url, key_file.read_text())) == 3  # two API keys, one auth token


def test_a_key_that_cannot_open_the_database_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert run_cli(capsys, "init", "--db", url)[0] == 0
    wrong = tmp_path / "wrong.key"
    wrong.write_text(generate_key())
    started = no_server(monkeypatch)
    for command in (["init"], ["keys", "create"], ["keys", "list"], ["serve"]):
        status, _, err = run_cli(capsys, *command, "--db", url, "--master-key-file", str(wrong))
        assert status == 1, command
        assert err.count("\n") == 1, err
        assert f"the master key in {wrong} cannot open this database's sealed secrets" in err
        assert "point --master-key-file" in err
    monkeypatch.setenv("HUBBUB_MASTER_KEY", generate_key())
    status, _, err = run_cli(capsys, "serve", "--db", url)
    assert status == 1
    assert "the master key in $HUBBUB_MASTER_KEY cannot open" in err
    assert "set $HUBBUB_MASTER_KEY" in err
    assert started == []


def test_a_new_key_is_made_only_for_a_database_with_nothing_sealed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert run_cli(capsys, "init", "--db", url)[0] == 0
    key_file = tmp_path / "hubbub-master.key"
    key_file.rename(tmp_path / "kept-safe.key")
    status, _, err = run_cli(capsys, "keys", "create", "--db", url)
    assert status == 1
    assert err == (
        f"hubbub: no master key at {key_file}, but this database's secrets are sealed: point "
        "--master-key-file (or $HUBBUB_MASTER_KEY) at the key that `hubbub init` made for it\n"
    )
    assert not key_file.exists()
    status, _, err = run_cli(
        capsys, "keys", "list", "--db", url, "--master-key-file", "kept-safe.key"
    )
    assert status == 0, err


def test_a_sealed_auth_token_alone_ties_the_database_to_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert run_cli(capsys, "init", "--db", url)[0] == 0
    store = open_store(url)
    try:
        account = store.list_accounts().items[0]
        for key in store.list_api_keys(account.sid).items:
            store.delete_api_key(account.sid, key.sid)
    finally:
        store.close()
    key_file = tmp_path / "hubbub-master.key"
    [token] = secrets_of(url, key_file.read_text()).values()

    wrong = tmp_path / "wrong.key"
    wrong.write_text(generate_key())
    status, _, err = run_cli(capsys, "keys", "list", "--db", url, "--master-key-file", str(wrong))
    assert (status, err.count("\n")) == (1, 1)
    assert "cannot open this database's sealed secrets" in err
    key_file.rename(tmp_path / "kept-safe.key")
    status, _, err = run_cli(capsys, "keys", "list", "--db", url)
    assert status == 1
    assert "but this database's secrets are sealed" in err
    assert not key_file.exists()
    (tmp_path / "kept-safe.key").rename(key_file)

    status, out, err = run_cli(capsys, "keys", "rotate-master", "--db", url)
    assert status == 0, err
    assert "re-sealed 1 secret(s)" in out
    assert secrets_of(url, key_file.read_text()) == {account.sid: token}


def test_postgresql_keeps_its_key_in_the_data_directory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    postgres: PostgresDatabases,
) -> None:
    url = postgres.new()
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    data.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(tmp_path)
    try:
        assert run_cli(capsys, "init", "--db", url, "--data-dir", str(data))[0] == 0
        assert (data / "hubbub-master.key").exists()
        monkeypatch.chdir(elsewhere)
        status, _, err = run_cli(capsys, "keys", "create", "--db", url)
        assert status == 1
        assert f"no master key at {elsewhere / 'hubbub-master.key'}" in err
        monkeypatch.setenv("HUBBUB_DATA_DIR", str(data))
        assert run_cli(capsys, "keys", "create", "--db", url)[0] == 0
        assert os.listdir(elsewhere) == []
    finally:
        postgres.drop(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    url = postgres.new()
    yield url
    postgres.drop(url)


def test_rotate_master_reseals_every_secret_under_a_new_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    database: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, "init", "--db", database)[0] == 0
    assert run_cli(capsys, "keys", "create", "--db", database)[0] == 0
    key_file = tmp_path / "hubbub-master.key"
    old_key = key_file.read_text()
    before = secrets_of(database, old_key)
    assert [sid[:2] for sid in sorted(before)] == ["AC", "SK", "SK"]

    status, out, err = run_cli(capsys, "keys", "rotate-master", "--db", database)
    assert status == 0, err
    assert (
        "re-sealed 3 secret(s) (API key secrets, auth tokens) under a new master key, "
        f"in {key_file}"
    ) in out
    new_key = key_file.read_text()
    assert len(new_key.split()) == 1
    assert new_key != old_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert secrets_of(database, new_key) == before
    (tmp_path / "old.key").write_text(old_key)
    status, _, err = run_cli(
        capsys, "keys", "list", "--db", database, "--master-key-file", "old.key"
    )
    assert (status, err.count("\n")) == (1, 1)
    # The old key is kept, private, for backups taken before (and named where it went).
    [kept] = tmp_path.glob("hubbub-master.key.old-*")
    assert kept.read_text().split() == old_key.split()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert f"the old key is kept in {kept}" in out

    # To another file: the current one is left alone, the new one opens the database.
    status, out, _ = run_cli(
        capsys, "keys", "rotate-master", "--db", database, "--new-key-file", "next.key"
    )
    assert status == 0
    assert f"point --master-key-file (or $HUBBUB_MASTER_KEY) at {tmp_path / 'next.key'}" in out
    assert key_file.read_text() == new_key
    assert secrets_of(database, (tmp_path / "next.key").read_text()) == before

    # A key from the environment cannot be rewritten in place.
    monkeypatch.setenv("HUBBUB_MASTER_KEY", (tmp_path / "next.key").read_text())
    status, _, err = run_cli(capsys, "keys", "rotate-master", "--db", database)
    assert status == 1
    assert "give --new-key-file" in err


def test_an_interrupted_rotation_leaves_a_key_file_that_opens_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert run_cli(capsys, "init", "--db", url)[0] == 0
    key_file = tmp_path / "hubbub-master.key"
    before = secrets_of(url, key_file.read_text())

    # Stopped before the transaction commits: nothing re-sealed, the file opens the database.
    def lost_connection(sealed: str) -> str:
        raise ConnectionError("the database went away mid-transaction")

    store = open_store(url)
    try:
        key = masterkey.open_master_key(store, key_file)
        with monkeypatch.context() as patch:
            patch.setattr(SecretBox, "rotate", lambda self, sealed: lost_connection(sealed))
            with pytest.raises(ConnectionError):
                masterkey.rotate(store, key, key_file)
    finally:
        store.close()
    assert len(key_file.read_text().split()) == 2
    assert secrets_of(url, key_file.read_text()) == before

    # Stopped after the commit, before the file keeps the new key alone: it opens it too.
    writes: list[list[str]] = []
    real_write = masterkey.write_key_file

    def crash_on_last_write(path: Path, keys: list[str]) -> None:
        writes.append(keys)
        if len(writes) == 3:  # the old keys kept aside, both keys, then the new one alone
            raise OSError(28, "No space left on device")
        real_write(path, keys)

    with monkeypatch.context() as patch:
        patch.setattr(masterkey, "write_key_file", crash_on_last_write)
        status, _, err = run_cli(capsys, "keys", "rotate-master", "--db", url)
    assert status == 1
    assert err == f"hubbub: cannot write the new master key {key_file}: No space left on device\n"
    assert len(key_file.read_text().split()) == 3  # the newest, the unused one, the first
    assert secrets_of(url, key_file.read_text()) == before
    assert run_cli(capsys, "keys", "list", "--db", url)[0] == 0

    # Running it again finishes the job.
    assert run_cli(capsys, "keys", "rotate-master", "--db", url)[0] == 0
    assert len(key_file.read_text().split()) == 1
    assert secrets_of(url, key_file.read_text()) == before
