"""A page on another origin uploads to hubbub's media service from real Chromium, as Twilio's
browser SDKs do (FormData, the token in ``X-Twilio-Token``), then shows the image through its
temporary link."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import browser, playwright  # noqa: F401  (fixtures)
from tests.media.support import Media
from tests.twilio_sdk.nodes import Node

# A 2×1 PNG, red then blue.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAAEElEQVR4nGP4z8DAwMDwHwAF/gH/ZGBHLQAAAABJRU5ErkJggg=="
)

PAGE = """<!doctype html><meta charset="utf-8"><title>app</title>
<script>
async function upload(url, token, bytes) {
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(bytes)], {type: "image/png"}), "dot.png");
  const answer = await fetch(url + "?Category=media", {
    method: "POST", headers: {"X-Twilio-Token": token}, body: form,
  });
  return {status: answer.status, body: await answer.json()};
}
async function show(src) {
  const image = new Image();
  await new Promise((resolve, reject) => {
    image.onload = resolve; image.onerror = reject; image.src = src;
  });
  document.body.append(image);
  return [image.naturalWidth, image.naturalHeight];
}
async function anonymous(url) {
  const answer = await fetch(url, {method: "POST", body: "x"});
  return {status: answer.status, body: await answer.json()};
}
</script>"""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    started = Node(tmp_path_factory.mktemp("media-browser")).start()
    yield started
    started.close()


def test_a_page_of_another_origin_uploads_and_shows_an_image(
    browser: Browser,  # noqa: F811
    node: Node,
    app: str,
) -> None:
    media = Media(node)
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{app}/")
        token = media.tokens.token("alice")
        result: dict[str, Any] = page.evaluate(
            "([url, token, bytes]) => upload(url, token, bytes)",
            [media.url(), token, list(PNG)],
        )
        assert result["status"] == 201, json.dumps(result)
        record = result["body"]
        assert (record["filename"], record["content_type"], record["size"]) == (
            "dot.png",
            "image/png",
            len(PNG),
        )
        assert record["author"] == "alice"

        size = page.evaluate("(src) => show(src)", record["links"]["content_direct_temporary"])
        assert size == [2, 1]
        stored = media.get("alice", f"/{record['sid']}/Content")
        assert stored.content == PNG

        refused = page.evaluate("(url) => anonymous(url)", media.url())
        assert refused["status"] == 401
        assert refused["body"]["code"] == 20003
    finally:
        context.close()
        media.close()


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def app() -> Iterator[str]:
    """The app's page, served from another port of 127.0.0.1: another origin, and (unlike a
    page Playwright makes up) one Chromium lets reach the loopback address space."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
