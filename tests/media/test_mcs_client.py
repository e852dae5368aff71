"""Twilio's own media client (``@twilio/mcs-client`` 0.5.3, from the pinned SDKs) uploads to
and reads from hubbub's media service unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.media.support import Media
from tests.twilio_sdk.nodes import Node
from tests.twilio_sdk.sdks import node_modules

SCRIPT = Path(__file__).with_name("mcs_client.js")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    started = Node(tmp_path_factory.mktemp("mcs")).start()
    yield started
    started.close()


def test_twilios_media_client_works_unchanged(node: Node) -> None:
    binary = shutil.which("node")
    assert binary, "Node.js is needed (scripts/test installs it)"
    media = Media(node)
    env = {**os.environ, "NODE_PATH": str(node_modules())}
    done = subprocess.run(
        [binary, str(SCRIPT), media.url(), media.tokens.token("alice")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)

    posted = seen["posted"]
    assert posted == {
        "sid": posted["sid"],
        "serviceSid": media.service_sid,
        "channelSid": None,
        "messageSid": None,
        "size": 10,
        "contentType": "image/png",
        "filename": "dot.png",
        "category": "media",
        "author": "alice",
        "datesParsed": True,
    }
    assert seen["fetched"] == posted
    assert seen["set"] == [posted]
    assert httpx.get(seen["link"]).content == b"a png, say"
    media.close()
