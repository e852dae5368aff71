"""``hubbub serve``'s settings: built once from its options, carried to workers whole."""

from __future__ import annotations

import dataclasses

import pytest

from hubbub import defaults
from hubbub.cli import build_parser
from hubbub.server_cli import serve_settings
from hubbub.settings import ENVIRONMENT, ServeSettings


def test_the_defaults_are_written_once() -> None:
    settings = serve_settings(build_parser().parse_args(["serve"]))
    assert settings == ServeSettings()
    # URLs are built from the bind address unless told otherwise.
    assert settings.base_url == "http://127.0.0.1:8080"
    assert dataclasses.replace(settings, host="::1").base_url == "http://[::1]:8080"
    assert settings.db == defaults.DB
    assert settings.token_warning == defaults.TOKEN_WARNING
    assert settings.tokens.token_rate_identity == (60, 60.0)


def test_every_option_reaches_a_worker_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    options = [
        "serve",
        "--db",
        "sqlite:////srv/chat/hub.db",
        "--port",
        "9090",
        "--workers",
        "3",
        "--redis",
        "redis://127.0.0.1:6379/2",
        "--ws-compression",
        "--public-url",
        "https://chat.example.com/",
        "--token-warning",
        "30",
        "--webhook-allow",
        "127.0.0.0/8",
        "--webhook-allow",
        " ::1",
        "--auth",
        "apitokens",
        "--token-ttl",
        "600",
        "--token-rate-identity",
        "off",
        "--login-rate-address",
        "7/90s",
    ]
    settings = serve_settings(build_parser().parse_args(options))
    assert (settings.port, settings.workers, settings.ws_compression) == (9090, 3, True)
    assert settings.redis_url == "redis://127.0.0.1:6379/2"
    assert settings.public_url == "https://chat.example.com"
    assert settings.base_url == "https://chat.example.com"
    assert settings.token_warning == 30.0
    assert settings.webhook_allow == ("127.0.0.0/8", "::1/128")
    assert settings.tokens.auth == ("apitokens",)
    assert settings.tokens.ttl == 600
    assert settings.tokens.token_rate_identity is None
    assert settings.tokens.login_rate_address == (7, 90.0)
    monkeypatch.setenv(ENVIRONMENT, settings.to_json())
    assert ServeSettings.from_environment() == settings


def test_wrong_settings_are_refused_in_one_line() -> None:
    from hubbub.defaults import CommandError

    with pytest.raises(CommandError, match="--workers"):
        serve_settings(build_parser().parse_args(["serve", "--workers", "0"]))
    with pytest.raises(CommandError, match="--public-url"):
        serve_settings(build_parser().parse_args(["serve", "--public-url", "chat.example.com"]))
    with pytest.raises(CommandError, match="--token-warning"):
        serve_settings(build_parser().parse_args(["serve", "--token-warning", "nan"]))
    with pytest.raises(
        CommandError, match=r"^--webhook-allow: '10\.0\.0\.1/8' has host bits set: did you mean "
    ):
        serve_settings(build_parser().parse_args(["serve", "--webhook-allow", "10.0.0.1/8"]))
    with pytest.raises(CommandError, match=r"^--webhook-allow: not a network in CIDR notation"):
        serve_settings(build_parser().parse_args(["serve", "--webhook-allow", "localhost"]))
    with pytest.raises(ValueError, match="not a network"):
        ServeSettings(webhook_allow=("everywhere",))
