"""``hubbub init``, ``hubbub serve`` and ``hubbub keys``: the commands that need a database."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from hubbub import defaults
from hubbub.auth_cli import add_serve_options
from hubbub.defaults import CommandError

if TYPE_CHECKING:
    from hubbub.chat.provision import Credentials
    from hubbub.crypto import SecretBox
    from hubbub.masterkey import MasterKey
    from hubbub.settings import ServeSettings
    from hubbub.store import Store

# The storage and server stacks are imported inside the commands: `hubbub token` needs neither.

DEFAULT_DB = defaults.DB
DEFAULT_KEY_FILE = defaults.MASTER_KEY_FILE
CREDENTIALS_FILE = "hubbub-credentials.json"


def add_commands(commands: Any) -> None:
    """Register the database commands on the ``hubbub`` parser's subcommands."""

    def database_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--db",
            default=os.environ.get("HUBBUB_DB", DEFAULT_DB),
            help=f"database URL, sqlite:///path or postgresql://… (default {DEFAULT_DB})",
        )
        parser.add_argument(
            "--master-key-file",
            default=os.environ.get("HUBBUB_MASTER_KEY_FILE") or None,
            metavar="PATH",
            help="the key that seals API key secrets and auth tokens (default: "
            f"{DEFAULT_KEY_FILE} beside an SQLite database, or in --data-dir for PostgreSQL; "
            "$HUBBUB_MASTER_KEY_FILE; $HUBBUB_MASTER_KEY, the key itself, overrides it)",
        )
        parser.add_argument(
            "--data-dir",
            default=os.environ.get("HUBBUB_DATA_DIR") or None,
            metavar="DIR",
            help="where the master key and first-start credentials live for a PostgreSQL "
            "database (default $HUBBUB_DATA_DIR, else the current directory); an SQLite "
            "database keeps them in its own directory",
        )

    init = commands.add_parser("init", help="create an account, an API key and a Chat Service")
    database_options(init)
    init.add_argument("--name", default="hubbub", help="a name for the account")
    init.add_argument("--json", action="store_true", help="print the credentials as JSON")
    init.set_defaults(handler=cmd_init)

    serve = commands.add_parser("serve", help="run the Chat Service")
    database_options(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1, help="server processes")
    serve.add_argument(
        "--redis",
        default=os.environ.get("HUBBUB_REDIS_URL"),
        metavar="URL",
        help="Redis server carrying real-time events between processes (redis://HOST:PORT/DB; "
        "default $HUBBUB_REDIS_URL); needs the hubbub[redis] extra",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        metavar="IPS",
        help="proxies trusted to say the client's address and scheme (X-Forwarded-For, "
        "X-Forwarded-Proto): comma-separated addresses or networks, or '*' (default: 127.0.0.1; "
        "$FORWARDED_ALLOW_IPS)",
    )
    serve.add_argument(
        "--public-url",
        default=os.environ.get("HUBBUB_PUBLIC_URL"),
        metavar="URL",
        help="where clients reach the server, e.g. https://chat.example.com: the base of every "
        "URL in answers and pushes (default http://HOST:PORT, so set it when binding 0.0.0.0 or "
        "behind a proxy; $HUBBUB_PUBLIC_URL)",
    )
    serve.add_argument(
        "--ws-compression",
        action="store_true",
        help="offer permessage-deflate on /v1/ws (costs ~35 KiB of memory per connection)",
    )
    serve.add_argument(
        "--webhook-allow",
        action=_Repeated,
        metavar="CIDR",
        help="a network outbound webhooks may reach although it is loopback, private or "
        "otherwise refused, e.g. 127.0.0.0/8: for development and tests (repeatable)",
    )
    serve.add_argument(
        "--push-allow",
        action=_Repeated,
        default=[n for n in os.environ.get("HUBBUB_PUSH_ALLOW", "").replace(",", " ").split()],
        metavar="CIDR",
        help="a network Web Push endpoints (which any chat user registers) may reach although "
        "it is loopback, private or otherwise refused: for tests only (repeatable; "
        "$HUBBUB_PUSH_ALLOW, comma-separated). --webhook-allow does not apply to them",
    )
    for flag, variable, default, what in (
        ("--push-fcm-url", "HUBBUB_PUSH_FCM_URL", defaults.PUSH_FCM_URL, "FCM's"),
        ("--push-apns-url", "HUBBUB_PUSH_APNS_URL", defaults.PUSH_APNS_URL, "APNs'"),
        (
            "--push-apns-sandbox-url",
            "HUBBUB_PUSH_APNS_SANDBOX_URL",
            defaults.PUSH_APNS_SANDBOX_URL,
            "APNs' sandbox",
        ),
    ):
        serve.add_argument(
            flag,
            default=os.environ.get(variable) or default,
            metavar="URL",
            help=f"{what} base URL for push notifications (default {default}; ${variable})",
        )
    serve.add_argument(
        "--push-ca-file",
        default=os.environ.get("HUBBUB_PUSH_CA_FILE") or None,
        metavar="PATH",
        help="a PEM file of CAs trusted besides the system's for FCM and APNs: for tests "
        "against local receivers ($HUBBUB_PUSH_CA_FILE)",
    )
    serve.add_argument(
        "--token-warning",
        type=float,
        default=os.environ.get("HUBBUB_TOKEN_WARNING", defaults.TOKEN_WARNING),
        metavar="SECONDS",
        help="tell real-time sessions to renew their token this long before it expires "
        f"(default {defaults.TOKEN_WARNING:g}; $HUBBUB_TOKEN_WARNING)",
    )
    serve.add_argument(
        "--media-store",
        choices=("disk", "database"),
        default=os.environ.get("HUBBUB_MEDIA_STORE") or "disk",
        help="where uploaded media's bytes live: files on disk, or chunks in the PostgreSQL "
        "database (default disk; $HUBBUB_MEDIA_STORE)",
    )
    serve.add_argument(
        "--media-dir",
        default=os.environ.get("HUBBUB_MEDIA_DIR") or None,
        metavar="DIR",
        help="the disk media store's directory (default: media/ beside an SQLite database, or "
        "in --data-dir for PostgreSQL; $HUBBUB_MEDIA_DIR)",
    )
    add_serve_options(serve)
    serve.add_argument(
        "--config",
        default=os.environ.get("HUBBUB_CONFIG") or None,
        metavar="PATH",
        help="a TOML file setting any of these flags (flag names without --; see "
        "hubbub.example.toml): flags win over it, it wins over the environment "
        "(default $HUBBUB_CONFIG)",
    )
    serve.set_defaults(handler=cmd_serve, settings_parser=serve)

    backup = commands.add_parser(
        "backup", help="copy an SQLite database while it is served (PostgreSQL: pg_dump)"
    )
    backup.add_argument("path", help="the new file to write the copy to (mode 0600)")
    database_options(backup)
    backup.set_defaults(handler=cmd_backup)
    restore = commands.add_parser(
        "restore", help="put a backup in place of an SQLite database (stop the servers first)"
    )
    restore.add_argument("path", help="the backup to restore")
    database_options(restore)
    restore.add_argument(
        "--force", action="store_true", help="replace the database if it exists (none may use it)"
    )
    restore.set_defaults(handler=cmd_restore)

    keys = commands.add_parser("keys", help="manage API keys, auth tokens and the master key")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, parser_class=type(keys))
    for name, handler, text in (
        ("create", cmd_keys_create, "create an API key and print its secret (shown once)"),
        ("list", cmd_keys_list, "list the account's API keys"),
        ("revoke", cmd_keys_revoke, "revoke an API key"),
        (
            "auth-token",
            cmd_keys_auth_token,
            "give the account a new auth token and print it (shown once; the old one stops "
            "working)",
        ),
        (
            "rotate-master",
            cmd_keys_rotate_master,
            "re-seal every API key secret and auth token under a new master key (stop the "
            "servers first)",
        ),
    ):
        sub = key_commands.add_parser(name, help=text)
        database_options(sub)
        if name != "rotate-master":
            sub.add_argument("--account-sid", help="the account (default: the only one)")
        else:
            sub.add_argument(
                "--new-key-file",
                metavar="PATH",
                help="where to write the new key (default: over the current key file)",
            )
        if name == "create":
            sub.add_argument("--name", default="", help="a friendly name for the key")
        if name == "revoke":
            sub.add_argument("key_sid", help="the key to revoke (SK…)")
        sub.set_defaults(handler=handler)


class _Repeated(argparse._AppendAction):
    """A repeatable flag whose values on the command line replace those of ``--config``
    (plain ``append`` would add to them): flags win over the file, as everywhere else."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        if getattr(namespace, self.dest, None) is self.default:
            setattr(namespace, self.dest, None)
        super().__call__(parser, namespace, values, option)


def _open(args: argparse.Namespace) -> tuple[Store, SecretBox]:
    from hubbub.crypto import SecretBox

    store, key = _open_keyed(args.db, args.master_key_file, args.data_dir)
    return store, SecretBox(key.material)


def _open_keyed(db: str, key_file: str | None, data_dir: str | None) -> tuple[Store, MasterKey]:
    """The store and its master key, refused in one line unless the key opens the store."""
    from hubbub.masterkey import MasterKeyError, key_path, open_master_key
    from hubbub.store import open_store

    try:
        store = open_store(db)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:  # an SQLite file in a directory that does not exist, say
        raise CommandError(f"cannot open the database: {exc.filename}: {exc.strerror}") from None
    path = key_path(db, key_file, data_dir)
    try:
        return store, open_master_key(store, path)
    except MasterKeyError as exc:
        store.close()
        raise CommandError(str(exc)) from None
    except OSError as exc:
        store.close()
        raise CommandError(f"cannot read or create the master key {path}: {exc.strerror}") from None
    except BaseException:
        store.close()
        raise


def _print_credentials(creds: Credentials, out: TextIO, as_json: bool) -> None:
    if as_json:
        json.dump(creds.to_dict(), out, indent=2)
        out.write("\n")
        return
    for name, value in creds.to_dict().items():
        out.write(f"{name:<18} {value}\n")


def cmd_init(args: argparse.Namespace, out: TextIO) -> int:
    from hubbub.chat.provision import new_account

    store, box = _open(args)
    try:
        _print_credentials(new_account(store, box, name=args.name), out, args.json)
    finally:
        store.close()
    return 0


def serve_settings(args: argparse.Namespace) -> ServeSettings:
    """``hubbub serve``'s options as one settings object, checked."""
    import math

    from hubbub.auth_cli import token_settings
    from hubbub.settings import ServeSettings

    if args.workers < 1:
        raise CommandError("--workers must be at least 1")
    warning = float(args.token_warning)
    if not (math.isfinite(warning) and warning >= 0):
        raise CommandError(f"--token-warning must be 0 s or more, not {args.token_warning}")
    public_url = args.public_url or None
    if public_url is not None:
        scheme, _, rest = public_url.partition("://")
        if scheme not in ("http", "https") or not rest or any(c in rest for c in "?#\\ "):
            raise CommandError(
                f"--public-url must be http(s)://HOST[:PORT][/PATH], not {public_url!r}"
            )
        public_url = public_url.rstrip("/")
    from hubbub.webhooks.addresses import networks

    try:
        webhook_allow = tuple(str(network) for network in networks(args.webhook_allow or ()))
    except ValueError as exc:
        raise CommandError(f"--webhook-allow: {exc}") from None
    try:
        push_allow = tuple(str(network) for network in networks(args.push_allow or ()))
    except ValueError as exc:
        raise CommandError(f"--push-allow: {exc}") from None
    if args.media_store not in ("disk", "database"):
        raise CommandError(f"--media-store must be disk or database, not {args.media_store!r}")
    scheme = args.db.partition(":")[0].partition("+")[0]
    if args.media_store == "database" and scheme not in ("postgresql", "postgres"):
        raise CommandError(
            "--media-store database needs PostgreSQL: on SQLite a long upload would hold the "
            "database's one write lock (use --media-store disk)"
        )
    return ServeSettings(
        db=args.db,
        media_store=args.media_store,
        media_dir=args.media_dir,
        public_url=public_url,
        master_key_file=args.master_key_file,
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        workers=args.workers,
        redis_url=args.redis or None,
        forwarded_allow_ips=args.forwarded_allow_ips,
        ws_compression=args.ws_compression,
        token_warning=warning,
        webhook_allow=webhook_allow,
        push_allow=push_allow,
        push_fcm_url=_push_url(args.push_fcm_url, "--push-fcm-url"),
        push_apns_url=_push_url(args.push_apns_url, "--push-apns-url"),
        push_apns_sandbox_url=_push_url(args.push_apns_sandbox_url, "--push-apns-sandbox-url"),
        push_ca_file=args.push_ca_file or None,
        tokens=token_settings(args),
    )


def _push_url(url: str, flag: str) -> str:
    scheme, _, rest = url.partition("://")
    if scheme != "https" or not rest or any(c in rest for c in "?#\\ "):
        raise CommandError(f"{flag} must be https://HOST[:PORT][/PATH], not {url!r}")
    return url.rstrip("/")


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from hubbub.chat.provision import new_account
    from hubbub.settings import ENVIRONMENT

    settings = serve_settings(args)
    if settings.redis_url:
        from hubbub.realtime.redis_broker import RedisUnavailable, check_url

        try:
            check_url(settings.redis_url)
        except RedisUnavailable as exc:
            raise CommandError(str(exc)) from None
    elif settings.workers > 1:
        sys.stderr.write(
            "hubbub: warning: real-time events do not cross worker processes without --redis\n"
        )
    from hubbub.crypto import SecretBox
    from hubbub.masterkey import state_dir

    store, key = _open_keyed(settings.db, settings.master_key_file, settings.data_dir)
    box = SecretBox(key.material)
    # Workers find the very file checked here, whatever their directory.
    settings = dataclasses.replace(settings, master_key_file=str(key.path))
    try:
        if not store.list_accounts(limit=1).items:
            creds = new_account(store, box)
            # The chat page shows who is online; Twilio's services start with it off.
            service = store.get_service(creds.account_sid, creds.chat_service_sid)
            config = dataclasses.replace(service.config, reachability_enabled=True)
            store.update_service(creds.account_sid, service.sid, config=config)
            where = state_dir(settings.db, settings.data_dir) / CREDENTIALS_FILE
            path = _write_private(where, json.dumps(creds.to_dict(), indent=2))
            out.write(f"hubbub: first start, created an account; credentials are in {path}\n")
        else:
            out.write(f"hubbub: serving the accounts in {_shown(settings.db)}\n")
        if store.backend == "sqlite":
            # One machine serves an SQLite file: nobody is connected before it starts, whatever
            # a crashed run left marked online. (PostgreSQL may be shared with running nodes.)
            store.mark_all_offline()
    finally:
        store.close()  # migrations ran above; each worker opens its own connections
    out.write(
        f"hubbub: listening on http://{settings.host}:{settings.port} "
        f"with {settings.workers} worker(s)\n"
    )
    out.flush()
    # Every worker builds its app from these (see hubbub.settings).
    os.environ[ENVIRONMENT] = settings.to_json()
    from hubbub import supervisor

    supervisor.serve(settings)
    return 0


def _shown(url: str) -> str:
    """A database URL fit for a terminal or a log: without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _write_private(path: Path, text: str) -> Path:
    """Write ``text`` to a new file only the owner can read, replacing ``path`` atomically.

    A fresh file (O_EXCL, never a symlink someone planted) renamed over the old one: an existing
    file's looser mode, or a link, cannot leak the credentials.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path.resolve()


def _account(store: Store, given: str | None) -> str:
    from hubbub.store import NotFound

    if given:
        try:
            return store.get_account(given).sid
        except NotFound:
            raise CommandError(f"no account {given}") from None
    accounts = store.list_accounts(limit=2).items
    if len(accounts) != 1:
        raise CommandError(
            "no account yet: run hubbub init"
            if not accounts
            else "several accounts: pass --account-sid"
        )
    return accounts[0].sid


def cmd_keys_create(args: argparse.Namespace, out: TextIO) -> int:
    from hubbub.chat.provision import new_api_secret

    store, box = _open(args)
    try:
        secret = new_api_secret()
        key = store.create_api_key(
            _account(store, args.account_sid),
            friendly_name=args.name,
            encrypted_secret=box.encrypt(secret),
        )
    finally:
        store.close()
    out.write(f"api_key_sid     {key.sid}\napi_key_secret  {secret}\n")
    return 0


def cmd_keys_list(args: argparse.Namespace, out: TextIO) -> int:
    store, _ = _open(args)
    try:
        account_sid = _account(store, args.account_sid)
        cursor: str | None = None
        while True:
            page = store.list_api_keys(account_sid, limit=100, cursor=cursor)
            for key in page.items:
                state = "revoked" if key.revoked else "active"
                created = key.date_created.strftime("%Y-%m-%dT%H:%M:%SZ")
                out.write(f"{key.sid}  {state:<7}  {created}  {key.friendly_name}\n")
            cursor = page.next_cursor
            if cursor is None:
                break
    finally:
        store.close()
    return 0


def cmd_keys_revoke(args: argparse.Namespace, out: TextIO) -> int:
    from hubbub.store import NotFound

    store, _ = _open(args)
    try:
        account_sid = _account(store, args.account_sid)
        try:
            store.update_api_key(account_sid, args.key_sid, revoked=True)
        except NotFound:
            raise CommandError(f"no API key {args.key_sid} in account {account_sid}") from None
    finally:
        store.close()
    out.write(f"revoked {args.key_sid}\n")
    return 0


def cmd_keys_auth_token(args: argparse.Namespace, out: TextIO) -> int:
    from hubbub.chat.provision import replace_auth_token

    store, box = _open(args)
    try:
        account_sid = _account(store, args.account_sid)
        auth_token = replace_auth_token(store, box, account_sid)
    finally:
        store.close()
    out.write(f"account_sid  {account_sid}\nauth_token   {auth_token}\n")
    out.write("hubbub: the old auth token no longer works; webhooks are signed with this one\n")
    return 0


def cmd_keys_rotate_master(args: argparse.Namespace, out: TextIO) -> int:
    from hubbub.masterkey import rotate

    store, key = _open_keyed(args.db, args.master_key_file, args.data_dir)
    try:
        if args.new_key_file:
            target = Path(os.path.abspath(args.new_key_file))
        elif key.from_variable:
            raise CommandError(
                "the master key comes from $HUBBUB_MASTER_KEY: give --new-key-file PATH, then "
                "set $HUBBUB_MASTER_KEY to what it holds"
            )
        else:
            target = key.path
        try:
            count, kept = rotate(store, key, target)
        except OSError as exc:
            raise CommandError(
                f"cannot write the new master key {target}: {exc.strerror}"
            ) from None
    finally:
        store.close()
    out.write(
        f"re-sealed {count} secret(s) (API key secrets, auth tokens) under a new master key, "
        f"in {target}\n"
    )
    out.write(f"hubbub: the old key is kept in {kept}, for backups taken before\n")
    if target != key.path or key.from_variable:
        out.write(f"hubbub: point --master-key-file (or $HUBBUB_MASTER_KEY) at {target}\n")
    out.write("hubbub: token server sessions signed with the old key have ended\n")
    return 0


def cmd_backup(args: argparse.Namespace, out: TextIO) -> int:
    import sqlite3

    from hubbub.backup import BackupError, backup, sqlite_path
    from hubbub.masterkey import key_path

    target = Path(os.path.abspath(args.path))
    try:
        size = backup(args.db, target)
    except (BackupError, OSError, sqlite3.Error) as exc:
        raise CommandError(_why(exc)) from None
    out.write(f"backed up {sqlite_path(args.db)} to {target} ({size:,} bytes)\n")
    key = key_path(args.db, args.master_key_file, args.data_dir)
    out.write(
        f"hubbub: the master key is not in it: keep a copy of {key} (or $HUBBUB_MASTER_KEY)\n"
    )
    return 0


def cmd_restore(args: argparse.Namespace, out: TextIO) -> int:
    import sqlite3

    from hubbub.backup import BackupError, key_opens, restore
    from hubbub.masterkey import key_path

    try:
        database = restore(Path(args.path), args.db, force=args.force)
    except (BackupError, OSError, sqlite3.Error) as exc:
        raise CommandError(_why(exc)) from None
    out.write(f"restored {os.path.abspath(args.path)} to {database}\n")
    key = key_path(args.db, args.master_key_file, args.data_dir)
    if key_opens(database, key) is False:
        out.write(
            f"hubbub: {key} does not open this backup's sealed secrets: put the key it "
            "was taken with there, or point --master-key-file at it\n"
        )
    elif not key.exists() and not os.environ.get("HUBBUB_MASTER_KEY"):
        out.write(f"hubbub: put the master key this backup was taken with at {key}\n")
    return 0


def _why(exc: BaseException) -> str:
    """One line for a failed backup or restore."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename or 'the file'}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)
