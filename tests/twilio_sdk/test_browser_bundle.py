"""Twilio's own browser bundles in real Chromium, against hubbub's ``/v3/wsconnect``, side by
side with hubbub's chat page in the same channel.

A page (``bundle_page.html``, served from 127.0.0.1 by the test) loads the minified
bundle from ``.cache/twilio-sdks`` and starts the SDK with a hubbub Access Token; it lists its
channels, pages the history and sends. Someone signed in to hubbub's chat page, in another
browser profile, sees that message and types and sends back; the bundle hears both, and the read
horizon it sets reaches the server. Screenshots go to ``.cache/screenshots/twilio-sdk-browser/``
(see ``conftest.py``).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from hubbub.tokens import AccessToken, ChatGrant
from tests.browser.conftest import (
    ChatServer,
    Shots,
    browser,
    chat_server,
    playwright,
)
from tests.browser.test_chat_page import (
    People,
    channel_button,
    consumed,
    eventually,
    member,
    messages,
    new_channel,
    people,
    png,
    post,
    signed_in,
    typing_status,
)
from tests.twilio_sdk.sdks import browser_bundle

# The browser tests' fixtures, used here as they are (the module-scoped ones run again for this
# module: a server and a browser of its own).
__all__ = ["browser", "chat_server", "people", "playwright"]

PAGE = Path(__file__).with_name("bundle_page.html")

#: Each bundle: what the page calls its kind, who uses it, and who talks to them on the chat page
#: (identities of their own: the chat server is shared by the module).
BUNDLES = {
    "conv3": ("conv", "cora", "alice"),
    "chat6": ("chat", "chet", "bob"),
}
HISTORY = 23
PAGE_SIZE = 10
#: The one warning expected in the console: hubbub's init reply names no offline storage.
OFFLINE_STORAGE = "No offline storage id for 'ip_messaging' product"


def token(server: ChatServer, identity: str) -> str:
    creds = server.creds
    grant = ChatGrant(service_sid=creds.chat_service_sid)
    minted = AccessToken(
        creds.account_sid,
        creds.api_key_sid,
        creds.api_key_secret,
        grants=[grant],
        identity=identity,
        ttl=600,
    )
    return minted.to_jwt()


class Files(BaseHTTPRequestHandler):
    """The page and the bundles, by name: ``/<sdk>/index.html`` and ``/<sdk>/sdk.js``."""

    def do_GET(self) -> None:
        sdk, _, name = self.path.strip("/").partition("/")
        if sdk in BUNDLES and name in ("index.html", "sdk.js"):
            html = name == "index.html"
            body = (PAGE if html else browser_bundle(sdk)).read_bytes()
            self.send_response(200)
            kind = "text/html" if html else "text/javascript"
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


@pytest.fixture(scope="module")
def files() -> Iterator[str]:
    """A static server on 127.0.0.1 for the page: another origin than hubbub's, as a customer's
    app would be, and a loopback one, as Chromium wants of a page that opens a WebSocket to
    127.0.0.1 (its local network access checks), and a secure context (the SDKs need
    ``crypto.randomUUID``)."""
    for sdk in BUNDLES:
        browser_bundle(sdk)  # npm installs them now, not while a test's clock runs
    server = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def open_bundle(people: People, files: str, sdk: str, console: list[str]) -> Page:
    """A browser profile of its own with the page that loads ``sdk``'s bundle."""
    page = people.open()
    page.on("console", lambda message: _log(console, message))
    page.goto(f"{files}/{sdk}/index.html")
    return page


def _log(console: list[str], message: ConsoleMessage) -> None:
    if message.type in ("error", "warning"):
        console.append(f"{message.type}: {message.text}")


def harness(page: Page, call: str, *args: Any) -> Any:
    """``await harness.<call>(...args)`` in the bundle page."""
    return page.evaluate(f"(args) => harness.{call}(...args)", list(args))


def sdk_events(page: Page, event: str, **fields: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(
        "([event, fields]) => harness.events.filter((e) => e.event === event"
        " && Object.entries(fields).every(([key, value]) => e[key] === value))",
        [event, fields],
    )
    return found


@pytest.mark.parametrize("sdk", list(BUNDLES))
def test_the_bundle_chats_with_the_chat_page(
    sdk: str, people: People, chat_server: ChatServer, files: str, shots: Shots
) -> None:
    kind, identity, friend = BUNDLES[sdk]
    name = f"{sdk}-lobby"
    channel = new_channel(chat_server, name, (identity, friend))
    sid = channel["sid"]
    for number in range(HISTORY):
        post(chat_server, sid, friend, f"history {number}")

    console: list[str] = []
    bundle = open_bundle(people, files, sdk, console)
    uri = f"{chat_server.base_url.replace('http://', 'ws://')}/v3/wsconnect"
    started = harness(bundle, "start", kind, token(chat_server, identity), uri)
    assert started == {"identity": identity, "connectionState": "connected"}, console

    # Its channels, and the history a page at a time, newest page first.
    subscribed = harness(bundle, "subscribed")
    assert [(c["sid"], c["friendlyName"], c["status"]) for c in subscribed] == [
        (sid, name, "joined")
    ]
    pages = harness(bundle, "pages", sid, PAGE_SIZE)
    assert [[m["index"] for m in page] for page in pages] == [
        list(range(13, 23)),
        list(range(3, 13)),
        list(range(3)),
    ]
    newest = {"index": HISTORY - 1, "author": friend, "body": f"history {HISTORY - 1}"}
    assert pages[0][-1] == newest
    shots(bundle, "bundle-initialized")

    # The chat page shows what the bundle sends.
    chat = signed_in(people, friend)
    channel_button(chat, name).click()
    expect(messages(chat)).to_have_count(HISTORY)
    hello = f"hello from the {sdk} bundle"
    assert harness(bundle, "send", sid, hello) == HISTORY
    expect(messages(chat).filter(has_text=hello)).to_contain_text(identity)
    # Its twilsock connection makes the bundle's user present.
    expect(member(chat, identity)).to_contain_text("online")
    shots(chat, "chat-page-sees-the-bundle")

    # The bundle hears the chat page type, then send.
    chat.get_by_label("Message", exact=True).press_sequentially("hi bundle")
    eventually(
        chat,
        lambda: sdk_events(bundle, "typingStarted", sid=sid, identity=friend),
        "the chat page's typing in the bundle",
    )
    chat.get_by_label("Message", exact=True).press("Enter")
    added = eventually(
        bundle,
        lambda: sdk_events(bundle, "messageAdded", sid=sid, author=friend),
        "the chat page's message in the bundle",
    )
    assert [(m["index"], m["body"]) for m in added] == [(HISTORY + 1, "hi bundle")]
    shots(bundle, "bundle-hears-the-chat-page")

    # And the other way: the chat page sees the bundle type.
    harness(bundle, "typing", sid)
    expect(typing_status(chat)).to_have_text(f"{identity} is typing…")
    shots(chat, "chat-page-sees-the-bundle-typing")

    # The read horizon the bundle sets is the server's (the chat page shows only its own).
    read = harness(bundle, "setAllRead", sid)
    assert read["unread"] == 0
    eventually(
        bundle,
        lambda: consumed(chat_server, sid, identity) == HISTORY + 1,
        "the bundle's read horizon on the server",
    )
    eventually(
        bundle,
        lambda: harness(bundle, "subscribed")[0]["lastReadMessageIndex"] == HISTORY + 1,
        "the read horizon back in the bundle",
    )
    shots(bundle, "bundle-read-everything")

    harness(bundle, "shutdown")
    # The SDK complained of nothing but what it says of every server that, like hubbub, offers
    # no offline storage.
    assert [line for line in console if OFFLINE_STORAGE not in line] == []


@pytest.mark.parametrize("sdk", list(BUNDLES))
def test_files_between_the_bundle_and_the_chat_page(
    sdk: str, people: People, chat_server: ChatServer, files: str, shots: Shots, tmp_path: Path
) -> None:
    """The bundle sends a file as browsers do (FormData, uploaded from another origin); the chat
    page shows it inline. A file attached on the chat page reaches the bundle as a media
    message, whose getContentTemporaryUrl() gives the bundle the same bytes."""
    kind, identity, friend = BUNDLES[sdk]
    name = f"{sdk}-files"
    sid = new_channel(chat_server, name, (identity, friend))["sid"]
    console: list[str] = []
    bundle = open_bundle(people, files, sdk, console)
    uri = f"{chat_server.base_url.replace('http://', 'ws://')}/v3/wsconnect"
    harness(bundle, "start", kind, token(chat_server, identity), uri)
    chat = signed_in(people, friend)
    channel_button(chat, name).click()

    picture = png(48, 30)
    sent = harness(bundle, "sendFile", sid, "from-sdk.png", "image/png", _b64(picture))
    assert sent == 0
    image = messages(chat).get_by_role("img", name="from-sdk.png")
    expect(image).to_be_visible()
    width = eventually(
        chat, lambda: image.evaluate("img => img.complete && img.naturalWidth"), "the image loads"
    )
    assert width == 48
    shots(chat, "chat-page-shows-the-bundles-image")

    notes = tmp_path / "from-page.txt"
    notes.write_bytes(b"from the chat page\n" * 50)
    chat.get_by_label("Attach a file").set_input_files(str(notes))
    added = eventually(
        bundle,
        lambda: sdk_events(bundle, "messageAdded", sid=sid, author=friend),
        "the chat page's file in the bundle",
    )
    assert [(m["index"], m["type"]) for m in added] == [(1, "media")]
    assert added[0]["media"]["filename"] == "from-page.txt"
    assert added[0]["media"]["contentType"] == "text/plain"
    fetched = harness(bundle, "mediaBytes", sid, 1)
    assert base64.b64decode(fetched) == notes.read_bytes()
    shots(bundle, "bundle-hears-the-chat-pages-file")
    harness(bundle, "shutdown")
    assert [line for line in console if OFFLINE_STORAGE not in line] == []


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
