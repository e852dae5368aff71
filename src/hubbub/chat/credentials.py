"""Push credentials from Twilio's parameters: what is secret (sealed with the master key) and
what is not (kept as settings), checked before anything is stored.

The sealed JSON is what the push senders (``hubbub.push``) read after opening it:

- ``fcm``: ``{"service_account": {...}}``, the Firebase service account (FCM HTTP v1);
- ``apn``: ``{"private_key": PEM}``, with ``"certificate": PEM`` for certificate-based
  credentials; settings ``{"key_id", "team_id", "topic"}`` (those a certificate names itself
  may be left out);
- ``webpush``: ``{"private_key": PEM}`` (P-256); settings ``{"public_key", "subject"}``;
- ``gcm``: ``{"api_key": ...}``: kept as Twilio kept it, though Google retired GCM and nothing
  is sent through it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hubbub.chat.errors import invalid
from hubbub.crypto import SecretBox
from hubbub.push.keys import check_credential, ec_p256_key, new_vapid_key, vapid_public_key
from hubbub.store import Store
from hubbub.store.records import Credential, CredentialType, Unset

TYPES: tuple[CredentialType, ...] = ("apn", "fcm", "gcm", "webpush")


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """The key parameters of a create or update request; ``None`` for those not given."""

    certificate: str | None = None
    private_key: str | None = None
    api_key: str | None = None
    secret: str | None = None
    key_id: str | None = None
    team_id: str | None = None
    topic: str | None = None
    subject: str | None = None


def create(
    store: Store,
    box: SecretBox,
    account_sid: str,
    kind: CredentialType,
    material: KeyMaterial,
    *,
    friendly_name: str | None = None,
    sandbox: bool = False,
) -> Credential:
    """A new credential of the account, refused (400) when its key material could not send."""
    settings, secrets = _merge(kind, material, {}, {})
    return store.create_credential(
        account_sid,
        type=kind,
        sealed=box.encrypt(_json(secrets)),
        friendly_name=friendly_name,
        sandbox=sandbox,
        settings=settings,
    )


def update(
    store: Store,
    box: SecretBox,
    account_sid: str,
    sid: str,
    material: KeyMaterial,
    *,
    friendly_name: str | Unset | None,
    sandbox: bool | Unset,
) -> Credential:
    """Change a credential: what is given replaces what was; the rest is kept."""
    found = store.get_credential(account_sid, sid)
    if material == KeyMaterial():
        return store.update_credential(
            account_sid, sid, friendly_name=friendly_name, sandbox=sandbox
        )
    secrets = json.loads(box.decrypt(found.sealed))
    settings, secrets = _merge(found.type, material, dict(found.settings), secrets)
    return store.update_credential(
        account_sid,
        sid,
        friendly_name=friendly_name,
        sandbox=sandbox,
        settings=settings,
        sealed=box.encrypt(_json(secrets)),
    )


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _merge(
    kind: CredentialType,
    given: KeyMaterial,
    settings: dict[str, Any],
    secrets: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings and secrets once ``given`` is laid over the old ones, checked."""
    _refuse_others(kind, given)
    if kind == "fcm":
        if given.secret is not None:
            secrets = {"service_account": _service_account(given.secret)}
        elif not secrets:
            raise invalid(
                "Secret is required for an fcm credential: the Firebase service account's JSON"
            )
    elif kind == "gcm":
        if given.api_key is not None:
            secrets = {"api_key": given.api_key}
    elif kind == "apn":
        settings, secrets = _apn(given, settings, secrets)
    else:
        settings, secrets = _webpush(given, settings, secrets)
    _check(kind, settings, secrets)
    return settings, secrets


def _check(kind: CredentialType, settings: dict[str, Any], secrets: dict[str, Any]) -> None:
    """The one place the key material is checked (by the senders' own rules)."""
    try:
        check_credential(kind, settings, secrets)
    except ValueError as exc:
        # The reason names what is wrong, never the material itself.
        raise invalid(f"The {kind} credential cannot be used: {exc}") from None


_ACCEPTS = {
    "fcm": {"secret"},
    "gcm": {"api_key"},
    "apn": {"certificate", "private_key", "key_id", "team_id", "topic"},
    "webpush": {"private_key", "subject"},
}
_PARAMS = {
    "certificate": "Certificate",
    "private_key": "PrivateKey",
    "api_key": "ApiKey",
    "secret": "Secret",
    "key_id": "KeyId",
    "team_id": "TeamId",
    "topic": "Topic",
    "subject": "Subject",
}


def _refuse_others(kind: CredentialType, given: KeyMaterial) -> None:
    for name, param in _PARAMS.items():
        if getattr(given, name) is not None and name not in _ACCEPTS[kind]:
            raise invalid(f"{param} is not a parameter of {kind} credentials")


def _service_account(secret: str) -> dict[str, Any]:
    try:
        found = json.loads(secret)
    except (ValueError, RecursionError):  # nested too deep for the parser, too
        found = None
    if not isinstance(found, dict):
        raise invalid(
            "Secret must be the Firebase service account's JSON (a private key file from the "
            "Firebase console, for FCM's HTTP v1 API); FCM's legacy server keys no longer work"
        )
    return found


def _apn(
    given: KeyMaterial, settings: dict[str, Any], secrets: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    if given.certificate is not None:
        # Certificate-based, as Twilio took them: the certificate and its private key.
        if given.private_key is None:
            raise invalid("PrivateKey (the certificate's) is required with a Certificate")
        secrets = {"certificate": given.certificate, "private_key": given.private_key}
        settings = {k: v for k, v in settings.items() if k == "topic"}
    elif given.private_key is not None:
        # Token-based (a .p8 key): Apple's key id and team, and the app's bundle id.
        secrets = {"private_key": given.private_key}
        if given.key_id is None and "key_id" not in settings:
            raise invalid(
                "KeyId, TeamId and Topic are required with a token-based (.p8) PrivateKey; "
                "for a certificate, give Certificate too"
            )
    elif not secrets:
        raise invalid("PrivateKey is required for an apn credential (and Certificate, or KeyId)")
    for name in ("key_id", "team_id", "topic"):
        value = getattr(given, name)
        if value is not None:
            settings[name] = value
    return settings, secrets


def _webpush(
    given: KeyMaterial, settings: dict[str, Any], secrets: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    if given.private_key is not None:
        try:
            public = vapid_public_key(ec_p256_key(given.private_key))
        except ValueError as exc:
            raise invalid(f"The webpush credential cannot be used: {exc}") from None
        secrets = {"private_key": given.private_key}
        settings["public_key"] = public
    elif not secrets:
        pem, public = new_vapid_key()
        secrets = {"private_key": pem}
        settings["public_key"] = public
    if given.subject is not None:
        settings["subject"] = given.subject
    elif "subject" not in settings:
        raise invalid(
            "Subject is required for a webpush credential: a mailto: or https: URL at which "
            "push services can reach whoever runs this server"
        )
    return settings, secrets
