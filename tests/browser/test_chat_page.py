"""People chat in real Chromium: sign in, channels, messages both ways, typing, unread counts,
presence, infinite scroll, a dropped connection caught up, a token renewed in place, sign out."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    WebSocketRoute,
    expect,
)

from tests.browser.conftest import PASSWORDS, ChatServer, Shots, Wire

#: How long a condition may take to show in the page (ms).
expect.set_options(timeout=10_000)


class People:
    """One browser profile (cookies, storage) per person; uncaught page errors and CSP
    violations fail the test."""

    def __init__(self, browser: Browser, server: ChatServer) -> None:
        self.browser = browser
        self.server = server
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def open(self) -> Page:
        context = self.browser.new_context(
            base_url=self.server.base_url, viewport={"width": 1200, "height": 760}
        )
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        # The page must live within its Content-Security-Policy (no inline code or styles).
        # Other console errors are expected: the browser logs the 401 of /token when signed out.
        page.on("console", self._console)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.errors.append(message.text)


@pytest.fixture
def people(browser: Browser, chat_server: ChatServer) -> Iterator[People]:
    found = People(browser, chat_server)
    yield found
    for context in found.contexts:
        context.close()
    assert found.errors == []


def sign_in(page: Page, name: str, password: str | None = None, *, keyboard: bool = False) -> None:
    page.get_by_label("Username", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(password or PASSWORDS[name])
    if keyboard:
        page.get_by_label("Password", exact=True).press("Enter")
    else:
        page.get_by_role("button", name="Sign in", exact=True).click()


def channel_button(page: Page, name: str) -> Locator:
    return page.get_by_role("list", name="Your channels").get_by_role("button", name=name)


def messages(page: Page) -> Locator:
    return page.get_by_role("log").get_by_role("listitem")


def member(page: Page, identity: str) -> Locator:
    members = page.get_by_role("complementary", name="Members").get_by_role("listitem")
    return members.filter(has_text=identity)


def typing_status(page: Page) -> Locator:
    return page.locator("#typing")


def token_status(page: Page) -> int:
    """What ``POST /token`` answers this page's cookies now."""
    status: int = page.evaluate(
        "fetch('/token', {method: 'POST', credentials: 'same-origin'}).then(r => r.status)"
    )
    return status


def test_people_chat_across_a_token_renewal(
    people: People, chat_server: ChatServer, shots: Shots
) -> None:
    alice = people.open()
    alice_wire = Wire().watch(alice)
    alice.goto("/")

    # Nobody is signed in: the page asked /token, got 401, and shows the sign-in form.
    expect(alice.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(alice.get_by_label("Username", exact=True)).to_be_focused()
    shots(alice, "alice-sign-in-form")
    sign_in(alice, "alice", "not her password")
    expect(alice.get_by_role("alert")).to_have_text("Wrong username or password.")
    shots(alice, "alice-wrong-password")

    sign_in(alice, "alice")
    expect(alice.get_by_text("Connected as alice")).to_be_visible()
    # No channel yet: the keyboard lands in the field that creates one.
    expect(alice.get_by_label("New channel", exact=True)).to_be_focused()
    alice.get_by_label("New channel", exact=True).fill("general")
    alice.get_by_label("New channel", exact=True).press("Enter")
    expect(channel_button(alice, "general")).to_have_attribute("aria-current", "true")
    expect(alice.get_by_role("log")).to_have_accessible_name("general")
    expect(alice.get_by_role("log")).to_have_attribute("aria-live", "polite")
    expect(alice.get_by_label("Message", exact=True)).to_be_focused()
    authenticated = alice_wire.reply_to(alice_wire.sent_of("authenticate")[0])
    assert authenticated is not None
    assert authenticated["ok"]
    first_expiry = authenticated["result"]["expires_at"]
    leeway = authenticated["result"]["leeway"]
    shots(alice, "alice-created-general")

    bob = people.open()
    bob_wire = Wire().watch(bob)
    bob.goto("/")
    sign_in(bob, "bob", keyboard=True)
    expect(bob.get_by_text("Connected as bob")).to_be_visible()
    expect(bob.get_by_role("list", name="Public channels")).to_contain_text("general")
    bob.get_by_role("button", name="Join general").click()
    expect(channel_button(bob, "general")).to_have_attribute("aria-current", "true")
    expect(bob.get_by_label("Message", exact=True)).to_be_focused()
    # Alice's members list learns of bob as he joins.
    expect(member(alice, "bob")).to_be_visible()
    shots(bob, "bob-joined-general")

    # Bob types: alice sees it; Enter sends; both logs show the message, the indicator goes.
    bob.get_by_label("Message", exact=True).press_sequentially("hi alice")
    expect(alice.get_by_role("status").filter(has_text="typing")).to_have_text("bob is typing…")
    shots(alice, "alice-sees-bob-typing")
    bob.get_by_label("Message", exact=True).press("Enter")
    expect(messages(alice).filter(has_text="hi alice")).to_contain_text("bob")
    expect(messages(bob).filter(has_text="hi alice")).to_be_visible()
    expect(bob.get_by_label("Message", exact=True)).to_have_value("")
    expect(typing_status(alice)).to_have_text("")

    alice.get_by_label("Message", exact=True).fill("hello bob")
    alice.get_by_role("button", name="Send", exact=True).click()
    expect(messages(bob).filter(has_text="hello bob")).to_contain_text("alice")
    expect(messages(alice)).to_have_count(2)
    expect(messages(bob)).to_have_count(2)
    shots(bob, "bob-sees-the-conversation")

    # Unread counts: alice talks in a channel bob has joined but is not looking at.
    alice.get_by_label("New channel", exact=True).fill("random")
    alice.get_by_role("button", name="Create", exact=True).click()
    expect(channel_button(alice, "random")).to_have_attribute("aria-current", "true")
    bob.get_by_role("button", name="Join random").click()
    expect(channel_button(bob, "random")).to_have_attribute("aria-current", "true")
    channel_button(bob, "general").click()
    expect(channel_button(bob, "general")).to_have_attribute("aria-current", "true")
    for text in ("anyone here?", "bob?"):
        alice.get_by_label("Message", exact=True).fill(text)
        alice.get_by_label("Message", exact=True).press("Enter")
    expect(messages(alice)).to_have_count(2)
    expect(channel_button(bob, "random")).to_have_accessible_name("random, 2 unread")
    expect(channel_button(bob, "random").locator(".unread")).to_have_text("2")
    expect(bob).to_have_title("(2) hubbub chat")
    shots(bob, "bob-has-two-unread-in-random")
    channel_button(bob, "random").click()
    expect(messages(bob)).to_have_text(
        [re.compile(r"alice.*anyone here\?"), re.compile(r"alice.*bob\?")]
    )
    expect(channel_button(bob, "random")).to_have_accessible_name("random")
    expect(bob).to_have_title("hubbub chat")
    # The read horizon moved on the server too.
    random_sid = channel_button(bob, "random").get_attribute("data-sid")
    deadline = time.monotonic() + 10
    while True:
        bob_member = chat_server.rest("GET", f"/Channels/{random_sid}/Members/bob")
        if bob_member["last_consumed_message_index"] == 1 or time.monotonic() > deadline:
            break
        bob.wait_for_timeout(50)
    assert bob_member["last_consumed_message_index"] == 1
    shots(bob, "bob-read-random")

    # Presence: bob signs out (his only connection closes), then comes back.
    expect(member(alice, "alice (you)")).to_contain_text("online")
    bob.get_by_role("button", name="Sign out", exact=True).click()
    expect(bob.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(bob.get_by_label("Username", exact=True)).to_have_value("bob")
    assert token_status(bob) == 401
    expect(member(alice, "bob")).to_contain_text("offline")
    shots(alice, "alice-sees-bob-offline")
    shots(bob, "bob-signed-out")
    sign_in(bob, "bob")
    expect(bob.get_by_text("Connected as bob")).to_be_visible()
    expect(member(alice, "bob")).to_contain_text("online")
    assert token_status(bob) == 200
    shots(alice, "alice-sees-bob-online")

    # While alice's first token runs out, a third person reads a long history, loses her
    # connection and gets back what she missed.
    carol, carol_link = browse_history(people, chat_server, shots)
    reconnect_and_catch_up(carol, carol_link, chat_server, shots)

    # Alice's first token lapses (its expiry plus the server's leeway) while she chats on.
    while time.time() < first_expiry + leeway + 1:
        alice.wait_for_timeout(250)
    renewals = alice_wire.sent_of("update_token")
    assert renewals, "the page never renewed its token"
    replies = [alice_wire.reply_to(frame) for frame in renewals]
    assert all(reply is not None and reply["ok"] for reply in replies)
    assert max(reply["result"]["expires_at"] for reply in replies if reply) > first_expiry
    assert alice_wire.pushes("token_about_to_expire")
    assert not alice_wire.pushes("token_expired")
    # One WebSocket all along: the renewal happened in place, not by reconnecting.
    assert len(alice_wire.sockets) == 1
    assert not alice_wire.sockets[0].is_closed()
    expect(alice.get_by_text("Connected as alice")).to_be_visible()
    channel_button(alice, "general").click()
    channel_button(bob, "general").click()
    alice.get_by_label("Message", exact=True).fill("still here after my token expired")
    alice.get_by_label("Message", exact=True).press("Enter")
    expect(messages(bob).filter(has_text="still here after my token expired")).to_be_visible()
    bob.get_by_label("Message", exact=True).fill("so I see")
    bob.get_by_role("button", name="Send", exact=True).click()
    expect(messages(alice).filter(has_text="so I see")).to_contain_text("bob")
    assert len(alice_wire.sockets) == 1
    shots(alice, "alice-chats-on-after-renewal")
    assert len(bob_wire.sockets) == 2  # one per sign-in

    alice.get_by_role("button", name="Sign out", exact=True).click()
    expect(alice.get_by_label("Username", exact=True)).to_be_visible()
    assert token_status(alice) == 401
    expect(member(bob, "alice")).to_contain_text("offline")
    shots(alice, "alice-signed-out")


class Link:
    """Carol's way to the server, which a test can cut: a dropped connection is a fault the
    server will not cause on request, so Playwright relays the page's WebSockets and closes
    them when told. While ``down``, reconnection attempts are refused."""

    def __init__(self, page: Page) -> None:
        self.wire = Wire().watch(page)
        self.down = False
        self.live: WebSocketRoute | None = None
        page.route_web_socket("**/v1/ws", self._route)

    def _route(self, socket: WebSocketRoute) -> None:
        if self.down:
            socket.close(code=1011, reason="test: the network is down")
            return
        socket.connect_to_server()
        self.live = socket

    def drop(self) -> None:
        self.down = True
        assert self.live is not None
        self.live.close(code=1001, reason="test: connection lost")


def browse_history(people: People, chat_server: ChatServer, shots: Shots) -> tuple[Page, Link]:
    """Carol opens a channel with 75 messages and scrolls its history back to the start."""
    channel = chat_server.rest("POST", "/Channels", data={"FriendlyName": "archive"})
    chat_server.rest("POST", f"/Channels/{channel['sid']}/Members", data={"Identity": "carol"})
    for n in range(75):
        data = {"Body": f"note {n}", "From": "dave"}
        chat_server.rest("POST", f"/Channels/{channel['sid']}/Messages", data=data)

    carol = people.open()
    link = Link(carol)
    carol.goto("/")
    sign_in(carol, "carol")
    log = carol.get_by_role("log", name="archive")
    # The newest page first, scrolled to its end.
    expect(messages(carol)).to_have_count(30)
    expect(messages(carol).first).to_contain_text("note 45")
    expect(messages(carol).last).to_contain_text("note 74")
    expect(carol.get_by_role("button", name="Load older messages")).to_be_visible()
    shots(carol, "newest-page")

    log.evaluate("element => { element.scrollTop = 0; }")
    expect(messages(carol)).to_have_count(60)
    expect(messages(carol).first).to_contain_text("note 15")
    # The reader's place is kept: the log did not jump to the (new) top.
    assert log.evaluate("element => element.scrollTop") > 0
    shots(carol, "second-page")

    # Keyboard users get the same through the button.
    carol.get_by_role("button", name="Load older messages").focus()
    carol.keyboard.press("Enter")
    expect(messages(carol)).to_have_count(75)
    expect(messages(carol).first).to_contain_text("note 0")
    expect(carol.get_by_text("This is the beginning of the channel.")).to_be_visible()
    expect(carol.get_by_role("button", name="Load older messages")).to_be_hidden()
    texts = messages(carol).locator(".body").all_inner_texts()
    assert texts == [f"note {n}" for n in range(75)]
    shots(carol, "whole-history")
    return carol, link


def reconnect_and_catch_up(carol: Page, link: Link, chat_server: ChatServer, shots: Shots) -> None:
    """Carol's connection drops; messages posted meanwhile appear once she is back, once each
    and in order."""
    sid = carol.get_by_role("list", name="Your channels").get_by_role("button").first
    channel_sid = sid.get_attribute("data-sid")
    link.drop()
    expect(carol.get_by_role("status").filter(has_text="Connecting")).to_be_visible()
    for n in (75, 76):
        data = {"Body": f"note {n}", "From": "dave"}
        chat_server.rest("POST", f"/Channels/{channel_sid}/Messages", data=data)
    shots(carol, "carol-offline")
    attempts = len(link.wire.sockets)
    link.down = False
    expect(carol.get_by_text("Connected as carol")).to_be_visible()
    assert len(link.wire.sockets) > attempts
    texts = messages(carol).locator(".body")
    expect(texts).to_have_count(77)
    assert texts.all_inner_texts() == [f"note {n}" for n in range(77)]
    # They came from the catch-up after the reconnect: history read forwards from the last
    # index the page had.
    catch_up = [f for f in link.wire.sent_of("get_messages") if f.get("direction") == "forwards"]
    assert [f["anchor"] for f in catch_up] == [75]
    shots(carol, "carol-caught-up")
