"""Secrets at rest: the master key file, sealing, rotation, and auth token hashes."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hubbub.crypto import (
    DecryptionError,
    InvalidKey,
    SecretBox,
    check_auth_token,
    generate_key,
    hash_auth_token,
    load_master_key,
)

ENV = "HUBBUB_TEST_MASTER_KEY"


@pytest.fixture(autouse=True)
def _no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.delenv("HUBBUB_MASTER_KEY", raising=False)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_seal_and_open() -> None:
    box = SecretBox(generate_key())

    sealed = box.encrypt("s3cr3t ✓")

    assert "s3cr3t" not in sealed
    assert sealed != box.encrypt("s3cr3t ✓")
    assert box.decrypt(sealed) == "s3cr3t ✓"


def test_keys_may_be_text_bytes_or_a_list() -> None:
    key = Fernet.generate_key()
    sealed = SecretBox(key).encrypt("x")

    for keys in (key, key.decode(), [key], [key.decode()]):
        assert SecretBox(keys).decrypt(sealed) == "x"


def test_wrong_key_fails_cleanly() -> None:
    sealed = SecretBox(generate_key()).encrypt("x")

    with pytest.raises(DecryptionError, match="another master key"):
        SecretBox(generate_key()).decrypt(sealed)


def test_tampered_or_garbage_values_fail_cleanly() -> None:
    box = SecretBox(generate_key())
    sealed = box.encrypt("x")
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]

    for bad in (tampered, "not a token", "ünïcode"):
        with pytest.raises(DecryptionError):
            box.decrypt(bad)


def test_rotation() -> None:
    old, new = generate_key(), generate_key()
    sealed_old = SecretBox(old).encrypt("before")

    rotated = SecretBox([new, old])
    sealed_new = rotated.encrypt("after")

    assert rotated.decrypt(sealed_old) == "before"
    assert SecretBox(f"{new}, {old}").decrypt(sealed_old) == "before"
    assert SecretBox(new).decrypt(sealed_new) == "after"
    with pytest.raises(DecryptionError):
        SecretBox(old).decrypt(sealed_new)
    assert SecretBox(new).decrypt(rotated.rotate(sealed_old)) == "before"


@pytest.mark.parametrize("keys", ["", "  ,  ", [], "too-short", b"\xff" * 44])
def test_invalid_keys(keys: str | bytes | list[str]) -> None:
    with pytest.raises(InvalidKey):
        SecretBox(keys)


def test_invalid_key_errors_do_not_show_the_key() -> None:
    with pytest.raises(InvalidKey) as caught:
        SecretBox("secret-looking-but-wrong")
    assert "secret-looking" not in str(caught.value)


def test_missing_key_file_is_created_private(tmp_path: Path, permissive_umask: None) -> None:
    path = tmp_path / "master.key"

    key = load_master_key(path, env=ENV)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == key
    assert SecretBox(key).decrypt(SecretBox(key).encrypt("x")) == "x"
    assert load_master_key(path, env=ENV) == key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.key"]


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    keys: list[str] = []
    start = threading.Barrier(8)

    def load() -> None:
        start.wait()
        keys.append(load_master_key(path, env=ENV))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(keys) == 8
    assert set(keys) == {path.read_text().strip()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.key"]


def test_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from_env = generate_key()
    monkeypatch.setenv(ENV, f"  {from_env}\n")

    assert load_master_key(tmp_path / "absent.key", env=ENV) == from_env
    assert not (tmp_path / "absent.key").exists()

    existing = tmp_path / "existing.key"
    existing.write_text(generate_key())
    assert load_master_key(existing, env=ENV) == from_env

    monkeypatch.setenv(ENV, "")
    assert load_master_key(existing, env=ENV) == existing.read_text()


def test_the_default_variable_is_hubbub_master_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key()
    monkeypatch.setenv("HUBBUB_MASTER_KEY", key)

    assert load_master_key(tmp_path / "unused.key") == key


def test_bad_key_file_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "master.key"
    path.write_text("garbage\n")
    with pytest.raises(InvalidKey, match=r"master\.key"):
        load_master_key(path, env=ENV)

    path.write_text("\n")
    with pytest.raises(InvalidKey, match="no master key"):
        load_master_key(path, env=ENV)

    monkeypatch.setenv(ENV, "garbage")
    with pytest.raises(InvalidKey, match=ENV):
        load_master_key(path, env=ENV)


def test_auth_token_hashes() -> None:
    token = "0123456789abcdef0123456789abcdef"

    stored = hash_auth_token(token)

    assert token not in stored
    assert stored.startswith("hmac-sha256$")
    assert stored != hash_auth_token(token)
    assert check_auth_token(token, stored)
    assert not check_auth_token(token.upper(), stored)
    assert not check_auth_token("", stored)


@pytest.mark.parametrize(
    "stored", ["", "plain", "md5$00$00", "hmac-sha256$zz$00", "hmac-sha256$00$abcd"]
)
def test_malformed_hashes_are_refused(stored: str) -> None:
    with pytest.raises(ValueError, match="auth token hash"):
        check_auth_token("token", stored)
