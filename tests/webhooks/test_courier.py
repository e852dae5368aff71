"""The courier under faults it meets for real: a delivery that cannot even be signed, a lease
holder with a long name, a channel deleted with its webhooks."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from hubbub.chat.provision import new_account
from hubbub.store.records import Delivery, NewDelivery
from tests.webhooks.conftest import HookedServer


def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.02)


def test_a_delivery_that_cannot_be_signed_holds_up_only_its_own_lane(
    hooked: HookedServer,
) -> None:
    broken = new_account(hooked.store, hooked.box)
    # A sealed token the master key cannot open (sealed with another key, say).
    hooked.store.update_account(broken.account_sid, sealed_auth_token="not sealed by this key")
    url = f"{hooked.receiver.base_url}/post"
    hooked.store.queue_deliveries(
        [
            NewDelivery("lane-broken", broken.account_sid, url, "POST", (("N", "x"),), 1),
            NewDelivery("lane-fine", hooked.creds.account_sid, url, "POST", (("N", "a"),), 0),
            NewDelivery("lane-fine", hooked.creds.account_sid, url, "POST", (("N", "b"),), 0),
        ]
    )
    until(lambda: [d.new.lane for d in _queued(hooked)] == ["lane-broken"])
    # Its retry comes after a backoff: move the courier's clock past it; then it is given up.
    hooked.courier_clock.ahead += 60
    until(lambda: _queued(hooked) == [])
    assert [r.form["N"] for r in hooked.receiver.received] == ["a", "b"]  # each once
    hooked.receiver.assert_signed(hooked.creds.auth_token)


def _queued(hooked: HookedServer) -> list[Delivery]:
    return hooked.store.due_deliveries(now=float("inf"), limit=100)


def test_channel_webhooks_hear_their_channel_deleted(hooked: HookedServer) -> None:
    channel = hooked.service().channels.create(unique_name="doomed")
    hooked.service().channels(channel.sid).webhooks.create(
        type="webhook",
        configuration_url=f"{hooked.receiver.base_url}/channel",
        configuration_filters=["onChannelDestroyed"],
    )
    # twilio-python 9.x drops X-Twilio-Webhook-Enabled from its deletes (it builds the header,
    # then replaces it with none), so this one goes by hand.
    response = httpx.delete(
        f"{hooked.base_url}/v2/Services/{hooked.service_sid}/Channels/{channel.sid}",
        headers={"X-Twilio-Webhook-Enabled": "true"},
        auth=(hooked.creds.account_sid, hooked.creds.auth_token),
    )
    assert response.status_code == 204
    [request] = hooked.receiver.wait_for(1)
    assert request.event == "onChannelDestroyed"
    assert request.form["ChannelSid"] == channel.sid
    assert request.form["UniqueName"] == "doomed"
