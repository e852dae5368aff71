"""The command line: mint, inspect, and one-line errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hubbub.cli import main
from hubbub.tokens import verify
from tests.support import ACCOUNT_SID, KEY_SID, SECRET, SERVICE_SID

HUBBUB = Path(sys.executable).with_name("hubbub")
CREDENTIALS = {
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "TWILIO_API_KEY": KEY_SID,
    "TWILIO_API_SECRET": SECRET,
    "TWILIO_CHAT_SERVICE_SID": SERVICE_SID,
}


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(args), out=out)
    return status, out.getvalue()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)


def test_mint_from_the_environment(credentials: None) -> None:
    status, out = run("token", "mint", "--identity", "alice", "--ttl", "600")
    assert status == 0
    result = verify(out.strip(), {KEY_SID: SECRET}, account_sid=ACCOUNT_SID)
    assert result.identity == "alice"
    assert result.chat_service_sid == SERVICE_SID
    assert result.expires_at - (result.not_before or 0) == 600


def test_mint_from_flags(no_credentials: None) -> None:
    status, out = run(
        "token",
        "mint",
        "--identity",
        "bob",
        "--account-sid",
        ACCOUNT_SID,
        "--api-key",
        KEY_SID,
        "--api-secret",
        SECRET,
        "--chat-service-sid",
        SERVICE_SID,
        "--region",
        "ie1",
        "--endpoint-id",
        "cli:bob",
    )
    assert status == 0
    result = verify(out.strip(), {KEY_SID: SECRET})
    assert (result.identity, result.region) == ("bob", "ie1")
    assert result.grants["chat"]["endpoint_id"] == "cli:bob"


def test_mint_without_credentials_says_which(
    no_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run("token", "mint", "--identity", "alice")
    assert status == 2
    assert out == ""
    assert (
        capsys.readouterr().err
        == "hubbub: missing --account-sid (or the TWILIO_ACCOUNT_SID environment variable)\n"
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--ttl", "90000"], "20157"),
        (["--chat-service-sid", "ISnope"], "20106"),
        (["--identity", ""], "20106"),
    ],
)
def test_mint_refusals_are_one_line(
    credentials: None, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    status, _ = run("token", "mint", "--identity", "carol", *args)
    assert status == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert words in err


def test_inspect_valid_token(credentials: None) -> None:
    _, token = run("token", "mint", "--identity", "dave")
    status, out = run("token", "inspect", token.strip(), "--account-sid", ACCOUNT_SID)
    assert status == 0
    assert "VALID  signature and claims check out" in out
    assert '"dave"' in out
    assert "(in 59 min)" in out or "(in 60 min)" in out


def test_inspect_without_secret_checks_what_it_can(no_credentials: None) -> None:
    token = _mint(ttl=600)
    status, out = run("token", "inspect", token)
    assert status == 0
    assert "UNVERIFIED" in out


def test_inspect_explains_an_expired_token(no_credentials: None) -> None:
    from hubbub.tokens import AccessToken, ChatGrant

    token = AccessToken(
        ACCOUNT_SID, KEY_SID, SECRET, grants=[ChatGrant(SERVICE_SID)], identity="erin", ttl=60
    ).to_jwt(now=1_700_000_000)
    status, out = run("token", "inspect", token, "--secret", SECRET)
    assert status == 1
    assert "INVALID  20104" in out
    assert "Fetch a fresh one from your token server" in out


def test_inspect_wrong_secret_as_json(no_credentials: None) -> None:
    status, out = run("token", "inspect", _mint(), "--secret", "wrong", "--json")
    assert status == 1
    report = json.loads(out)
    assert report["valid"] is False
    assert report["error"]["code"] == 20107
    assert report["claims"]["grants"]["identity"] == "frank"
    assert "TWILIO_API_SECRET" in report["hint"]


def test_inspect_garbage(no_credentials: None) -> None:
    status, out = run("token", "inspect", "definitely not a token")
    assert status == 1
    assert "Header: (cannot be decoded)" in out
    assert "INVALID  20101" in out


def test_inspect_reads_stdin(no_credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(_mint() + "\n"))
    status, out = run("token", "inspect", "-", "--secret", SECRET)
    assert status == 0
    assert "VALID" in out


def _mint(ttl: int = 3600) -> str:
    from hubbub.tokens.minter import Minter

    return Minter(ACCOUNT_SID, KEY_SID, SECRET).chat_token("frank", SERVICE_SID, ttl=ttl)


@pytest.mark.parametrize(
    "args",
    [
        ["token", "inspect"],
        ["token", "mint"],
        ["token", "inspect", "x", "--leeway", "999"],
        ["token", "frobnicate"],
        ["token", "mint", "--identity", "a", "--ttl", "soon"],
    ],
)
def test_usage_errors_are_one_line_without_traceback(args: list[str]) -> None:
    # The real console script, in its own process, as a user runs it.
    result = subprocess.run(
        [str(HUBBUB), *args], capture_output=True, text=True, env={"PATH": ""}, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("hubbub")
