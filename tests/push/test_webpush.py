"""Web Push against a local push service that verifies VAPID and decrypts the message."""

from __future__ import annotations

import dataclasses
import json

import pytest

from hubbub.push import Notification, Outcome, new_vapid_key
from hubbub.webhooks.addresses import Guard
from tests.push.conftest import NEW_MESSAGE, Pushers, WebPush
from tests.push.receivers import Clock, Reply, b64url

#: 65 bytes that start 0x04, as an uncompressed point does, but not on P-256.
OFF_CURVE = b64url(b"\x04" + b"\x01" * 64)


def test_a_message_is_encrypted_for_the_subscription_and_signed_with_vapid(
    webpush: WebPush, make_pusher: Pushers, clock: Clock
) -> None:
    pusher = make_pusher()
    address = webpush.receiver.subscribe()

    outcome = pusher.send(webpush.credential, address, NEW_MESSAGE)

    assert outcome == Outcome(True, detail="webpush: status 201")
    assert webpush.receiver.problems == []  # VAPID signature and claims, aes128gcm, headers
    [pushed] = webpush.receiver.pushed
    assert pushed.message == {
        "twi_message_type": "twilio.channel.new_message",
        "twi_body": "general;alice: hello there",
        "twi_title": "general",
        "twi_sound": "default",
        "twi_action": "reply",
        "channel_sid": "CH" + "a" * 32,
        "message_sid": "IM" + "b" * 32,
        "message_index": "7",
        "author": "alice",
        "channel_title": "general",
        "body": "general;alice: hello there",
        "title": "general",
    }
    assert pushed.headers["ttl"] == "86400"
    assert pushed.headers["urgency"] == "high"
    assert pushed.headers["content-type"] == "application/octet-stream"
    assert pushed.claims["sub"] == "mailto:ops@example.com"
    assert pushed.claims["aud"] == webpush.receiver.base_url
    assert 0 < pushed.claims["exp"] - clock() <= 24 * 3600


def test_each_message_has_its_own_key_and_salt(webpush: WebPush, make_pusher: Pushers) -> None:
    pusher = make_pusher()
    address = webpush.receiver.subscribe()
    for _ in range(2):
        assert pusher.send(webpush.credential, address, NEW_MESSAGE).ok
    first, second = webpush.receiver.pushed
    assert first.message == second.message
    assert webpush.receiver.problems == []
    assert len(webpush.receiver.salts) == 2
    assert len(set(webpush.receiver.salts)) == 2
    assert len(set(webpush.receiver.sender_keys)) == 2


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Outcome(True, detail="webpush: status 200")),
        (410, Outcome(False, gone=True, detail="webpush: status 410")),
        (404, Outcome(False, gone=True, detail="webpush: status 404")),
        (413, Outcome(False, detail="webpush: status 413")),
        (400, Outcome(False, detail="webpush: status 400")),
        (429, Outcome(False, retryable=True, detail="webpush: status 429")),
        (500, Outcome(False, retryable=True, detail="webpush: status 500")),
        (503, Outcome(False, retryable=True, detail="webpush: status 503")),
    ],
)
def test_answers_are_classified(
    webpush: WebPush, make_pusher: Pushers, status: int, expected: Outcome
) -> None:
    address = webpush.receiver.subscribe()
    webpush.receiver.script = [Reply(status)]
    outcome = make_pusher().send(webpush.credential, address, NEW_MESSAGE)
    assert outcome == expected
    assert webpush.receiver.problems == []


def test_a_long_body_is_cut_to_fit_one_4096_byte_record(
    webpush: WebPush, make_pusher: Pushers
) -> None:
    text = "Ünïcödé ✉️ " * 800
    long = dataclasses.replace(NEW_MESSAGE, body=text)
    address = webpush.receiver.subscribe()

    assert make_pusher().send(webpush.credential, address, long).ok

    assert webpush.receiver.problems == []
    [pushed] = webpush.receiver.pushed
    assert 3900 < pushed.size <= 4096
    assert pushed.message["body"] == pushed.message["twi_body"]
    assert pushed.message["body"].endswith("…")
    assert text.startswith(pushed.message["body"][:-1])


def test_the_guard_refuses_a_subscription_on_a_private_address(
    webpush: WebPush, make_pusher: Pushers
) -> None:
    # The default guard: public addresses only, as in production.
    pusher = make_pusher(guard=Guard())
    address = webpush.receiver.subscribe()

    outcome = pusher.send(webpush.credential, address, NEW_MESSAGE)

    assert outcome.ok is False
    assert outcome.retryable is False
    assert outcome.gone is False
    assert outcome.detail.startswith("webpush: refused: ")
    assert "127.0.0.1 (loopback)" in outcome.detail
    assert webpush.receiver.pushed == []


def test_a_vapid_key_the_browser_does_not_know_is_refused(
    webpush: WebPush, make_pusher: Pushers
) -> None:
    private, public = new_vapid_key()
    other = dataclasses.replace(
        webpush.credential,
        settings={**webpush.credential.settings, "public_key": public},
        secrets={"private_key": private},
    )
    outcome = make_pusher().send(other, webpush.receiver.subscribe(), NEW_MESSAGE)
    assert outcome == Outcome(False, detail="webpush: status 403")
    assert webpush.receiver.pushed == []


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("not json", "the subscription is not JSON"),
        ('{"endpoint": "https://push.example.com/x"}', "the subscription has no keys"),
        (
            '{"endpoint": "http://push.example.com/x", "keys": {"p256dh": "", "auth": ""}}',
            "the subscription's endpoint is not an https URL",
        ),
        (
            '{"endpoint": "https://push.example.com/x",'
            ' "keys": {"p256dh": "AAAA", "auth": "AAAA"}}',
            "keys.p256dh is not an uncompressed P-256 point",
        ),
        (
            json.dumps(
                {
                    "endpoint": "https://push.example.com/x",
                    "keys": {"p256dh": OFF_CURVE, "auth": "A" * 22},
                }
            ),
            "keys.p256dh is not a point on P-256",
        ),
        ("[" * 5000, "the subscription is not JSON"),
    ],
)
def test_a_malformed_subscription_is_gone(
    webpush: WebPush, make_pusher: Pushers, address: str, reason: str
) -> None:
    outcome = make_pusher().send(webpush.credential, address, NEW_MESSAGE)
    assert outcome == Outcome(False, gone=True, detail=f"webpush: {reason}")


def test_a_subscription_with_a_wrong_auth_secret_length_is_gone(
    webpush: WebPush, make_pusher: Pushers
) -> None:
    subscription = json.loads(webpush.receiver.subscribe())
    subscription["keys"]["auth"] = "AAAA"
    outcome = make_pusher().send(webpush.credential, json.dumps(subscription), NEW_MESSAGE)
    assert outcome == Outcome(False, gone=True, detail="webpush: keys.auth is not 16 bytes")


def test_no_answer_is_worth_another_try(webpush: WebPush, make_pusher: Pushers) -> None:
    from tests.push.conftest import dead_url

    subscription = json.loads(webpush.receiver.subscribe())
    subscription["endpoint"] = dead_url() + "/push/x"
    outcome = make_pusher().send(webpush.credential, json.dumps(subscription), NEW_MESSAGE)
    assert outcome.retryable
    assert not outcome.gone
    assert not outcome.ok
    assert outcome.detail.startswith("webpush: cannot connect to 127.0.0.1:")


def test_a_title_alone_makes_a_message_too(webpush: WebPush, make_pusher: Pushers) -> None:
    notification = Notification("twilio.channel.removed_from_channel", title="general")
    assert make_pusher().send(webpush.credential, webpush.receiver.subscribe(), notification).ok
    assert webpush.receiver.pushed[0].message == {
        "twi_message_type": "twilio.channel.removed_from_channel",
        "twi_title": "general",
        "title": "general",
    }


def test_a_slow_answer_is_a_timeout_worth_another_try(
    webpush: WebPush, make_pusher: Pushers
) -> None:
    webpush.receiver.script = [Reply(201, delay=1.0)]
    address = webpush.receiver.subscribe()
    outcome = make_pusher().send(webpush.credential, address, NEW_MESSAGE, timeout=0.3)
    assert outcome.retryable
    assert outcome.detail.startswith("webpush: no answer from 127.0.0.1:")
