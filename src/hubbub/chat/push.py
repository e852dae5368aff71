"""Push registration: a user's device (or browser) asks to be told of chat events by push.

Every door (twilsock's ERS requests from Twilio's SDKs, ``/v1/ws``'s ``register_push``, and
through it the Python SDK and the page) calls :func:`register` and :func:`unregister`; they
only read their protocol's parameters. A registration is checked here once: the provider is
known, the address has that provider's shape, the message types are Twilio's, and the push
credential is the account's and of that provider.

Message types are kept as the SDKs name them (``twilio.channel.new_message``; Conversations'
``twilio.conversations.new_message``), which is also what a push carries as
``twi_message_type``; the short names of the REST API (``new_message``) are taken too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from hubbub import sids
from hubbub.chat import users
from hubbub.chat.errors import ApiError, invalid
from hubbub.push import webpush
from hubbub.store import NotFound, Store
from hubbub.store.records import CREDENTIAL, Binding, Credential, CredentialType

BINDING_TYPES: tuple[CredentialType, ...] = ("apn", "fcm", "gcm", "webpush")
CHAT_TYPES = (
    "twilio.channel.new_message",
    "twilio.channel.added_to_channel",
    "twilio.channel.invited_to_channel",
    "twilio.channel.removed_from_channel",
)
#: Every type a binding may take: twilio-chat's (``consumption_update`` is for iOS badges) and
#: Conversations' (which subscribe push channels to typing too; it is taken, and not pushed).
MESSAGE_TYPES = frozenset(
    {
        *CHAT_TYPES,
        "twilio.channel.consumption_update",
        "twilio.ipmsg.typing_indicator",
        "twilio.conversations.new_message",
        "twilio.conversations.added_to_conversation",
        "twilio.conversations.removed_from_conversation",
    }
)
_CHAT_PREFIX = "twilio.channel."
#: A Web Push subscription's JSON is the longest address; a few KiB is far beyond any real one.
MAX_ADDRESS = 4096
MAX_ENDPOINT = 256
NOT_REGISTERED = 20404


def types_of(given: Iterable[object] | None) -> tuple[str, ...]:
    """The types a registration asks for, by their full names, in order, each once; twilio-chat's
    four when none are named."""
    if given is None:
        return CHAT_TYPES
    found: list[str] = []
    for name in given:
        if not isinstance(name, str):
            raise invalid("message_types must be a list of strings")
        full = name if name.startswith("twilio.") else _CHAT_PREFIX + name
        if full not in MESSAGE_TYPES:
            known = ", ".join(sorted(MESSAGE_TYPES))
            raise invalid(f"{name[:80]!r} is not a push message type; known: {known}")
        if full not in found:
            found.append(full)
    if not found:
        raise invalid("message_types is empty: name at least one, or unregister instead")
    return tuple(found)


def kind_of(value: object) -> CredentialType:
    for kind in BINDING_TYPES:
        if value == kind:
            return kind
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
    raise invalid(f"binding_type must be one of {', '.join(BINDING_TYPES)}, not {shown}")


def address_of(kind: CredentialType, value: object) -> str:
    """The provider's address of the device, checked for that provider's shape; a Web Push
    subscription is kept as compact JSON of the fields that matter, so that the same
    subscription is always the same address."""
    if isinstance(value, dict) and kind == "webpush":
        value = json.dumps(value)
    if not isinstance(value, str) or not value:
        raise invalid("address must be a non-empty string")
    if len(value) > MAX_ADDRESS:
        raise invalid(f"address is {len(value)} characters; at most {MAX_ADDRESS} are allowed")
    if kind == "webpush":
        return _subscription(value)
    if kind == "apn":
        # A device token: hex, 32 bytes today (Apple says it may grow).
        if not (16 <= len(value) <= 400 and len(value) % 2 == 0) or not _is_hex(value):
            raise invalid("an apn address must be the device token in hexadecimal")
        return value.lower()
    if not value.isascii() or not value.isprintable() or " " in value:
        raise invalid(f"an {kind} address must be a registration token (printable ASCII)")
    return value


def _is_hex(value: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in value)


def _subscription(text: str) -> str:
    try:
        found = json.loads(text)
    except (ValueError, RecursionError):  # nested too deep for the parser, too
        raise invalid("a webpush address must be a PushSubscription's JSON") from None
    keys = found.get("keys") if isinstance(found, dict) else None
    endpoint = found.get("endpoint") if isinstance(found, dict) else None
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme != "https":
        raise invalid("a webpush subscription needs its https endpoint")
    if not isinstance(keys, dict) or not all(
        isinstance(keys.get(name), str) and keys[name] for name in ("p256dh", "auth")
    ):
        raise invalid("a webpush subscription needs its keys p256dh and auth")
    kept = {"endpoint": endpoint, "keys": {"auth": keys["auth"], "p256dh": keys["p256dh"]}}
    address = json.dumps(kept, separators=(",", ":"), sort_keys=True)
    try:  # the keys as the sender will read them: a P-256 point and a 16-byte secret
        webpush.subscription(address)
    except ValueError as exc:
        raise invalid(f"a webpush subscription's keys are not usable: {exc}") from None
    return address


def credential_for(
    store: Store, account_sid: str, kind: CredentialType, wanted: object
) -> Credential:
    """The credential a registration's pushes go through: the one named (by the token's
    ``push_credential_sid``), else the account's newest of that provider."""
    if wanted is not None:
        if not sids.is_sid(wanted, CREDENTIAL):
            raise invalid("the token's push_credential_sid is not a Credential SID")
        try:
            credential = store.get_credential(account_sid, wanted)
        except NotFound:
            raise invalid(f"the push credential {wanted} is not in this account") from None
        if credential.type != kind:
            raise invalid(
                f"the push credential {wanted} is for {credential.type}, not for {kind} bindings"
            )
        return credential
    newest = newest_credential(store, account_sid, kind)
    if newest is None:
        raise ApiError(
            400,
            20001,
            f"no {kind} push credential in this account: create one (POST /v2/Credentials) "
            "or name one in the token's push_credential_sid",
        )
    return newest


def newest_credential(store: Store, account_sid: str, kind: str) -> Credential | None:
    """The account's newest credential for the provider ``kind``: what a registration naming
    none uses, and what a binding whose credential was deleted (rotated) falls back to."""
    newest: Credential | None = None
    cursor: str | None = None
    while True:
        page = store.list_credentials(account_sid, limit=100, cursor=cursor)
        for candidate in page.items:
            if candidate.type == kind:
                newest = candidate  # listed oldest first
        cursor = page.next_cursor
        if cursor is None:
            return newest


def endpoint_of(identity: str, kind: str, address: str, endpoint_id: object) -> str:
    """The binding's ``endpoint``: the token's ``endpoint_id``, else one derived from the
    user and device, stable across registrations."""
    if isinstance(endpoint_id, str) and 0 < len(endpoint_id) <= MAX_ENDPOINT:
        return endpoint_id
    digest = hashlib.sha256(f"{kind}\x00{address}".encode()).hexdigest()[:16]
    return f"{identity}:{kind}:{digest}"


def register(
    store: Store,
    account_sid: str,
    service_sid: str,
    identity: str,
    *,
    binding_type: object,
    address: object,
    message_types: Sequence[object] | None = None,
    credential_sid: object = None,
    endpoint_id: object = None,
) -> Binding:
    """Register (or re-register) the device at ``address`` for ``identity``: one binding per
    device and provider in a service, so a device that changes hands is told only of its new
    user's events."""
    kind = kind_of(binding_type)
    where = address_of(kind, address)
    types = types_of(message_types)
    credential = credential_for(store, account_sid, kind, credential_sid)
    # The sessions made the user already; a binding must never lack one (REST lists a
    # user's bindings under it).
    users.ensure_user(store, service_sid, identity)
    return store.register_binding(
        account_sid,
        service_sid,
        identity=identity,
        binding_type=kind,
        address=where,
        endpoint=endpoint_of(identity, kind, where, endpoint_id),
        message_types=types,
        credential_sid=credential.sid,
    )


def unregister(
    store: Store,
    service_sid: str,
    identity: str,
    *,
    binding_sid: object = None,
    binding_type: object = None,
    address: object = None,
) -> list[str]:
    """Remove the user's binding named by its SID, or by its provider and address; the SIDs
    removed. Removing what is already gone removes nothing; another user's binding (the
    device changed hands since) is left alone."""
    if binding_sid is not None:
        if not isinstance(binding_sid, str):
            raise invalid("binding_sid must be a string")
        try:
            found = store.get_binding(service_sid, binding_sid)
        except NotFound:
            return []
        if found.identity != identity:
            return []
        return _delete(store, service_sid, [found])
    kind = kind_of(binding_type)
    where = address_of(kind, address)
    return _delete(store, service_sid, _bindings_at(store, service_sid, identity, kind, where))


def _bindings_at(
    store: Store, service_sid: str, identity: str, kind: str, where: str
) -> list[Binding]:
    found: list[Binding] = []
    cursor: str | None = None
    while True:
        page = store.list_bindings(
            service_sid, identities=[identity], binding_types=[kind], limit=100, cursor=cursor
        )
        found += [b for b in page.items if b.address == where]
        cursor = page.next_cursor
        if cursor is None:
            return found


def _delete(store: Store, service_sid: str, found: list[Binding]) -> list[str]:
    removed = []
    for binding in found:
        try:
            store.delete_binding(service_sid, binding.sid)
        except NotFound:
            continue  # removed meanwhile
        removed.append(binding.sid)
    return removed


def describe(binding: Binding) -> dict[str, Any]:
    """A binding as the doors answer a registration with."""
    return {
        "binding_sid": binding.sid,
        "binding_type": binding.binding_type,
        "credential_sid": binding.credential_sid,
        "message_types": list(binding.message_types),
    }
