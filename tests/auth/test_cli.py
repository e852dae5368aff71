"""``hubbub users`` and ``hubbub apitokens``, and the token server options of ``hubbub serve``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hubbub.auth.cookies import secret_hash
from hubbub.auth.passwords import Passwords
from hubbub.auth_cli import token_settings
from hubbub.cli import build_parser, main
from hubbub.store import open_store
from hubbub.web.tokenserver import TokenSettings


def run(monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


def test_users_are_added_listed_changed_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    status, out = run(
        monkeypatch,
        "users",
        "add",
        "alice",
        "--identity",
        "alice@x",
        "--password-stdin",
        "--db",
        db,
        stdin="pa55word\n",
    )
    assert (status, out) == (0, "added alice (identity alice@x)\n")
    assert run(monkeypatch, "users", "list", "--db", db) == (0, "alice  alice@x\n")

    store = open_store(db)
    stored = store.get_login_user("alice").password_hash
    assert stored.startswith("$argon2id$")
    assert Passwords().check(stored, "pa55word")
    assert b"pa55word" not in (tmp_path / "h.db").read_bytes()

    again = run(monkeypatch, "users", "add", "alice", "--password-stdin", "--db", db, stdin="x\n")
    assert again[0] == 1
    assert capsys.readouterr().err == "hubbub: a user 'alice' already exists\n"

    status, _ = run(
        monkeypatch, "users", "passwd", "alice", "--password-stdin", "--db", db, stdin="n3w\n"
    )
    assert status == 0
    assert Passwords().check(store.get_login_user("alice").password_hash, "n3w")

    assert run(monkeypatch, "users", "remove", "alice", "--db", db)[0] == 0
    assert run(monkeypatch, "users", "remove", "alice", "--db", db)[0] == 1
    assert capsys.readouterr().err == "hubbub: no user 'alice'\n"
    store.close()


def test_empty_passwords_and_no_terminal_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    assert run(monkeypatch, "users", "add", "a", "--password-stdin", "--db", db, stdin="\n")[0] == 1
    assert "may not be empty" in capsys.readouterr().err
    assert run(monkeypatch, "users", "add", "a", "--db", db)[0] == 1
    assert "--password-stdin" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("identity", "why"),
    [
        ("US" + "0" * 32, "may not look like a User or Member SID"),
        ("a" * 5500, "is longer than 256 characters"),
        ("al\x01ice", "may not contain control characters or lone surrogates"),
        ("al\udcffice", "may not contain control characters or lone surrogates"),  # not UTF-8
        ("system", "is reserved for the service itself"),
    ],
)
def test_identities_no_session_takes_are_refused_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    identity: str,
    why: str,
) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    for command in (
        ["users", "add", "alice", "--identity", identity, "--password-stdin"],
        ["users", "add", identity, "--password-stdin"],  # the username is the identity
        ["apitokens", "create", "--identity", identity],
    ):
        if command[2] == identity and ("longer" in why or "control" in why):
            continue  # refused as a username first
        assert run(monkeypatch, *command, "--db", db, stdin="pa55word\n")[0] == 1
        assert capsys.readouterr().err == f"hubbub: the identity {why}\n"
    store = open_store(db)
    assert not store.list_login_users(limit=10).items
    assert not store.list_api_tokens(limit=10).items
    store.close()


def test_long_usernames_are_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    command = ["users", "add", "a" * 257, "--identity", "alice", "--password-stdin", "--db", db]
    assert run(monkeypatch, *command, stdin="pa55word\n")[0] == 1
    assert capsys.readouterr().err == "hubbub: the username is longer than 256 characters\n"


def test_api_tokens_are_printed_once_and_revoked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    status, out = run(
        monkeypatch, "apitokens", "create", "--identity", "bot", "--name", "ci", "--db", db
    )
    assert status == 0
    lines = dict(line.split(maxsplit=1) for line in out.splitlines())
    sid, token = lines["api_token_sid"], lines["api_token"]
    assert sid.startswith("AT")
    assert token.startswith("hbt_")

    store = open_store(db)
    assert store.find_api_token(secret_hash(token)).identity == "bot"
    assert token.encode() not in (tmp_path / "h.db").read_bytes()

    listed = run(monkeypatch, "apitokens", "list", "--db", db)[1]
    assert sid in listed
    assert "active" in listed
    assert "bot" in listed
    assert token not in listed
    assert run(monkeypatch, "apitokens", "revoke", sid, "--db", db) == (0, f"revoked {sid}\n")
    assert "revoked" in run(monkeypatch, "apitokens", "list", "--db", db)[1]
    assert store.find_api_token(secret_hash(token)).revoked
    assert run(monkeypatch, "apitokens", "revoke", "AT" + "0" * 32, "--db", db)[0] == 1
    assert capsys.readouterr().err.startswith("hubbub: no API token AT")
    store.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--auth", "users,magic"], "unknown authenticator 'magic'"),
        (["--auth", "upstream"], "needs an upstream URL"),
        (["--token-max-ttl", "90000"], "86400"),
        (["--token-service", "nope"], "not a Chat Service SID"),
        (["--token-rate-identity", "lots"], "a rate is"),
        (["--upstream-timeout", "0"], "upstream timeout"),
        (["--upstream-timeout", "nan"], "upstream timeout"),
        (["--upstream-cache", "-1"], "upstream cache"),
        (["--login-rate-username-total", "many"], "a rate is"),
    ],
)
def test_serve_refuses_wrong_token_options_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    status, _ = run(monkeypatch, "serve", "--db", db, *options)
    err = capsys.readouterr().err
    assert status == 1
    assert message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "h.db").exists()  # refused before anything was created


def test_token_rate_limits_are_on_by_default_and_off_turns_them_off() -> None:
    assert TokenSettings().token_rate_identity == (60, 60.0)
    assert TokenSettings().token_rate_address == (600, 60.0)

    serve = build_parser().parse_args(["serve"])
    defaults = token_settings(serve)
    assert (defaults.token_rate_identity, defaults.token_rate_address) == ((60, 60.0), (600, 60.0))

    off = ["serve", "--token-rate-identity", "off", "--token-rate-address", "off"]
    disabled = token_settings(build_parser().parse_args(off))
    assert (disabled.token_rate_identity, disabled.token_rate_address) == (None, None)


def test_the_upstream_timeout_and_cache_are_serve_options() -> None:
    serve = build_parser().parse_args(["serve"])
    defaults = token_settings(serve)
    assert (defaults.upstream_timeout, defaults.upstream_cache) == (2.0, 5.0)

    chosen = ["serve", "--upstream-timeout", "0.5", "--upstream-cache", "0"]
    settings = token_settings(build_parser().parse_args(chosen))
    assert (settings.upstream_timeout, settings.upstream_cache) == (0.5, 0.0)


def test_the_sign_in_ceiling_per_username_is_a_serve_option() -> None:
    serve = build_parser().parse_args(["serve"])
    defaults = token_settings(serve)
    assert defaults.login_rate_username_total == (100, 300.0)
    assert defaults.login_rate_username == (5, 300.0)
    off = build_parser().parse_args(["serve", "--login-rate-username-total", "off"])
    assert token_settings(off).login_rate_username_total is None
