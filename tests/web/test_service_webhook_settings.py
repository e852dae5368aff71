"""A service's webhook settings: each bad value refused with Twilio's code, nothing kept."""

from __future__ import annotations

from typing import Any

import pytest
from twilio.rest import Client

from hubbub.chat.provision import Credentials
from tests.web.server import twilio_client
from tests.web.test_channel_webhooks import refused
from tests.web.test_twilio_client import raw_request


@pytest.fixture
def service(base_url: str, creds: Credentials) -> Any:
    client: Client = twilio_client(base_url, creds.account_sid, creds.auth_token)
    return client.chat.v2.services(creds.chat_service_sid)


def test_good_settings_are_kept(service: Any, base_url: str, creds: Credentials) -> None:
    updated = service.update(
        pre_webhook_url="https://example.com/pre",
        post_webhook_url="http://10.0.0.5:8080/post?app=chat",
        webhook_method="GET",
        webhook_filters=["onMessageSend", "onMessageSent", "onUserUpdated", "onMessageSent"],
        pre_webhook_retry_count=3,
        post_webhook_retry_count=0,
    )

    assert updated.pre_webhook_url == "https://example.com/pre"
    assert updated.post_webhook_url == "http://10.0.0.5:8080/post?app=chat"
    assert updated.webhook_method == "GET"
    assert updated.webhook_filters == ["onMessageSend", "onMessageSent", "onUserUpdated"]
    assert (updated.pre_webhook_retry_count, updated.post_webhook_retry_count) == (3, 0)
    # Empty values turn the webhooks off and clear the filters.
    path = f"/v2/Services/{creds.chat_service_sid}"
    status, body = raw_request(base_url, creds, path, b"PreWebhookUrl=&WebhookFilters=")
    assert status == 200
    assert (body["pre_webhook_url"], body["webhook_filters"]) == (None, [])
    assert body["post_webhook_url"] == "http://10.0.0.5:8080/post?app=chat"


def test_bad_settings_have_twilio_codes(service: Any) -> None:
    service.update(pre_webhook_url="https://example.com/pre", webhook_filters=["onMessageSent"])
    before = service.fetch()

    for url in ("example.com/pre", "ftp://example.com/", "https://", "http://x y/"):
        refused(lambda url=url: service.update(pre_webhook_url=url), 50077)
        refused(lambda url=url: service.update(post_webhook_url=url), 50078)
    refused(lambda: service.update(pre_webhook_url="https://e.com/" + "x" * 2048), 50077)
    refused(lambda: service.update(webhook_method="PUT"), 50055)
    for count in (-1, 4):
        refused(lambda count=count: service.update(pre_webhook_retry_count=count), 50065)
        refused(lambda count=count: service.update(post_webhook_retry_count=count), 50065)
    message = refused(
        lambda: service.update(webhook_filters=["onMessageSent", "onMessageSentt"]), 50054
    )
    assert "onMessageSentt" in message
    # A bad value anywhere keeps the good ones beside it from being written.
    refused(lambda: service.update(friendly_name="renamed", post_webhook_url="nope"), 50078)

    after = service.fetch()
    assert after.friendly_name == before.friendly_name
    assert (after.pre_webhook_url, after.post_webhook_url) == ("https://example.com/pre", None)
    assert (after.webhook_method, after.webhook_filters) == ("POST", ["onMessageSent"])
