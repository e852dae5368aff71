"""``hubbub serve --config hubbub.toml``: every ``serve`` flag, from a TOML file.

A key is a flag's name without its dashes in front (``token-max-ttl = 3600``); a value has the
flag's type (``workers = 4``, ``ws-compression = true``, ``forwarded-allow-ips = "10.0.0.0/8"``),
and a repeatable flag takes a list (``webhook-allow = ["127.0.0.0/8"]``).
The file's values become the flags' defaults, so flags on the command line still win, and the
file wins over the environment and the built-in defaults. The keys are read from ``serve``'s
own options: a new flag is a new key, with nothing to keep in step.
"""

from __future__ import annotations

import argparse
import tomllib
from typing import Any

#: Flags that are not settings of the server.
_NOT_SETTINGS = {"help", "config"}


class ConfigError(ValueError):
    """The settings file cannot be used; the message names the file and the key, in one line."""


def _kind(action: argparse.Action) -> type:
    if isinstance(action, argparse._StoreTrueAction):
        return bool
    if isinstance(action, argparse._AppendAction):
        return list
    if action.type in (int, float):
        return action.type
    return str


def _keys(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The file's keys, each with the option it stands for."""
    keys = {}
    for action in parser._actions:
        for option in action.option_strings:
            if option.startswith("--") and option[2:] not in _NOT_SETTINGS:
                keys[option[2:]] = action
    return keys


def file_defaults(parser: argparse.ArgumentParser, path: str) -> dict[str, Any]:
    """The options' values in the TOML file at ``path``, by destination, checked."""
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read the settings file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not TOML: {exc}") from None
    keys = _keys(parser)
    values: dict[str, Any] = {}
    for key, value in table.items():
        action = keys.get(key)
        if action is None:
            raise ConfigError(
                f"{path}: unknown setting {key!r} (the settings are hubbub serve's flags "
                "without the leading --; see hubbub.example.toml)"
            )
        values[action.dest] = _checked(path, key, value, _kind(action))
    return values


def _checked(path: str, key: str, value: Any, kind: type) -> Any:
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list of strings",
    }
    # bool is an int to Python, but `workers = true` is a mistake; an int is a fine float.
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is list:
        fits = isinstance(value, list) and all(isinstance(item, str) for item in value)
    elif kind is bool:
        fits = isinstance(value, bool)
    elif kind is int:
        fits = number and isinstance(value, int)
    elif kind is float:
        fits = number
    else:
        fits = isinstance(value, str)
    if not fits:
        # Shown as it is when a scalar, or a list where a list was wanted (of what is wrong).
        as_is = isinstance(value, bool | int | float | str)
        as_is = as_is or (kind is list and isinstance(value, list))
        shown = value if as_is else type(value).__name__
        raise ConfigError(f"{path}: {key} must be {names[kind]}, not {shown!r}")
    return float(value) if kind is float else value


def apply(
    parser: argparse.ArgumentParser,
    command: argparse.ArgumentParser,
    argv: list[str],
    path: str,
) -> argparse.Namespace:
    """``argv`` parsed again with ``command``'s defaults taken from the file at ``path``."""
    command.set_defaults(**file_defaults(command, path))
    return parser.parse_args(argv)
