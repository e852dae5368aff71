"""``hubbub serve --config``: every flag from a TOML file; flags win over it, it over the
environment; unknown keys and wrong types refused in one line naming the key."""

from __future__ import annotations

import argparse
import io
import re
from pathlib import Path

import pytest

from hubbub import config, server_cli
from hubbub.cli import build_parser, main
from hubbub.settings import ServeSettings

EXAMPLE = Path(__file__).resolve().parents[1] / "hubbub.example.toml"


pytestmark = pytest.mark.usefixtures("clean_environment")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[ServeSettings]:
    """What ``hubbub serve`` would have served with, instead of serving."""
    settings: list[ServeSettings] = []

    def record(args: argparse.Namespace, out: object) -> int:
        settings.append(server_cli.serve_settings(args))
        return 0

    monkeypatch.setattr(server_cli, "cmd_serve", record)
    return settings


def serve(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    status = main(["serve", *args], out=io.StringIO())
    return status, capsys.readouterr().err


def serve_keys() -> set[str]:
    serve_parser = build_parser().parse_args(["serve"]).settings_parser
    return set(config._keys(serve_parser))


def test_the_example_covers_every_flag_and_holds_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], served: list[ServeSettings]
) -> None:
    text = EXAMPLE.read_text()
    every = re.sub(r"(?m)^# ([a-z-]+ = )", r"\1", text)  # the commented keys too
    found = set(re.findall(r"(?m)^([a-z-]+) = ", every))
    assert found == serve_keys()

    assert serve(capsys, "--config", str(EXAMPLE)) == (0, "")
    assert served[-1] == ServeSettings()
    (tmp_path / "every.toml").write_text(every)
    assert serve(capsys, "--config", str(tmp_path / "every.toml")) == (0, "")
    assert served[-1].tokens.service_sid == "IS" + "0" * 32


def test_flags_win_over_the_file_and_the_file_over_the_environment(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    served: list[ServeSettings],
) -> None:
    settings = tmp_path / "hubbub.toml"
    settings.write_text(
        'db = "sqlite:///from-file.db"\nworkers = 3\nws-compression = true\n'
        'token-rate-identity = "off"\ntoken-max-ttl = 600\nupstream-timeout = 1\n'
        'webhook-allow = ["10.0.0.0/8", "127.0.0.0/8"]\n'
    )
    monkeypatch.setenv("HUBBUB_DB", "sqlite:///from-environment.db")
    assert serve(capsys)[0] == 0
    assert served[-1].db == "sqlite:///from-environment.db"
    assert serve(capsys, "--config", str(settings))[0] == 0
    chosen = served[-1]
    assert chosen.db == "sqlite:///from-file.db"
    assert (chosen.workers, chosen.ws_compression) == (3, True)
    assert chosen.tokens.token_rate_identity is None
    assert (chosen.tokens.max_ttl, chosen.tokens.upstream_timeout) == (600, 1.0)
    assert chosen.webhook_allow == ("10.0.0.0/8", "127.0.0.0/8")
    assert serve(capsys, "--db", "sqlite:///from-flag.db", "--config", str(settings))[0] == 0
    assert served[-1].db == "sqlite:///from-flag.db"
    assert served[-1].webhook_allow == ("10.0.0.0/8", "127.0.0.0/8")
    allow = ("--webhook-allow", "::1", "--webhook-allow", "127.0.0.1")
    assert serve(capsys, "--config", str(settings), *allow)[0] == 0
    assert served[-1].webhook_allow == ("::1/128", "127.0.0.1/32")  # replaced, not added to
    assert serve(capsys, "--config", str(settings), "--workers", "1")[0] == 0
    assert served[-1].workers == 1  # a flag given with the default's value still wins
    monkeypatch.setenv("HUBBUB_CONFIG", str(settings))
    assert serve(capsys)[0] == 0
    assert served[-1].workers == 3


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("tokn-ttl = 600\n", "unknown setting 'tokn-ttl'"),
        ('workers = "4"\n', "workers must be an integer, not '4'"),
        ("workers = true\n", "workers must be an integer, not True"),
        ("ws-compression = 1\n", "ws-compression must be true or false, not 1"),
        ("port = 80.5\n", "port must be an integer, not 80.5"),
        ("db = 5\n", "db must be a string, not 5"),
        ("token-warning = [1]\n", "token-warning must be a number, not 'list'"),
        ("config = 'other.toml'\n", "unknown setting 'config'"),
        ("workers = \n", "is not TOML"),
        ("token-rate-identity = 'often'\n", "often"),
        ("webhook-allow = '127.0.0.0/8'\n", "webhook-allow must be a list of strings"),
        ("webhook-allow = [8]\n", "webhook-allow must be a list of strings, not [8]"),
        ("webhook-allow = ['loopback']\n", "--webhook-allow: not a network"),
    ],
)
def test_wrong_settings_are_refused_in_one_line_naming_the_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    served: list[ServeSettings],
    text: str,
    error: str,
) -> None:
    settings = tmp_path / "hubbub.toml"
    settings.write_text(text)
    status, err = serve(capsys, "--config", str(settings))
    assert status in (1, 2)
    assert err.count("\n") == 1, err
    assert err.startswith("hubbub: ")
    assert error in err
    assert served == []


def test_a_missing_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], served: list[ServeSettings]
) -> None:
    status, err = serve(capsys, "--config", str(tmp_path / "nope.toml"))
    assert status == 2
    assert err == (
        f"hubbub: cannot read the settings file {tmp_path / 'nope.toml'}: No such file or "
        "directory\n"
    )
