"""Every setting of ``hubbub serve`` in one typed object, each default written once.

The command line (whose defaults may come from the environment) builds ``ServeSettings``
once; ``hubbub serve`` hands it to every worker process whole, as JSON in one environment
variable (``HUBBUB_SETTINGS``), since uvicorn starts workers by importing a factory.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from hubbub import defaults
from hubbub.web.tokenserver.settings import TokenSettings
from hubbub.webhooks.addresses import networks

#: The variable that carries the settings to the workers.
ENVIRONMENT = "HUBBUB_SETTINGS"
#: Token server settings that are not carried: each worker makes its own from the master key.
_NOT_CARRIED = ("passwords", "session_keys")


@dataclass(frozen=True)
class ServeSettings:
    db: str = defaults.DB
    #: ``None``: beside an SQLite database, or in ``data_dir`` (see ``hubbub.masterkey``).
    master_key_file: str | None = None
    #: A PostgreSQL database's own files (master key, first-start credentials); ``None``: the
    #: current directory.
    data_dir: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    #: Redis carrying real-time events between processes; ``None``: one process only.
    redis_url: str | None = None
    #: Where the URLs in answers and pushes point (``https://chat.example.com``); ``None``:
    #: ``http://HOST:PORT`` of the bind address.
    public_url: str | None = None
    #: Proxies trusted to say the client's address and scheme.
    forwarded_allow_ips: str = "127.0.0.1"
    #: permessage-deflate on ``/v1/ws`` (costs ~35 KiB of memory per connection).
    ws_compression: bool = False
    #: Seconds before a token's expiry that sessions are told to renew it.
    token_warning: float = defaults.TOKEN_WARNING
    #: Networks (CIDR) outbound webhooks may reach although the SSRF guard refuses them
    #: (loopback, private…): for development and tests. See ``hubbub.webhooks.addresses``.
    webhook_allow: tuple[str, ...] = ()
    #: The same for Web Push endpoints, which any chat user names (``webhook_allow``, which
    #: the operator's webhooks and credentials' FCM token URIs use, does not apply to them).
    push_allow: tuple[str, ...] = ()
    #: Where uploads' bytes live: ``disk`` (files in ``media_dir``) or ``database``
    #: (PostgreSQL only; see ``hubbub.media.blobs``).
    media_store: str = "disk"
    #: The disk media store's directory; ``None``: ``media`` in the database's state directory.
    media_dir: str | None = None
    #: Where push notifications go: FCM's and APNs' base URLs (tests point them at local
    #: receivers), and a PEM file of CAs to trust besides the system's for them.
    push_fcm_url: str = defaults.PUSH_FCM_URL
    push_apns_url: str = defaults.PUSH_APNS_URL
    push_apns_sandbox_url: str = defaults.PUSH_APNS_SANDBOX_URL
    push_ca_file: str | None = None
    tokens: TokenSettings = field(default_factory=TokenSettings)

    def __post_init__(self) -> None:
        networks(self.webhook_allow)  # a ValueError names the one that is not a network
        networks(self.push_allow)

    @property
    def media_directory(self) -> str:
        """The disk media store's directory: ``media_dir``, else ``media`` beside an SQLite
        database or in the data directory (PostgreSQL)."""
        from hubbub.masterkey import state_dir

        if self.media_dir:
            return os.path.abspath(self.media_dir)
        return str(state_dir(self.db, self.data_dir) / "media")

    @property
    def base_url(self) -> str:
        """The public URL, or else the bind address's."""
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def to_json(self) -> str:
        raw = dataclasses.asdict(self)
        for name in _NOT_CARRIED:
            raw["tokens"].pop(name, None)
        return json.dumps(raw)

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        raw: dict[str, Any] = json.loads(text)
        raw["webhook_allow"] = tuple(raw.get("webhook_allow", ()))
        raw["push_allow"] = tuple(raw.get("push_allow", ()))
        tokens = raw.pop("tokens")
        for name, value in tokens.items():
            if isinstance(value, list):  # JSON has no tuples
                tokens[name] = tuple(value)
        return cls(**raw, tokens=TokenSettings(**tokens))

    @classmethod
    def from_environment(cls) -> ServeSettings:
        """The settings ``hubbub serve`` handed this worker; the defaults without them."""
        text = os.environ.get(ENVIRONMENT)
        return cls() if text is None else cls.from_json(text)
