"""``hubbub users`` and ``hubbub apitokens``: who may sign in to the token server."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from hubbub.defaults import DB as DEFAULT_DB
from hubbub.defaults import CommandError

if TYPE_CHECKING:
    from hubbub.store import Page, Store
    from hubbub.web.tokenserver.settings import TokenSettings

T = TypeVar("T")


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=os.environ.get("HUBBUB_DB", DEFAULT_DB),
        help=f"database URL, sqlite:///path or postgresql://… (default {DEFAULT_DB})",
    )


def add_auth_commands(commands: Any) -> None:
    """Register ``users`` and ``apitokens`` on the ``hubbub`` parser's subcommands."""
    users = commands.add_parser("users", help="manage the token server's built-in users")
    user_commands = users.add_subparsers(
        dest="users_command", required=True, parser_class=type(users)
    )
    add = user_commands.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("username")
    add.add_argument("--identity", help="the chat identity (default: the username)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=cmd_users_add)
    passwd = user_commands.add_parser("passwd", help="set a user's password (signs it out)")
    passwd.add_argument("username")
    passwd.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    passwd.set_defaults(handler=cmd_users_passwd)
    remove = user_commands.add_parser("remove", help="remove a user and end its sessions")
    remove.add_argument("username")
    remove.set_defaults(handler=cmd_users_remove)
    listing = user_commands.add_parser("list", help="list the users")
    listing.set_defaults(handler=cmd_users_list)
    for sub in (add, passwd, remove, listing):
        _database_option(sub)

    tokens = commands.add_parser("apitokens", help="manage bearer tokens for the token endpoint")
    token_commands = tokens.add_subparsers(
        dest="apitokens_command", required=True, parser_class=type(tokens)
    )
    create = token_commands.add_parser("create", help="create a token and print it (shown once)")
    create.add_argument("--identity", required=True, help="the chat identity it stands for")
    create.add_argument("--name", default="", help="a friendly name")
    create.set_defaults(handler=cmd_apitokens_create)
    token_list = token_commands.add_parser("list", help="list the tokens (never their values)")
    token_list.set_defaults(handler=cmd_apitokens_list)
    revoke = token_commands.add_parser("revoke", help="revoke a token")
    revoke.add_argument("token_sid", help="the token's id (AT…)")
    revoke.set_defaults(handler=cmd_apitokens_revoke)
    for sub in (create, token_list, revoke):
        _database_option(sub)


@contextmanager
def _opened(args: argparse.Namespace, missing: str = "") -> Iterator[Store]:
    """The store for one command, closed afterwards; ``missing`` is the one-line error for a
    ``NotFound`` raised inside."""
    from hubbub.store import NotFound, open_store

    try:
        store = open_store(args.db)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    try:
        yield store
    except NotFound:
        if not missing:
            raise
        raise CommandError(missing) from None
    finally:
        store.close()


def _every(fetch: Callable[..., Page[T]]) -> Iterator[T]:
    """All items of a paged listing, page after page."""
    cursor: str | None = None
    while True:
        page = fetch(limit=100, cursor=cursor)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise CommandError("no terminal to ask the password on: use --password-stdin")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CommandError("the passwords differ")
    if not password:
        raise CommandError("the password may not be empty")
    return password


def _identity(identity: str) -> str:
    """An identity the token server can mint for (``hubbub.identities``), or a one-line error."""
    from hubbub.identities import user_flaw

    flaw = user_flaw(identity)
    if flaw is not None:
        raise CommandError(flaw.message("the identity"))
    return identity


def _username(username: str) -> str:
    from hubbub.auth.policy import MAX_USERNAME
    from hubbub.identities import is_text

    if len(username) > MAX_USERNAME:  # /login reads no longer ones
        raise CommandError(f"the username is longer than {MAX_USERNAME} characters")
    if not is_text(username):  # argv carries bytes that are not UTF-8 as lone surrogates
        raise CommandError("the username may not contain control characters or lone surrogates")
    return username


def _hash(password: str) -> str:
    from hubbub.auth.passwords import Passwords

    return Passwords().hash(password)


def cmd_users_add(args: argparse.Namespace, out: TextIO) -> int:
    from hubbub.store import Conflict

    username = _username(args.username)
    identity = _identity(args.identity or username)
    password_hash = _hash(_password(args))
    with _opened(args) as store:
        try:
            store.create_login_user(username, identity=identity, password_hash=password_hash)
        except Conflict:
            raise CommandError(f"a user {args.username!r} already exists") from None
    out.write(f"added {args.username} (identity {identity})\n")
    return 0


def cmd_users_passwd(args: argparse.Namespace, out: TextIO) -> int:
    password_hash = _hash(_password(args))
    with _opened(args, missing=f"no user {args.username!r}") as store:
        store.update_login_user(args.username, password_hash=password_hash)
    out.write(f"changed the password of {args.username}; its sessions ended\n")
    return 0


def cmd_users_remove(args: argparse.Namespace, out: TextIO) -> int:
    with _opened(args, missing=f"no user {args.username!r}") as store:
        store.delete_login_user(args.username)
    out.write(f"removed {args.username}\n")
    return 0


def cmd_users_list(args: argparse.Namespace, out: TextIO) -> int:
    with _opened(args) as store:
        for user in _every(store.list_login_users):
            out.write(f"{user.username}  {user.identity}\n")
    return 0


def cmd_apitokens_create(args: argparse.Namespace, out: TextIO) -> int:
    from hubbub.auth.apitokens import new_api_token
    from hubbub.auth.cookies import secret_hash

    identity = _identity(args.identity)
    token = new_api_token()
    with _opened(args) as store:
        record = store.create_api_token(
            identity=identity, friendly_name=args.name, token_hash=secret_hash(token)
        )
    out.write(f"api_token_sid  {record.sid}\napi_token      {token}\n")
    return 0


def cmd_apitokens_list(args: argparse.Namespace, out: TextIO) -> int:
    with _opened(args) as store:
        for token in _every(store.list_api_tokens):
            state = "revoked" if token.revoked else "active"
            created = token.date_created.strftime("%Y-%m-%dT%H:%M:%SZ")
            out.write(
                f"{token.sid}  {state:<7}  {created}  {token.identity}  {token.friendly_name}\n"
            )
    return 0


def cmd_apitokens_revoke(args: argparse.Namespace, out: TextIO) -> int:
    with _opened(args, missing=f"no API token {args.token_sid}") as store:
        store.update_api_token(args.token_sid, revoked=True)
    out.write(f"revoked {args.token_sid}\n")
    return 0


def add_serve_options(serve: argparse.ArgumentParser) -> None:
    """The token server's options of ``hubbub serve``; their defaults are ``TokenSettings``'s."""
    from hubbub.web.tokenserver.settings import TokenSettings

    group = serve.add_argument_group("token server (/login, /logout, /token)")
    group.add_argument(
        "--auth",
        help="authenticators in the order asked: users, apitokens, upstream (comma separated; "
        f"default {','.join(TokenSettings.auth)})",
    )
    group.add_argument("--upstream-url", help="your app's URL that says who a request is")
    group.add_argument(
        "--upstream-timeout",
        type=float,
        metavar="SECONDS",
        help="how long the upstream has for its whole answer before /token gives 503 "
        f"(default {TokenSettings.upstream_timeout:g})",
    )
    group.add_argument(
        "--upstream-cache",
        type=float,
        metavar="SECONDS",
        help="how long the upstream's answers are kept, 0 for not at all "
        f"(default {TokenSettings.upstream_cache:g})",
    )
    group.add_argument(
        "--token-ttl", type=int, help=f"default token lifetime (s, default {TokenSettings.ttl})"
    )
    group.add_argument(
        "--token-max-ttl",
        type=int,
        help=f"longest lifetime granted (s, ≤ 86400, default {TokenSettings.max_ttl})",
    )
    group.add_argument("--token-service", help="the Chat Service to mint for (default: the only)")
    group.add_argument(
        "--token-key", help="the API key to sign with (default: the account's oldest active)"
    )
    for flag, field, what in (
        ("--token-rate-identity", "token_rate_identity", "token requests per identity"),
        ("--token-rate-address", "token_rate_address", "token requests per client address"),
        (
            "--login-rate-username",
            "login_rate_username",
            "failed sign-ins per username from one client address",
        ),
        ("--login-rate-address", "login_rate_address", "failed sign-ins per client address"),
        (
            "--login-rate-username-total",
            "login_rate_username_total",
            "failed sign-ins per username from all addresses; addresses it signed in from "
            "before are spared",
        ),
    ):
        default = format_rate(getattr(TokenSettings, field))
        group.add_argument(
            flag, help=f"{what}, like 10/s, 60/m or 5/300s, or off (default {default})"
        )


def token_settings(args: argparse.Namespace) -> TokenSettings:
    """``TokenSettings`` from ``hubbub serve``'s options (the defaults for those not given),
    checked, so that a wrong option fails in one line before anything starts."""
    from hubbub.auth.limits import parse_rate
    from hubbub.web.tokenserver.settings import TokenSettings

    changes: dict[str, Any] = {}
    if args.auth is not None:
        changes["auth"] = tuple(p.strip() for p in args.auth.split(",") if p.strip())
    for name, option in (
        ("upstream_url", "upstream_url"),
        ("upstream_timeout", "upstream_timeout"),
        ("upstream_cache", "upstream_cache"),
        ("ttl", "token_ttl"),
        ("max_ttl", "token_max_ttl"),
        ("service_sid", "token_service"),
        ("key_sid", "token_key"),
    ):
        value = getattr(args, option)
        if value is not None and value != "":
            changes[name] = value
    try:
        for name in (
            "token_rate_identity",
            "token_rate_address",
            "login_rate_username",
            "login_rate_address",
            "login_rate_username_total",
        ):
            text = getattr(args, name)
            if text is not None:
                changes[name] = parse_rate(text)
        settings = TokenSettings(**changes)
        settings.check()
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return settings


def format_rate(rate: tuple[int, float] | None) -> str:
    """A rate as the options write it: ``60/m``, ``5/300s``, or ``off``."""
    if rate is None:
        return "off"
    burst, period = rate
    unit = {1.0: "s", 60.0: "m", 3600.0: "h"}.get(period, f"{period:g}s")
    return f"{burst}/{unit}"
