"""The server, the Python SDK and the browser client agree on the protocol's constants: the
event names, the close codes (and what each tells a client to do), and the frame limit.

The JS values are read by importing the browser client under Node.js, as a browser would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

# Where each side keeps its constants; if one moves, only these lines change.
from hubbub.client.events import EVENTS as SDK_EVENTS
from hubbub.client.policy import CloseCode as SdkCloseCode
from hubbub.client.policy import after_close as sdk_after_close
from hubbub.client.protocol import MAX_FRAME as SDK_MAX_FRAME
from hubbub.realtime.protocol import ADVICE as SERVER_ADVICE
from hubbub.realtime.protocol import MAX_FRAME as SERVER_MAX_FRAME
from hubbub.realtime.protocol import CloseCode as ServerCloseCode

STATIC = Path(__file__).resolve().parents[2] / "src" / "hubbub" / "web" / "static"
CLIENT = STATIC / "hubbub-client.js"  # the entry module: what pages import

#: Codes the clients know that no server sends: 1006 is what a WebSocket reports when the
#: connection dropped without a close frame.
CLIENT_ONLY = {"ABNORMAL": 1006}

#: The JS client's names for the SDK's actions.
JS_ACTIONS = {"refresh": "refresh token, then reconnect"}

SCRIPT = """
const client = await import(process.argv[1]);
const codes = JSON.parse(process.argv[2]);
console.log(JSON.stringify({
  events: client.EVENTS,
  closeCodes: client.CloseCode,
  maxFrame: client.MAX_FRAME,
  advice: codes.map((code) => [
    code, client.afterClose(code, true), client.afterClose(code, false),
  ]),
}));
"""

#: WebSocket-level codes the clients give up on, besides the server's own.
WEBSOCKET_CODES = [1002, 1003, 1007, 1008, 1009, 1010]


@pytest.fixture(scope="module")
def js() -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "Node.js is missing (scripts/test installs Debian's nodejs)"
    codes = sorted({*(c.value for c in SdkCloseCode), *WEBSOCKET_CODES, 4999})
    done = subprocess.run(
        [node, "--input-type=module", "-e", SCRIPT, CLIENT.as_uri(), json.dumps(codes)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    values: dict[str, Any] = json.loads(done.stdout)
    return values


def test_event_names(js: dict[str, Any]) -> None:
    assert len(js["events"]) == len(set(js["events"]))
    assert set(js["events"]) == set(SDK_EVENTS)


def test_close_codes(js: dict[str, Any]) -> None:
    server = {code.name: code.value for code in ServerCloseCode}
    sdk = {code.name: code.value for code in SdkCloseCode}
    assert sdk == {**server, **CLIENT_ONLY}
    assert js["closeCodes"] == sdk


def test_frame_limit(js: dict[str, Any]) -> None:
    assert SERVER_MAX_FRAME == SDK_MAX_FRAME == js["maxFrame"]


def test_what_each_close_code_means(js: dict[str, Any]) -> None:
    for code, can_refresh, cannot_refresh in js["advice"]:
        sdk = sdk_after_close(code, can_refresh=True).value
        assert JS_ACTIONS.get(can_refresh, can_refresh) == sdk, code
        assert cannot_refresh == sdk_after_close(code, can_refresh=False).value, code
    for code, advice in SERVER_ADVICE.items():
        assert sdk_after_close(code, can_refresh=True).value == advice, code
