"""Channel webhooks through the official twilio-python client, and every check they make."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from hubbub.chat.provision import Credentials, new_account
from tests.web.server import twilio_client
from tests.web.test_twilio_client import raw_request

HOOK = "https://example.com/hook"


@pytest.fixture
def client(base_url: str, creds: Credentials) -> Client:
    return twilio_client(base_url, creds.account_sid, creds.auth_token)


@pytest.fixture
def chat(client: Client, creds: Credentials) -> Any:
    return client.chat.v2.services(creds.chat_service_sid)


def refused(call: Callable[[], Any], code: int, status: int = 400) -> str:
    """``call`` fails with this status and Twilio code; the error's message."""
    with pytest.raises(TwilioException) as caught:
        call()
    error = caught.value
    if isinstance(error, TwilioRestException):
        found = (error.status, error.code, error.msg)
    else:  # lists report a failed page as ("Unable to fetch page", response)
        body = json.loads(error.args[1].text)
        found = (body["status"], body["code"], body["message"])
    assert found[:2] == (status, code), found[2]
    return str(found[2])


def webhook(hooks: Any, **given: Any) -> Any:
    """Create a webhook of type webhook on ``hooks``, with ``given`` instead of the defaults."""
    values: dict[str, Any] = {"type": "webhook", "configuration_url": HOOK}
    values["configuration_filters"] = ["onMessageSent"]
    return hooks.create(**{**values, **given})


def test_webhook_crud(chat: Any, creds: Credentials) -> None:
    channel = chat.channels.create(unique_name="ops")
    hooks = chat.channels("ops").webhooks

    created = hooks.create(
        type="webhook",
        configuration_url=HOOK,
        configuration_method="GET",
        configuration_filters=["onMessageSent", "onMemberAdded"],
        configuration_retry_count=1,
    )

    assert created.sid.startswith("WH")
    assert len(created.sid) == 34
    assert (created.account_sid, created.service_sid) == (creds.account_sid, creds.chat_service_sid)
    assert (created.channel_sid, created.type) == (channel.sid, "webhook")
    assert created.url.endswith(
        f"/v2/Services/{creds.chat_service_sid}/Channels/{channel.sid}/Webhooks/{created.sid}"
    )
    assert created.configuration == {
        "url": HOOK,
        "method": "GET",
        "filters": ["onMessageSent", "onMemberAdded"],
        "retry_count": 1,
    }
    assert isinstance(created.date_created, datetime)  # the client parsed our date format
    by_sid = chat.channels(channel.sid).webhooks(created.sid).fetch()
    assert (by_sid.sid, by_sid.configuration) == (created.sid, created.configuration)

    # An update changes what it names and keeps the rest.
    moved = hooks(created.sid).update(configuration_url="http://example.org/moved")
    assert moved.configuration == {**created.configuration, "url": "http://example.org/moved"}
    refiltered = hooks(created.sid).update(
        configuration_filters=["onChannelDestroyed"], configuration_retry_count=3
    )
    assert refiltered.configuration == {
        "url": "http://example.org/moved",
        "method": "GET",
        "filters": ["onChannelDestroyed"],
        "retry_count": 3,
    }
    assert hooks(created.sid).fetch().configuration == refiltered.configuration

    assert hooks(created.sid).delete() is True
    refused(lambda: hooks(created.sid).fetch(), 20404, 404)
    refused(lambda: hooks(created.sid).update(configuration_retry_count=0), 20404, 404)
    refused(lambda: hooks(created.sid).delete(), 20404, 404)
    assert hooks.list() == []


def test_trigger_webhooks_and_paging(chat: Any) -> None:
    chat.channels.create(unique_name="desk")
    hooks = chat.channels("desk").webhooks

    trigger = hooks.create(
        type="trigger", configuration_url=HOOK, configuration_triggers=["help", "sos", "help"]
    )
    plain = webhook(hooks)

    # POST and no retries by default; a repeated word counts once.
    assert trigger.type == "trigger"
    assert trigger.configuration == {
        "url": HOOK,
        "method": "POST",
        "filters": [],
        "triggers": ["help", "sos"],
        "retry_count": 0,
    }
    changed = hooks(trigger.sid).update(configuration_triggers=["urgent"])
    assert changed.configuration["triggers"] == ["urgent"]
    # One per page: the client follows next_page_url to the end.
    listed = [hook.sid for hook in hooks.list(page_size=1)]
    assert sorted(listed) == sorted([trigger.sid, plain.sid])


def test_every_check_has_its_code(chat: Any, base_url: str, creds: Credentials) -> None:
    chat.channels.create(unique_name="checked")
    hooks = chat.channels("checked").webhooks
    path = f"/v2/Services/{creds.chat_service_sid}/Channels/checked/Webhooks"

    # Type: required, and only webhook and trigger are served.
    status, body = raw_request(base_url, creds, path, f"Configuration.Url={HOOK}".encode())
    assert (status, body["code"], body["status"]) == (400, 50328, 400)
    assert body["more_info"] == "https://www.twilio.com/docs/errors/50328"
    refused(lambda: webhook(hooks, type="galaxy"), 50324)
    studio = refused(
        lambda: hooks.create(type="studio", configuration_flow_sid="FW" + "0" * 32), 50324
    )
    assert "Studio" in studio
    # The URL: required, absolute http(s), at most 2048 characters.
    refused(lambda: webhook(hooks, configuration_url=None), 50329)
    for bad in (
        "example.com/hook",
        "ftp://example.com/",
        "https://",
        "http://a b/",
        "http://h:99999",
    ):
        refused(lambda bad=bad: webhook(hooks, configuration_url=bad), 50054)
    refused(lambda: webhook(hooks, configuration_url=HOOK + "?" + "x" * 2048), 50332)
    # Method, retries.
    refused(lambda: webhook(hooks, configuration_method="PUT"), 50055)
    refused(lambda: webhook(hooks, configuration_method="post"), 50055)
    refused(lambda: webhook(hooks, configuration_retry_count=4), 50065)
    refused(lambda: webhook(hooks, configuration_retry_count=-1), 50065)
    status, body = raw_request(
        base_url,
        creds,
        path,
        f"Type=webhook&Configuration.Url={HOOK}&Configuration.Filters=onMessageSent"
        "&Configuration.RetryCount=two".encode(),
    )
    assert (status, body["code"]) == (400, 50065)
    # Filters: post-events of a channel only, at least one, for webhooks only.
    refused(lambda: webhook(hooks, configuration_filters=None), 50330)
    pre = refused(lambda: webhook(hooks, configuration_filters=["onMessageSend"]), 50325)
    assert "pre-event" in pre
    assert "onMessageSent" in pre  # names the allowed ones
    refused(lambda: webhook(hooks, configuration_filters=["onChannelAdded"]), 50325)
    refused(lambda: webhook(hooks, configuration_filters=["onUserUpdated"]), 50325)
    refused(lambda: webhook(hooks, configuration_filters=["onMessageSent", "bogus"]), 50325)
    refused(lambda: webhook(hooks, configuration_triggers=["help"]), 50326)
    # Triggers: one to five words, for triggers only.
    trigger: dict[str, Any] = {"type": "trigger", "configuration_url": HOOK}
    refused(lambda: hooks.create(**trigger), 50331)
    words = ["a", "b", "c", "d", "e", "f"]
    refused(lambda: hooks.create(**trigger, configuration_triggers=words), 50322)
    refused(lambda: hooks.create(**trigger, configuration_triggers=["ok", " "]), 50326)
    refused(lambda: hooks.create(**trigger, configuration_triggers=["x" * 257]), 50326)
    refused(
        lambda: hooks.create(
            **trigger, configuration_triggers=["ok"], configuration_filters=["onMessageSent"]
        ),
        50325,
    )
    # A flow SID belongs to studio webhooks, which are not served.
    refused(lambda: webhook(hooks, configuration_flow_sid="FW" + "0" * 32), 50327)
    assert hooks.list() == []  # nothing refused was kept

    # Updates check the same, and the type stays.
    made = webhook(hooks)
    refused(lambda: hooks(made.sid).update(configuration_url="nope"), 50054)
    refused(lambda: hooks(made.sid).update(configuration_filters=["onMemberAdd"]), 50325)
    refused(lambda: hooks(made.sid).update(configuration_triggers=["help"]), 50326)
    refused(lambda: hooks(made.sid).update(configuration_retry_count=9), 50065)
    status, body = raw_request(base_url, creds, f"{path}/{made.sid}", b"Type=trigger")
    assert (status, body["code"]) == (400, 50324)
    status, body = raw_request(base_url, creds, f"{path}/{made.sid}", b"Type=webhook")
    assert status == 200
    assert hooks(made.sid).fetch().configuration == made.configuration


def test_a_sixth_webhook_is_refused(chat: Any) -> None:
    chat.channels.create(unique_name="full")
    chat.channels.create(unique_name="other")
    hooks = chat.channels("full").webhooks
    made = [webhook(hooks) for _ in range(5)]

    message = refused(lambda: webhook(hooks), 50321)

    assert "5" in message
    webhook(chat.channels("other").webhooks)  # each channel has its own five
    hooks(made[0].sid).delete()
    webhook(hooks)
    assert len(hooks.list()) == 5


def test_other_services_and_accounts_see_nothing(
    base_url: str, client: Client, chat: Any, creds: Credentials, store: Any, box: Any
) -> None:
    ours = chat.channels.create(unique_name="ours")
    hook = webhook(chat.channels("ours").webhooks)
    second = client.chat.v2.services.create(friendly_name="second")
    theirs = client.chat.v2.services(second.sid)
    their_channel = theirs.channels.create(unique_name="ours")
    their_hook = webhook(theirs.channels("ours").webhooks)

    # Their service's channel, and its webhook, are not under ours.
    refused(lambda: chat.channels(their_channel.sid).webhooks.list(), 20404, 404)
    refused(lambda: webhook(chat.channels(their_channel.sid).webhooks), 20404, 404)
    refused(lambda: chat.channels(their_channel.sid).webhooks(their_hook.sid).fetch(), 20404, 404)
    refused(lambda: chat.channels("ours").webhooks(their_hook.sid).fetch(), 20404, 404)
    refused(lambda: theirs.channels(ours.sid).webhooks(hook.sid).delete(), 20404, 404)
    # The same unique name names each service's own channel.
    assert [h.sid for h in chat.channels("ours").webhooks.list()] == [hook.sid]
    assert [h.sid for h in theirs.channels("ours").webhooks.list()] == [their_hook.sid]
    # Another account sees none of it.
    other = new_account(store, box, name="other")
    stranger = twilio_client(base_url, other.account_sid, other.auth_token)
    mine = stranger.chat.v2.services(creds.chat_service_sid)
    refused(lambda: mine.channels("ours").webhooks.list(), 20404, 404)
    refused(lambda: mine.channels("ours").webhooks(hook.sid).fetch(), 20404, 404)
    refused(lambda: webhook(mine.channels("ours").webhooks), 20404, 404)


def test_deleting_the_channel_deletes_its_webhooks(chat: Any) -> None:
    chat.channels.create(unique_name="doomed")
    hook = webhook(chat.channels("doomed").webhooks)

    assert chat.channels("doomed").delete() is True

    refused(lambda: chat.channels("doomed").webhooks.list(), 20404, 404)
    again = chat.channels.create(unique_name="doomed")
    assert chat.channels("doomed").webhooks.list() == []
    refused(lambda: chat.channels(again.sid).webhooks(hook.sid).fetch(), 20404, 404)
