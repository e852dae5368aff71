"""Where the master key lives, whether it opens the database, and how it is replaced.

The master key belongs to one database: the API key secrets and auth tokens in it are sealed
with it. So it is found from the database, not from the current directory: beside an SQLite file
(``/srv/chat/hub.db`` → ``/srv/chat/hubbub-master.key``), in the data directory for PostgreSQL
(``--data-dir``, ``$HUBBUB_DATA_DIR``, else the current directory), unless
``--master-key-file`` or ``$HUBBUB_MASTER_KEY`` (the key itself) say otherwise. A new key is made
only for a database that has nothing sealed yet, and a key that cannot open what is sealed is
refused when a command starts, not found out by a 500 on every request.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from hubbub import defaults
from hubbub.crypto import DecryptionError, SecretBox, generate_key, load_master_key

if TYPE_CHECKING:
    from hubbub.store import Store

#: The key file's name, in the database's directory or the data directory.
KEY_FILE_NAME = defaults.MASTER_KEY_FILE
#: The variable holding the key itself (newest first when several), which wins over any file.
KEY_VARIABLE = "HUBBUB_MASTER_KEY"
#: The variable naming the data directory (PostgreSQL's key file, first-start credentials).
DATA_DIR_VARIABLE = "HUBBUB_DATA_DIR"


class MasterKeyError(Exception):
    """The master key cannot serve this database; the message says what to point where."""


@dataclass(frozen=True)
class MasterKey:
    """The key material (one key, or several newest first) and where it came from."""

    material: str
    #: The key file; also where a rotated key goes unless told otherwise.
    path: Path
    #: ``True`` when the key came from ``$HUBBUB_MASTER_KEY`` rather than ``path``.
    from_variable: bool

    @property
    def source(self) -> str:
        return f"${KEY_VARIABLE}" if self.from_variable else str(self.path)

    def keys(self) -> list[str]:
        return self.material.replace(",", " ").split()


def state_dir(db_url: str, data_dir: str | None = None) -> Path:
    """The directory of the database's own files: an SQLite file's directory, or the data
    directory (``data_dir``, else ``$HUBBUB_DATA_DIR``, else the current one)."""
    url = make_url(db_url)
    if url.drivername.partition("+")[0] == "sqlite" and url.database:
        return Path(os.path.abspath(url.database)).parent
    return Path(os.path.abspath(data_dir or os.environ.get(DATA_DIR_VARIABLE) or "."))


def key_path(db_url: str, key_file: str | None = None, data_dir: str | None = None) -> Path:
    """The master key file for the database at ``db_url``: ``key_file`` when given, else
    :data:`KEY_FILE_NAME` in :func:`state_dir`."""
    if key_file:
        return Path(os.path.abspath(key_file))
    return state_dir(db_url, data_dir) / KEY_FILE_NAME


def open_master_key(store: Store, path: Path) -> MasterKey:
    """The master key for ``store``, checked to open one of its sealed secrets.

    From ``$HUBBUB_MASTER_KEY`` when set, else from ``path``; ``path`` is created with a new key
    only when the database has nothing sealed yet. Raises :class:`MasterKeyError` (and
    ``crypto.InvalidKey`` for a file that holds no key) in one line.
    """
    variable = os.environ.get(KEY_VARIABLE, "").strip()
    if not variable and not path.exists() and store.sealed_secret() is not None:
        raise MasterKeyError(
            f"no master key at {path}, but this database's secrets are sealed: point "
            f"--master-key-file (or ${KEY_VARIABLE}) at the key that `hubbub init` made for it"
        )
    key = MasterKey(load_master_key(path), path, from_variable=bool(variable))
    check(store, key)
    return key


def check(store: Store, key: MasterKey) -> None:
    """Refuse ``key`` unless it opens the database's sealed secrets (trying one of them)."""
    sealed = store.sealed_secret()
    if sealed is None:
        return
    try:
        SecretBox(key.material).decrypt(sealed)
    except DecryptionError:
        fix = (
            f"set ${KEY_VARIABLE} to the key that sealed them"
            if key.from_variable
            else f"point --master-key-file (or ${KEY_VARIABLE}) at the key that sealed them"
        )
        raise MasterKeyError(
            f"the master key in {key.source} cannot open this database's sealed secrets: {fix}"
        ) from None


def rotate(store: Store, key: MasterKey, target: Path) -> tuple[int, Path]:
    """Re-seal every sealed secret under a new key written to ``target``; how many were, and
    the file that keeps the old keys.

    The order keeps a key that opens the database on disk at every moment: first ``target``
    holds the new key *and* the old ones (newest first, so either state of the database opens),
    then one transaction re-seals everything, then ``target`` keeps the new key alone. Stopped
    anywhere, the file still opens the database; running the rotation again finishes it. The
    old keys are kept beside it (``<target>.old-<UTC time>``, 0600): backups taken before, and
    any other database that shared the file, still need them.
    """
    new = generate_key()
    old = key.keys()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = target.with_name(f"{target.name}.old-{stamp}")
    write_key_file(kept, old)
    write_key_file(target, [new, *old])
    box = SecretBox([new, *old])
    count = store.reseal_secrets(box.rotate)
    write_key_file(target, [new])
    return count, kept


def write_key_file(path: Path, keys: list[str]) -> None:
    """Replace ``path`` with ``keys`` (newest first), atomically and durably, mode 0600.

    Written in full to a fresh private file beside it, flushed to disk, then renamed over it:
    a crash leaves the old file or the new one, never a half-written or readable one.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask left
            os.write(fd, ("\n".join(keys) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
