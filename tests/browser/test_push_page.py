"""The chat page's browser notifications, in real headless Chromium against a real hubbub.

What cannot happen here: Chromium reaching a real push service (it has none in a container,
and these tests keep it off the network), so ``pushManager.subscribe`` is refused and the page
must say so. What does happen for real: the button is offered only when the account has a
webpush credential; the service worker registers; a push delivered to it (through the DevTools
protocol, as a push service would hand it over once decrypted) becomes a notification with
the payload's title and body; and a subscription registered over ``/v1/ws`` by the page's own
client is the user's webpush binding over REST, removed again when they sign out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ChatServer, Shots, Wire
from tests.browser.test_chat_page import People, sign_in
from tests.push_material import subscription

WORKER = "/static/push-worker.js"


@pytest.fixture
def visitors(browser: Browser, chat_server: ChatServer) -> Iterator[People]:
    """Browser profiles, as test_chat_page's ``people``: page errors and CSP violations fail."""
    found = People(browser, chat_server)
    yield found
    for context in found.contexts:
        context.close()
    assert found.errors == []


def _bindings(server: ChatServer, identity: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = server.rest("GET", f"/Bindings?Identity={identity}")["bindings"]
    return found


def _webpush_credential(server: ChatServer) -> str:
    auth = (server.creds.account_sid, server.creds.auth_token)
    response = server.http.post(
        f"{server.base_url}/v2/Credentials",
        data={"Type": "webpush", "Subject": "mailto:ops@example.com"},
        auth=auth,
    )
    response.raise_for_status()
    key: str = response.json()["public_key"]
    return key


def _signed_in(people: People, name: str, wire: Wire | None = None) -> Page:
    page = people.open()
    if wire is not None:
        wire.watch(page)
    page.context.grant_permissions(["notifications"], origin=people.server.base_url)
    page.goto("/")
    sign_in(page, name)
    expect(page.locator("#me")).to_have_text(name)
    return page


def test_notifications_are_offered_only_with_a_webpush_credential(
    visitors: People, chat_server: ChatServer, shots: Shots
) -> None:
    wire = Wire()
    page = _signed_in(visitors, "nina", wire)
    # The page asked, and was told there is no key: no button.
    deadline = time.monotonic() + 10
    while not (asked := wire.sent_of("get_webpush_key")) or wire.reply_to(asked[0]) is None:
        assert time.monotonic() < deadline, wire.sent
        page.wait_for_timeout(20)
    assert wire.reply_to(asked[0])["result"]["public_key"] is None  # type: ignore[index]
    expect(page.get_by_role("button", name="Enable notifications")).to_be_hidden()
    shots(page, "no-credential")

    _webpush_credential(chat_server)
    page = _signed_in(visitors, "omar")
    expect(notify := page.get_by_role("button", name="Enable notifications")).to_be_visible()
    shots(page, "offered")
    notify.click()
    # Chromium without a push service (and in a private profile, as here) refuses to subscribe;
    # the page says so, and nothing is registered.
    expect(page.locator("#notify-status")).to_contain_text("could not be turned on")
    shots(page, "subscribe-refused")
    assert _bindings(chat_server, "omar") == []
    # The service worker did register, for the page's pushes.
    registered = page.evaluate(
        """async (worker) => {
            const registration = await navigator.serviceWorker.getRegistration(worker);
            return registration?.active?.scriptURL ?? null;
        }""",
        WORKER,
    )
    assert registered == f"{chat_server.base_url}{WORKER}"


def test_the_service_worker_shows_a_push_as_a_notification(
    visitors: People, chat_server: ChatServer
) -> None:
    page = _signed_in(visitors, "rosa")
    page.evaluate("async (worker) => { await navigator.serviceWorker.register(worker); }", WORKER)
    cdp = page.context.new_cdp_session(page)
    found: list[str] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: found.extend(
            r["registrationId"]
            for r in event["registrations"]
            if r["scopeURL"].endswith("/static/") and not r["isDeleted"]
        ),
    )
    cdp.send("ServiceWorker.enable")
    page.wait_for_function(
        """async (worker) => !!(await navigator.serviceWorker.getRegistration(worker))?.active""",
        arg=WORKER,
    )
    assert found
    payload = {
        "twi_message_type": "twilio.channel.new_message",
        "title": "general",
        "body": "kate: lunch?",
        "channel_sid": "CH" + "0" * 32,
    }
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": chat_server.base_url, "registrationId": found[-1], "data": json.dumps(payload)},
    )
    shown = page.wait_for_function(
        """async (worker) => {
            const registration = await navigator.serviceWorker.getRegistration(worker);
            const shown = await registration.getNotifications();
            return shown.length ? shown.map((n) => [n.title, n.body, n.tag]) : null;
        }""",
        arg=WORKER,
    ).json_value()
    assert shown == [["general", "kate: lunch?", payload["channel_sid"]]]


def test_the_pages_client_registers_a_subscription_over_the_socket(
    visitors: People, chat_server: ChatServer
) -> None:
    """What the button sends once a browser has a subscription, sent by the page's own client
    (hubbub-client.js) with a subscription's JSON, as PushSubscription.toJSON() gives it."""
    page = _signed_in(visitors, "tina")
    browser_subscription = subscription(3)
    sid = page.evaluate(
        """async (address) => {
            const { ChatClient } = await import("/static/hubbub-client.js");
            const answer = await fetch("/token", { method: "POST" });
            const client = await ChatClient.create((await answer.json()).token);
            try {
              if (!(await client.getWebPushKey())) throw new Error("no key");
              return await client.setPushRegistrationId("webpush", address);
            } finally {
              await client.shutdown();
            }
        }""",
        browser_subscription,
    )
    [binding] = _bindings(chat_server, "tina")
    assert (binding["sid"], binding["binding_type"]) == (sid, "webpush")
    assert binding["message_types"] == [
        "new_message",
        "added_to_channel",
        "invited_to_channel",
        "removed_from_channel",
    ]
    removed = page.evaluate(
        """async (address) => {
            const { ChatClient } = await import("/static/hubbub-client.js");
            const answer = await fetch("/token", { method: "POST" });
            const client = await ChatClient.create((await answer.json()).token);
            try {
              return await client.removePushRegistrations("webpush", address);
            } finally {
              await client.shutdown();
            }
        }""",
        browser_subscription,
    )
    assert removed == [sid]
    assert _bindings(chat_server, "tina") == []
