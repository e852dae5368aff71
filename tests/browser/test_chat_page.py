"""People chat in real Chromium: sign in, channels, messages both ways, typing, unread counts,
presence, infinite scroll, a dropped connection caught up, a token renewed in place, sign out;
the members of a channel and who is online, unread counts at sign-in, the keyboard alone, a
renewal that fails before it succeeds, a sign-out in another tab, invitations, files."""

from __future__ import annotations

import re
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Route,
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
        return self._watch(context.new_page())

    def tab(self, page: Page) -> Page:
        """Another tab of the same browser profile (the same session cookie) as ``page``."""
        return self._watch(page.context.new_page())

    def _watch(self, page: Page) -> Page:
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


def members_of(page: Page) -> Locator:
    return page.get_by_role("complementary", name="Members").get_by_role("listitem")


def member(page: Page, identity: str) -> Locator:
    return members_of(page).filter(has_text=identity)


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
    # The latest renewal may still be on its way back; every one answered so far succeeded.
    replies = [reply for frame in renewals if (reply := alice_wire.reply_to(frame)) is not None]
    assert replies
    assert all(reply["ok"] for reply in replies)
    assert max(reply["result"]["expires_at"] for reply in replies) > first_expiry
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


# -- helpers of the tests below ----------------------------------------------------------------
def signed_in(people: People, name: str) -> Page:
    """A new browser profile with ``name`` signed in and connected."""
    page = people.open()
    page.goto("/")
    sign_in(page, name)
    expect(page.get_by_text(f"Connected as {name}")).to_be_visible()
    return page


def new_channel(
    server: ChatServer, name: str, members: tuple[str, ...] = (), **data: str
) -> dict[str, Any]:
    """A channel made over REST (public unless ``Type="private"``), with these members."""
    channel: dict[str, Any] = server.rest("POST", "/Channels", data={"FriendlyName": name, **data})
    for identity in members:
        server.rest("POST", f"/Channels/{channel['sid']}/Members", data={"Identity": identity})
    return channel


def post(server: ChatServer, channel_sid: str, author: str, body: str) -> None:
    server.rest("POST", f"/Channels/{channel_sid}/Messages", data={"Body": body, "From": author})


def eventually(page: Page, check: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    """Poll ``check`` (letting the page run) until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        page.wait_for_timeout(50)


def consumed(server: ChatServer, channel_sid: str, identity: str) -> int | None:
    found = server.rest("GET", f"/Channels/{channel_sid}/Members/{identity}")
    index: int | None = found["last_consumed_message_index"]
    return index


def tab_to(page: Page, target: Locator, *, backwards: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until ``target`` has the focus, which must show."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            assert target.evaluate("element => element.matches(':focus-visible')")
            return
        page.keyboard.press(key)
    raise AssertionError(f"{limit} presses of {key} never reached {target}")


# -- members and presence ------------------------------------------------------------------------
def test_members_and_their_presence_come_from_the_server(
    people: People, chat_server: ChatServer, shots: Shots
) -> None:
    """The Members list is the channel's real members, each online or offline, including a peer
    who was online before you came and a member who never posted; pushes keep it current."""
    lounge = new_channel(chat_server, "lounge", ("nina", "omar", "pete"))
    # omar is online first; pete is a member who never signed in nor posted.
    omar = signed_in(people, "omar")
    expect(member(omar, "omar (you)")).to_contain_text("online")

    nina = people.open()
    nina_wire = Wire().watch(nina)
    nina.goto("/")
    sign_in(nina, "nina")
    expect(channel_button(nina, "lounge")).to_have_attribute("aria-current", "true")
    expect(member(nina, "omar")).to_contain_text("online")
    expect(member(nina, "pete")).to_contain_text("offline")
    expect(member(nina, "nina (you)")).to_contain_text("online")
    expect(members_of(nina)).to_have_count(3)
    assert [frame["channel"] for frame in nina_wire.sent_of("get_members")] == [lounge["sid"]]
    shots(nina, "nina-sees-omar-online-and-pete-offline")

    # Someone joins (over REST) and someone leaves while nina looks.
    chat_server.rest("POST", f"/Channels/{lounge['sid']}/Members", data={"Identity": "quinn"})
    expect(member(nina, "quinn")).to_contain_text("offline")
    chat_server.rest("DELETE", f"/Channels/{lounge['sid']}/Members/pete")
    expect(member(nina, "pete")).to_have_count(0)
    expect(members_of(nina)).to_have_count(3)

    omar.get_by_role("button", name="Sign out", exact=True).click()
    expect(omar.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(member(nina, "omar")).to_contain_text("offline")
    shots(nina, "nina-sees-omar-offline")
    sign_in(omar, "omar")
    expect(member(nina, "omar")).to_contain_text("online")

    # A service that does not track reachability: the members, but no state at all.
    chat_server.rest("POST", "", data={"ReachabilityEnabled": "false"})
    try:
        nina.reload()
        expect(channel_button(nina, "lounge")).to_have_attribute("aria-current", "true")
        expect(members_of(nina)).to_have_count(3)
        expect(member(nina, "omar")).to_have_text("omar")
        expect(members_of(nina).locator(".presence")).to_have_count(0)
        shots(nina, "nina-without-reachability")
    finally:
        chat_server.rest("POST", "", data={"ReachabilityEnabled": "true"})


# -- unread counts at sign-in --------------------------------------------------------------------
def test_unread_counts_at_sign_in(people: People, chat_server: ChatServer, shots: Shots) -> None:
    """Messages posted while rosa is signed out are counted when she signs in (from her read
    horizon, or every message when she never read the channel) and clear when she opens it."""
    letters = new_channel(chat_server, "letters", ("rosa",))
    notes = new_channel(chat_server, "notes", ("rosa",))
    parcels = new_channel(chat_server, "parcels", ("rosa",))
    post(chat_server, letters["sid"], "sam", "first letter")
    post(chat_server, notes["sid"], "sam", "first note")

    rosa = signed_in(people, "rosa")
    # The first channel opens by itself; rosa reads notes too (parcels is still empty).
    expect(channel_button(rosa, "letters")).to_have_attribute("aria-current", "true")
    channel_button(rosa, "notes").click()
    expect(messages(rosa).filter(has_text="first note")).to_be_visible()
    eventually(rosa, lambda: consumed(chat_server, notes["sid"], "rosa") == 0, "notes read")
    rosa.get_by_role("button", name="Sign out", exact=True).click()
    expect(rosa.get_by_role("heading", name="Sign in")).to_be_visible()

    for n in range(3):
        post(chat_server, notes["sid"], "sam", f"note {n}")
    for n in range(2):
        post(chat_server, parcels["sid"], "sam", f"parcel {n}")
    sign_in(rosa, "rosa")
    expect(channel_button(rosa, "letters")).to_have_attribute("aria-current", "true")
    expect(channel_button(rosa, "notes")).to_have_accessible_name("notes, 3 unread")
    expect(channel_button(rosa, "notes").locator(".unread")).to_have_text("3")
    expect(channel_button(rosa, "parcels")).to_have_accessible_name("parcels, 2 unread")
    expect(channel_button(rosa, "letters")).to_have_accessible_name("letters")
    expect(rosa).to_have_title("(5) hubbub chat")
    shots(rosa, "rosa-unread-at-sign-in")

    channel_button(rosa, "notes").click()
    expect(messages(rosa)).to_have_count(4)
    expect(channel_button(rosa, "notes")).to_have_accessible_name("notes")
    expect(channel_button(rosa, "notes").locator(".unread")).to_have_count(0)
    expect(rosa).to_have_title("(2) hubbub chat")
    eventually(rosa, lambda: consumed(chat_server, notes["sid"], "rosa") == 3, "notes read")
    shots(rosa, "rosa-read-notes")


# -- the keyboard alone ------------------------------------------------------------------------
def test_keyboard_alone(people: People, chat_server: ChatServer, shots: Shots) -> None:
    """Sign in, switch channels, join one, send and sign out with Tab, Enter and Space only."""
    new_channel(chat_server, "kb-alpha", ("kate",))
    new_channel(chat_server, "kb-beta", ("kate",))
    new_channel(chat_server, "kb-gamma")
    kate = people.open()
    kate.goto("/")
    expect(kate.get_by_label("Username", exact=True)).to_be_focused()
    kate.keyboard.type("kate")
    kate.keyboard.press("Tab")
    expect(kate.get_by_label("Password", exact=True)).to_be_focused()
    kate.keyboard.type(PASSWORDS["kate"])
    kate.keyboard.press("Enter")
    expect(kate.get_by_text("Connected as kate")).to_be_visible()
    expect(channel_button(kate, "kb-alpha")).to_have_attribute("aria-current", "true")
    expect(kate.get_by_label("Message", exact=True)).to_be_focused()

    # Switch channels: back to the list, Enter opens one; the focus stays on it.
    tab_to(kate, channel_button(kate, "kb-beta"), backwards=True)
    kate.keyboard.press("Enter")
    expect(channel_button(kate, "kb-beta")).to_have_attribute("aria-current", "true")
    expect(kate.get_by_role("log")).to_have_accessible_name("kb-beta")
    expect(channel_button(kate, "kb-beta")).to_be_focused()
    shots(kate, "kate-opened-kb-beta")
    # Space does the same.
    tab_to(kate, channel_button(kate, "kb-alpha"), backwards=True)
    kate.keyboard.press("Space")
    expect(channel_button(kate, "kb-alpha")).to_have_attribute("aria-current", "true")
    expect(channel_button(kate, "kb-beta")).not_to_have_attribute("aria-current", "true")
    expect(channel_button(kate, "kb-alpha")).to_be_focused()

    # Join a public channel, then say something there. A channel created meanwhile redraws the
    # list under the focused button: the focus must stay on it.
    join_gamma = kate.get_by_role("button", name="Join kb-gamma", exact=True)
    tab_to(kate, join_gamma)
    new_channel(chat_server, "kb-delta")
    expect(kate.get_by_role("button", name="Join kb-delta", exact=True)).to_be_visible()
    expect(join_gamma).to_be_focused()
    kate.keyboard.press("Enter")
    expect(channel_button(kate, "kb-gamma")).to_have_attribute("aria-current", "true")
    expect(kate.get_by_label("Message", exact=True)).to_be_focused()
    kate.keyboard.type("joined by keyboard")
    kate.keyboard.press("Enter")
    expect(messages(kate).filter(has_text="joined by keyboard")).to_contain_text("kate")
    shots(kate, "kate-joined-kb-gamma")

    # Sign out.
    tab_to(kate, kate.get_by_role("button", name="Sign out", exact=True), backwards=True)
    kate.keyboard.press("Enter")
    expect(kate.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(kate.get_by_label("Password", exact=True)).to_be_focused()
    assert token_status(kate) == 401
    shots(kate, "kate-signed-out")


# -- token renewal -----------------------------------------------------------------------------
def test_token_renewal_retries_until_it_works(people: People, shots: Shots) -> None:
    """The renewal's /token fails twice (a 429 with Retry-After, then the network); the page
    tries again on its own and swaps the token in on the same WebSocket."""
    xena = people.open()
    wire = Wire().watch(xena)
    xena.goto("/")
    sign_in(xena, "xena")
    expect(xena.get_by_text("Connected as xena")).to_be_visible()

    asked: list[float] = []

    def flaky(route: Route) -> None:
        asked.append(time.monotonic())
        if len(asked) == 1:
            body = {"code": 20429, "message": "test: too many requests", "status": 429}
            headers = {"Retry-After": "2"}
            route.fulfill(status=429, headers=headers, json=body)
        elif len(asked) == 2:
            route.abort("connectionfailed")
        else:
            route.continue_()

    # From now on /token is the renewal's (the sign-in's is done).
    xena.route("**/token", flaky)
    renewed = eventually(
        xena,
        # Answered, not only sent: a list holding None would count as done.
        lambda: [
            reply
            for frame in wire.sent_of("update_token")
            if (reply := wire.reply_to(frame)) is not None
        ],
        "the token renewed",
        timeout=20,
    )
    assert renewed[0]["ok"]
    assert len(asked) >= 3
    # The 429's Retry-After was waited out before asking again.
    assert asked[1] - asked[0] >= 1.9
    assert len(wire.pushes("token_about_to_expire")) >= 1
    assert not wire.pushes("token_expired")
    assert len(wire.sockets) == 1
    assert not wire.sockets[0].is_closed()
    expect(xena.get_by_text("Connected as xena")).to_be_visible()
    shots(xena, "xena-renewed-after-two-failures")


def test_signing_out_in_one_tab_ends_the_others_at_their_next_renewal(
    people: People, shots: Shots
) -> None:
    """A tab's token is a bearer token: it works until renewal, when /token answers 401 and the
    tab goes back to the sign-in form without reconnecting."""
    first = signed_in(people, "yuri")
    second = people.tab(first)
    wire = Wire().watch(second)
    second.goto("/")
    expect(second.get_by_text("Connected as yuri")).to_be_visible()
    first.get_by_role("button", name="Sign out", exact=True).click()
    expect(first.get_by_role("heading", name="Sign in")).to_be_visible()

    # Tokens last 8 s and are renewed 5 s before: the other tab learns within a few seconds.
    expect(second.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(second.get_by_role("alert")).to_have_text("Your session ended; please sign in again.")
    assert len(wire.sockets) == 1
    eventually(second, wire.sockets[0].is_closed, "the tab's WebSocket closed")
    assert not wire.pushes("token_expired")
    assert token_status(second) == 401
    shots(second, "the-other-tab-signed-out")


# -- invitations -------------------------------------------------------------------------------
def test_invitations(people: People, chat_server: ChatServer, shots: Shots) -> None:
    """Invitations show at sign-in and as they come; one is declined, one joined; and the page
    invites someone."""
    hideout = new_channel(chat_server, "hideout", ("victor",), Type="private")
    post(chat_server, hideout["sid"], "victor", "psst, tina")
    chat_server.rest("POST", f"/Channels/{hideout['sid']}/Invites", data={"Identity": "tina"})

    tina = signed_in(people, "tina")
    invitations = tina.get_by_role("list", name="Invitations")
    expect(invitations.get_by_role("listitem")).to_have_text([re.compile("hideout")])
    expect(invitations.get_by_role("button", name="Join hideout", exact=True)).to_be_visible()
    expect(channel_button(tina, "hideout")).to_have_count(0)
    # Nothing joined yet: the keyboard lands in the field that creates a channel.
    expect(tina.get_by_label("New channel", exact=True)).to_be_focused()
    shots(tina, "tina-invited-at-sign-in")

    # An invitation to a public channel arrives while she is here; she declines it.
    porch = new_channel(chat_server, "porch", ("victor",))
    chat_server.rest("POST", f"/Channels/{porch['sid']}/Invites", data={"Identity": "tina"})
    expect(tina.get_by_role("status").filter(has_text="invited")).to_have_text(
        "You are invited to porch."
    )
    decline = invitations.get_by_role("button", name="Decline porch", exact=True)
    expect(decline).to_be_visible()
    public = tina.get_by_role("list", name="Public channels")
    expect(public.get_by_role("button", name="Join porch")).to_have_count(0)
    shots(tina, "tina-invited-to-porch")
    decline.click()
    expect(invitations.get_by_role("listitem")).to_have_count(1)
    expect(public.get_by_role("button", name="Join porch", exact=True)).to_be_visible()
    eventually(
        tina,
        lambda: not chat_server.rest("GET", f"/Channels/{porch['sid']}/Invites")["invites"],
        "the invitation declined on the server",
    )

    invitations.get_by_role("button", name="Join hideout", exact=True).click()
    expect(channel_button(tina, "hideout")).to_have_attribute("aria-current", "true")
    expect(messages(tina).filter(has_text="psst, tina")).to_contain_text("victor")
    expect(member(tina, "victor")).to_be_visible()
    expect(tina.get_by_role("heading", name="Invitations")).to_be_hidden()
    expect(tina.get_by_label("Message", exact=True)).to_be_focused()
    shots(tina, "tina-joined-hideout")

    # Inviting takes the channel's permission: a plain member is told no.
    invite_field = tina.get_by_label("Invite by username", exact=True)
    invite_field.fill("wendy")
    invite_field.press("Enter")
    expect(tina.get_by_role("alert")).to_contain_text("may not inviteMember")
    expect(invite_field).to_have_value("wendy")
    # In a channel she creates (as its admin) she may.
    tina.get_by_label("New channel", exact=True).fill("den")
    tina.get_by_label("New channel", exact=True).press("Enter")
    expect(channel_button(tina, "den")).to_have_attribute("aria-current", "true")
    den_sid = channel_button(tina, "den").get_attribute("data-sid")
    invite_field.fill("wendy")
    tina.get_by_role("button", name="Invite", exact=True).click()
    expect(tina.get_by_text("Invited wendy to den.")).to_be_visible()
    expect(invite_field).to_have_value("")
    invites = chat_server.rest("GET", f"/Channels/{den_sid}/Invites")["invites"]
    assert [invite["identity"] for invite in invites] == ["wendy"]
    shots(tina, "tina-invited-wendy")


# -- names that try to turn the page around ----------------------------------------------------
#: Every text node holding U+202E, with how its element lays out bidirectional text.
OVERRIDDEN = """() => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.includes("\\u202e")) continue;
    const element = node.parentElement;
    found.push(`${element.tagName} ${getComputedStyle(element).unicodeBidi}`);
  }
  return found;
}"""


def test_names_cannot_reorder_the_text_after_them(
    people: People, chat_server: ChatServer, shots: Shots
) -> None:
    """A channel name, an author or a member holding U+202E (right-to-left override) is isolated:
    the text after it keeps its order and place."""
    rlo = "\u202e"
    evil = new_channel(chat_server, f"{rlo}evil", ("zara", f"{rlo}mallory"))
    post(chat_server, evil["sid"], f"{rlo}mallory", "hello zara")
    post(chat_server, evil["sid"], "zara", "hi")  # zara's own message: her read horizon

    zara = signed_in(people, "zara")
    zara.locator(f'button[data-sid="{evil["sid"]}"]').click()
    said = messages(zara).filter(has_text="hello zara")
    expect(said).to_be_visible()
    # The time after the author stays on its right, where it is in every other message.
    author = said.locator(".author").bounding_box()
    time_box = said.locator("time").bounding_box()
    assert author is not None
    assert time_box is not None
    assert time_box["x"] >= author["x"] + author["width"] - 1, (author, time_box)
    expect(member(zara, "mallory")).to_be_visible()
    found = zara.evaluate(OVERRIDDEN)  # the channel's name in the list and title, the members
    assert len(found) >= 4
    assert all(place.endswith(" isolate") for place in found), found

    # And the unread badge after a channel's name, an invitation's buttons, the notice.
    trap = new_channel(chat_server, f"{rlo}trap", ("victor",))
    chat_server.rest("POST", f"/Channels/{trap['sid']}/Invites", data={"Identity": "zara"})
    expect(zara.get_by_role("status").filter(has_text="invited")).to_be_visible()
    other = new_channel(chat_server, "plain", ("zara",))
    zara.locator(f'button[data-sid="{other["sid"]}"]').click()
    post(chat_server, evil["sid"], f"{rlo}mallory", "again")
    button = zara.locator(f'button[data-sid="{evil["sid"]}"]')
    expect(button.locator(".unread")).to_have_text("1")
    name = button.locator(":scope > :first-child").bounding_box()
    badge = button.locator(".unread").bounding_box()
    assert name is not None
    assert badge is not None
    assert badge["x"] >= name["x"] + name["width"] - 1, (name, badge)
    shots(zara, "zara-names-isolated")

    found = zara.evaluate(OVERRIDDEN)  # and the invitation, and the notice of it
    assert len(found) >= 3
    assert all(place.endswith(" isolate") for place in found), found


# -- files -----------------------------------------------------------------------------------
def png(width: int, height: int) -> bytes:
    """A PNG of a colour gradient, made by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((4 * x % 256, 6 * y % 256, 160)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_files_are_attached_and_shown_to_the_others(
    people: People, chat_server: ChatServer, shots: Shots, tmp_path: Path
) -> None:
    """A file chosen with "Attach a file" is uploaded and sent at once: the others see an
    image inline (really loaded, from a link that needs no token), any other file as a link
    with its name and size that downloads the same bytes."""
    gallery = new_channel(chat_server, "gallery", ("ivan", "hugo"))
    hugo = signed_in(people, "hugo")
    ivan = signed_in(people, "ivan")
    expect(channel_button(ivan, "gallery")).to_have_attribute("aria-current", "true")
    photo = tmp_path / "gradient.png"
    photo.write_bytes(png(64, 40))
    ivan.get_by_label("Attach a file").set_input_files(str(photo))

    image = hugo.get_by_role("log").get_by_role("img", name="gradient.png")
    expect(image).to_be_visible()
    width = eventually(
        hugo, lambda: image.evaluate("img => img.complete && img.naturalWidth"), "the image loads"
    )
    assert width == 64
    assert image.evaluate("img => img.naturalHeight") == 40
    expect(ivan.get_by_role("log").get_by_role("img", name="gradient.png")).to_be_visible()
    shots(hugo, "hugo-sees-the-image")

    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"agenda\n" * 300)
    ivan.get_by_label("Attach a file").set_input_files(str(notes))
    link = hugo.get_by_role("log").get_by_role("link", name="notes.txt (2.1 KB)")
    expect(link).to_be_visible()
    with hugo.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "notes.txt"
    assert Path(download.value.path()).read_bytes() == b"agenda\n" * 300
    shots(hugo, "hugo-sees-the-file")

    # What the server holds: two media messages, each carrying its upload.
    stored = chat_server.rest("GET", f"/Channels/{gallery['sid']}/Messages")["messages"]
    assert [(m["type"], m["from"], m["media"]["filename"]) for m in stored] == [
        ("media", "ivan", "gradient.png"),
        ("media", "ivan", "notes.txt"),
    ]
    assert stored[0]["media"]["content_type"] == "image/png"
