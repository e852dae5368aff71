"""The driver loads each pinned SDK for real, and the SDK really tries to connect.

No hubbub server here: the client is aimed at a loopback port where nothing listens, and must
report the refused connection, as an event and as a failed ``create``, within its timeout.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from hubbub.tokens import AccessToken, ChatGrant
from tests.support import ACCOUNT_SID, KEY_SID, SECRET, SERVICE_SID
from tests.twilio_sdk.driver import Driver, DriverError
from tests.twilio_sdk.sdks import PACKAGES, SDKS, browser_bundle


@pytest.fixture(params=SDKS)
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    with Driver(request.param) as started:
        yield started


def closed_port() -> int:
    """A loopback port that was free a moment ago, so that connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def token(identity: str) -> str:
    grant = ChatGrant(service_sid=SERVICE_SID)
    return AccessToken(ACCOUNT_SID, KEY_SID, SECRET, grants=[grant], identity=identity).to_jwt()


def pinned_version(sdk: str) -> str:
    (spec,) = [package for package in PACKAGES if package.startswith(f"{sdk}@")]
    return spec.rsplit("@", 1)[1]


def test_the_pinned_release_is_the_one_loaded(driver: Driver) -> None:
    assert driver.version == pinned_version(driver.sdk)
    assert driver.call("ping") == {"sdk": driver.sdk, "version": driver.version, "clients": []}


def test_a_refused_connection_fails_create_and_is_reported(driver: Driver) -> None:
    uri = f"ws://127.0.0.1:{closed_port()}/v3/wsconnect"
    with pytest.raises(DriverError) as failed:
        driver.call("create", client="alice", token=token("alice"), uri=uri, timeoutMs=2000)
    # twilio-chat 5.x keeps retrying until the timeout; the others give up on the first error.
    assert failed.value.kind == ("timeout" if driver.sdk == "chat5" else "init")
    assert "ECONNREFUSED" in failed.value.message

    refused = driver.wait_event("connectionError", client="alice")
    assert "ECONNREFUSED" in refused["data"]["message"]
    assert refused["data"]["sdkEvent"] == "connectionError"
    assert refused["data"]["terminal"] is False
    # A failed client is shut down and forgotten; the driver goes on answering.
    assert driver.call("ping")["clients"] == []
    with pytest.raises(DriverError) as gone:
        driver.call("subscribedChannels", client="alice")
    assert gone.value.kind == "usage"
    assert driver.events("unhandledRejection") == []
    assert driver.events("uncaughtException") == []


def test_ops_the_sdk_lacks_say_so(driver: Driver) -> None:
    with pytest.raises(DriverError) as unknown:
        driver.call("frobnicate")
    assert unknown.value.kind == "usage"
    if driver.sdk.startswith("conv"):
        with pytest.raises(DriverError) as missing:
            driver.call("publicChannels", client="alice")
        assert missing.value.kind == "unsupported"


@pytest.mark.parametrize("sdk", SDKS)
def test_each_sdk_has_its_browser_bundle(sdk: str) -> None:
    bundle = browser_bundle(sdk)
    assert bundle.name.endswith(".min.js")
    assert bundle.stat().st_size > 100_000
    assert pinned_version(sdk) in bundle.read_text(encoding="utf-8")
