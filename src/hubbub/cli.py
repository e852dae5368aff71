"""The ``hubbub`` command line.

Every failure a user can cause ends in one line on stderr and a non-zero exit, never a
traceback: 1 for a token that does not hold, 2 for a command that is used wrongly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from hubbub import __version__, config
from hubbub.auth_cli import add_auth_commands
from hubbub.defaults import CommandError
from hubbub.server_cli import add_commands
from hubbub.tokens import AccessToken, ChatGrant, TokenError
from hubbub.tokens.claims import DEFAULT_LEEWAY, DEFAULT_TTL, relative, span
from hubbub.tokens.explain import Report, explain

EXIT_INVALID = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A command was used wrongly; the message is the whole story."""


def _credential(value: str | None, env: str, flag: str) -> str:
    value = value or os.environ.get(env)
    if not value:
        raise UsageError(f"missing {flag} (or the {env} environment variable)")
    return value


def cmd_token_mint(args: argparse.Namespace, out: TextIO) -> int:
    account_sid = _credential(args.account_sid, "TWILIO_ACCOUNT_SID", "--account-sid")
    key_sid = _credential(args.api_key, "TWILIO_API_KEY", "--api-key")
    secret = _credential(args.api_secret, "TWILIO_API_SECRET", "--api-secret")
    service_sid = _credential(
        args.chat_service_sid, "TWILIO_CHAT_SERVICE_SID", "--chat-service-sid"
    )
    grant = ChatGrant(
        service_sid=service_sid,
        endpoint_id=args.endpoint_id,
        push_credential_sid=args.push_credential_sid,
    )
    token = AccessToken(
        account_sid,
        key_sid,
        secret,
        grants=[grant],
        identity=args.identity,
        ttl=args.ttl,
        region=args.region,
    )
    print(token.to_jwt(), file=out)
    return 0


def _read_token(value: str) -> str:
    if value == "-":
        value = sys.stdin.read()
    value = value.strip()
    if not value:
        raise UsageError("no token given")
    return value


def cmd_token_inspect(args: argparse.Namespace, out: TextIO) -> int:
    token = _read_token(args.token)
    secret = args.secret if args.secret is not None else os.environ.get("TWILIO_API_SECRET")
    report = explain(token, secret=secret, account_sid=args.account_sid, leeway=args.leeway)
    if args.json:
        json.dump(_report_dict(report), out, indent=2)
        out.write("\n")
    else:
        out.write(render_report(report))
    return 0 if report.ok else EXIT_INVALID


def _report_dict(report: Report) -> dict[str, Any]:
    result: dict[str, Any] = {
        "header": report.header,
        "claims": report.claims,
        "signature_checked": report.signature_checked,
        "valid": report.ok,
    }
    if report.error is not None:
        result["error"] = report.error.to_dict()
        result["hint"] = report.hint
    return result


_TIME_CLAIMS = {"iat": "issued", "nbf": "valid from", "exp": "expires"}
_NAMED_CLAIMS = {"iss": "API key", "sub": "account", "jti": "token id"}


def render_report(report: Report) -> str:
    """The report as a person reads it in a terminal."""
    lines: list[str] = []
    if report.header is None:
        lines.append("Header: (cannot be decoded)")
    else:
        lines.append("Header")
        lines += [f"  {key:<8} {json.dumps(value)}" for key, value in report.header.items()]
    claims = report.claims
    if claims is None:
        lines.append("Claims: (cannot be decoded)")
    else:
        lines.append("Claims")
        for key, value in claims.items():
            if key == "grants":
                continue
            if key in _TIME_CLAIMS and type(value) is int:
                shown = f"{relative(value, report.now)}  {_TIME_CLAIMS[key]}"
            else:
                label = f"  {_NAMED_CLAIMS[key]}" if key in _NAMED_CLAIMS else ""
                shown = f"{json.dumps(value)}{label}"
            lines.append(f"  {key:<8} {shown}")
        start = claims.get("nbf", claims.get("iat"))
        if type(start) is int and type(claims.get("exp")) is int:
            lines.append(f"  {'lifetime':<8} {span(claims['exp'] - start)}")
        grants = claims.get("grants")
        if isinstance(grants, dict):
            lines.append("Grants")
            lines += [f"  {key:<8} {json.dumps(value)}" for key, value in grants.items()]
    lines.append("")
    if report.error is not None:
        lines.append(f"INVALID  {report.error}")
        if report.hint:
            lines.append(f"  {report.hint}")
    elif report.signature_checked:
        lines.append("VALID  signature and claims check out")
    else:
        lines.append(
            "UNVERIFIED  claims look fine; the signature was not checked "
            "(give --secret or TWILIO_API_SECRET to check it)"
        )
    return "\n".join(lines) + "\n"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line, like every other error here."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hubbub", description="A self-hosted Programmable Chat service.")
    parser.add_argument("--version", action="version", version=f"hubbub {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    token = commands.add_parser("token", help="mint and explain Access Tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True, parser_class=_Parser)

    mint = token_commands.add_parser(
        "mint",
        help="print a new Access Token with a Chat grant",
        description="Credentials come from the flags or from TWILIO_ACCOUNT_SID, TWILIO_API_KEY, "
        "TWILIO_API_SECRET and TWILIO_CHAT_SERVICE_SID; prefer the environment for the secret.",
    )
    mint.add_argument("--identity", required=True, help="the user the token is for")
    mint.add_argument("--chat-service-sid", help="the Chat Service (IS…)")
    mint.add_argument("--ttl", type=int, default=DEFAULT_TTL, help="lifetime in seconds (≤ 86400)")
    mint.add_argument("--endpoint-id", help="the client endpoint, for push notifications")
    mint.add_argument("--push-credential-sid", help="push credential (CR…)")
    mint.add_argument("--region", help="the region the API key lives in (twr header)")
    mint.add_argument("--account-sid", help="the account (AC…)")
    mint.add_argument("--api-key", help="the API key SID (SK…)")
    mint.add_argument("--api-secret", help="the API key secret")
    mint.set_defaults(handler=cmd_token_mint)

    inspect = token_commands.add_parser(
        "inspect",
        help="show what a token says and, given its secret, whether it is valid",
        description="Exit status: 0 valid (or fine as far as it could be checked), "
        "1 invalid, 2 usage error.",
    )
    inspect.add_argument("token", help="the token, or - to read it from standard input")
    inspect.add_argument("--secret", help="the API key secret, to check the signature")
    inspect.add_argument("--account-sid", help="the account the token must belong to")
    inspect.add_argument(
        "--leeway", type=int, default=DEFAULT_LEEWAY, help="clock skew forgiven, in seconds (0-60)"
    )
    inspect.add_argument("--json", action="store_true", help="print the report as JSON")
    inspect.set_defaults(handler=cmd_token_inspect)
    add_commands(commands)
    add_auth_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    out = out if out is not None else sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "config", None):
            # The file's values become the command's defaults; the flags, parsed again, win.
            given = list(sys.argv[1:] if argv is None else argv)
            args = config.apply(parser, args.settings_parser, given, args.config)
        status: int = args.handler(args, out)
    except UsageError as exc:
        print(f"hubbub: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"hubbub: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except TokenError as exc:
        print(f"hubbub: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except ValueError as exc:
        print(f"hubbub: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return status


if __name__ == "__main__":
    sys.exit(main())
