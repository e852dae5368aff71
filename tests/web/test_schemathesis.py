"""Schemathesis against Twilio's own OpenAPI description of chat v2: no 5xx, schema-true bodies.

Path parameters are swapped for real SIDs of seeded resources (except on DELETE, which would
empty the fixture for the operations after it), so that most cases reach a handler rather
than a 404; bodies and queries are whatever the description allows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from hubbub.chat.provision import new_account
from hubbub.crypto import SecretBox
from hubbub.store import open_store
from hubbub.web.app import create_app
from tests.web.server import running

# Twilio's own description (Apache-2.0), vendored: see openapi/README.md for where it came from.
SPEC = Path(__file__).resolve().parent / "openapi" / "twilio_chat_v2.json"
schema = schemathesis.openapi.from_path(SPEC)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'hubbub.db'}"
    else:
        url = request.getfixturevalue("postgres").new()
    store = open_store(url)
    box = SecretBox(Fernet.generate_key())
    creds = new_account(store, box)
    service = creds.chat_service_sid
    channel = store.create_channel(service, unique_name="seed")
    member = store.create_member(service, channel.sid, "seed-user")
    user = store.get_user(service, "seed-user")
    message = store.create_message(service, channel.sid, body="seed", from_="seed-user")
    invite = store.create_invite(service, channel.sid, "seed-guest")
    webhook = store.create_channel_webhook(
        service,
        channel.sid,
        type="webhook",
        url="https://example.com/hook",
        method="POST",
        filters=["onMessageSent"],
    )
    role = store.list_roles(service, limit=1).items[0]
    sids = {
        "ServiceSid": service,
        "ChannelSid": channel.sid,
        "UserSid": user.sid,
        ("Services", "Sid"): service,
        ("Channels", "Sid"): channel.sid,
        ("Members", "Sid"): member.sid,
        ("Messages", "Sid"): message.sid,
        ("Invites", "Sid"): invite.sid,
        ("Webhooks", "Sid"): webhook.sid,
        ("Roles", "Sid"): role.sid,
        ("Users", "Sid"): user.sid,
    }
    with running(create_app(store, box)) as url:
        yield {"url": url, "auth": (creds.account_sid, creds.auth_token), "sids": sids}
    store.close()


def _real_sids(case: Any, sids: dict[Any, str]) -> None:
    if case.method.upper() == "DELETE" or not case.path_parameters:
        return
    parts = case.path.strip("/").split("/")
    for name in list(case.path_parameters):
        if name in sids:
            case.path_parameters[name] = sids[name]
        elif name == "Sid":
            collection = parts[parts.index("{Sid}") - 1]
            if (collection, "Sid") in sids:
                case.path_parameters[name] = sids[(collection, "Sid")]


# A fixed seed keeps CI repeatable; HUBBUB_FUZZ_EXAMPLES=500 explores afresh, and longer.
FUZZ_EXAMPLES = os.environ.get("HUBBUB_FUZZ_EXAMPLES")


@schema.parametrize()
@settings(
    max_examples=int(FUZZ_EXAMPLES or 20),
    derandomize=FUZZ_EXAMPLES is None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_within_the_description(case: Any, seeded: dict[str, Any]) -> None:
    _real_sids(case, seeded["sids"])
    response = case.call(base_url=seeded["url"], auth=seeded["auth"])
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
