"""``hubbub init``, ``hubbub keys`` and ``hubbub serve``, run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from hubbub.crypto import SecretBox, check_auth_token, load_master_key
from hubbub.store import open_store
from tests.support import run_cli

HUBBUB = Path(sys.executable).with_name("hubbub")


def hubbub(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "TWILIO_"))}
    return subprocess.run(
        [str(HUBBUB), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_init_prints_working_credentials_and_keys_are_managed(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'chat.db'}"
    result = hubbub("init", "--db", db, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    creds = json.loads(result.stdout)
    assert set(creds) == {
        "account_sid",
        "auth_token",
        "api_key_sid",
        "api_key_secret",
        "chat_service_sid",
    }
    assert creds["account_sid"].startswith("AC")
    assert len(creds["api_key_secret"]) == 32
    key_file = tmp_path / "hubbub-master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # The secret is stored encrypted: it appears nowhere in the database file.
    assert creds["api_key_secret"].encode() not in (tmp_path / "chat.db").read_bytes()

    listed = hubbub("keys", "list", "--db", db, cwd=tmp_path)
    assert listed.returncode == 0
    assert creds["api_key_sid"] in listed.stdout
    assert "active" in listed.stdout

    created = hubbub("keys", "create", "--db", db, "--name", "ci", cwd=tmp_path)
    new_sid = created.stdout.split()[1]
    assert new_sid.startswith("SK")
    revoked = hubbub("keys", "revoke", new_sid, "--db", db, cwd=tmp_path)
    assert revoked.returncode == 0
    assert f"{new_sid}  revoked" in hubbub("keys", "list", "--db", db, cwd=tmp_path).stdout

    unknown = hubbub("keys", "revoke", "SK" + "0" * 32, "--db", db, cwd=tmp_path)
    assert unknown.returncode == 1
    assert unknown.stderr.count("\n") == 1
    assert "Traceback" not in unknown.stderr


def test_database_errors_are_one_line(tmp_path: Path) -> None:
    result = hubbub("init", "--db", "mysql://nope", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("hubbub: unsupported database URL")
    assert "Traceback" not in result.stderr
    none_yet = hubbub("keys", "list", "--db", f"sqlite:///{tmp_path / 'empty.db'}", cwd=tmp_path)
    assert none_yet.returncode == 1
    assert "hubbub init" in none_yet.stderr


@pytest.mark.usefixtures("clean_environment")
def test_keys_auth_token_gives_an_account_a_new_sealed_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'chat.db'}"
    status, out, _ = run_cli(capsys, "init", "--db", db, "--json")
    creds = json.loads(out)
    box = SecretBox(load_master_key(tmp_path / "hubbub-master.key"))
    store = open_store(db)
    try:
        account = store.get_account(creds["account_sid"])
        assert account.sealed_auth_token is not None  # new accounts can sign webhooks
        assert box.decrypt(account.sealed_auth_token) == creds["auth_token"]
        assert creds["auth_token"].encode() not in (tmp_path / "chat.db").read_bytes()
        # As an account made before auth tokens were sealed.
        store.update_account(account.sid, sealed_auth_token=None)

        status, out, err = run_cli(capsys, "keys", "auth-token", "--db", db)
        assert (status, err) == (0, "")
        lines = out.splitlines()
        assert lines[0] == f"account_sid  {account.sid}"
        name, token = lines[1].split()
        assert name == "auth_token"
        assert re.fullmatch(r"[0-9a-f]{32}", token)
        assert lines[2].startswith("hubbub: the old auth token no longer works")
        changed = store.get_account(account.sid)
        assert changed.sealed_auth_token is not None
        assert box.decrypt(changed.sealed_auth_token) == token
        assert check_auth_token(token, changed.auth_token_hash)
        assert not check_auth_token(creds["auth_token"], changed.auth_token_hash)

        other = store.create_account(friendly_name="other", auth_token_hash="h")
        status, _, err = run_cli(capsys, "keys", "auth-token", "--db", db)
        assert (status, err) == (1, "hubbub: several accounts: pass --account-sid\n")
        status, out, _ = run_cli(
            capsys, "keys", "auth-token", "--db", db, "--account-sid", other.sid
        )
        assert status == 0
        assert out.startswith(f"account_sid  {other.sid}\nauth_token   ")
        assert store.get_account(account.sid) == changed  # the other account is left alone
        missing = "AC" + "0" * 32
        status, _, err = run_cli(capsys, "keys", "auth-token", "--db", db, "--account-sid", missing)
        assert (status, err) == (1, f"hubbub: no account {missing}\n")
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str, auth: tuple[str, str] | None = None) -> tuple[int, str]:
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_initialises_on_first_start_and_answers(tmp_path: Path, workers: int) -> None:
    # A stale, world-readable credentials file from before must not keep its mode.
    stale = tmp_path / "hubbub-credentials.json"
    stale.write_text("old")
    stale.chmod(0o644)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "TWILIO_"))}
    server = subprocess.Popen(
        [str(HUBBUB), "serve", "--port", str(port), "--workers", str(workers)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(f"{base}/healthz")
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert (status, body) == (200, "ok\n")
        assert (tmp_path / "hubbub.db").exists()  # SQLite at ./hubbub.db by default
        credentials = tmp_path / "hubbub-credentials.json"
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        creds = json.loads(credentials.read_text())

        status, body = get(f"{base}/v2/Services", (creds["account_sid"], creds["auth_token"]))
        assert status == 200
        [service] = json.loads(body)["services"]
        assert service["sid"] == creds["chat_service_sid"]
        assert service["reachability_enabled"] is True  # the chat page shows who is online
        status, body = get(f"{base}/v2/Services")
        assert (status, json.loads(body)["code"]) == (401, 20003)

        # Any worker answers for all; counts arrive within a second of the request.
        wanted = 'hubbub_http_requests_total{method="GET",route="/v2/Services",status="401"} 1.0'
        deadline = time.monotonic() + 10
        while True:
            status, body = get(f"{base}/metrics")
            assert status == 200
            if wanted in body or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert wanted in body
        assert "hubbub_http_request_duration_seconds_bucket" in body
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert "credentials are in" in out
    assert creds["auth_token"] not in out  # secrets go to the 0600 file, not the terminal log


def test_serve_never_prints_the_database_password(tmp_path: Path, postgres: Any) -> None:
    url = postgres.new()
    password = make_url(url).password
    assert password
    init = hubbub("init", "--db", url, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "TWILIO_"))}
    server = subprocess.Popen(
        [str(HUBBUB), "serve", "--db", url, "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
        postgres.drop(url)
    assert "serving the accounts in postgresql://" in out
    assert password not in out
