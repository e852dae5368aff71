"""APNs over HTTP/2 against a local HTTP/2 server that checks tokens, headers and payloads."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hubbub.push import Notification, Outcome, PushCredential
from tests.push.conftest import NEW_MESSAGE, TOPIC, Apns, Pushers, apple_subject, dead_url
from tests.push.receivers import ApnsReceiver, Clock, Reply, apns_error, serving, unb64url
from tests.push.tls import Authority

DEVICE = "a1b2c3d4" * 8  # 32 bytes in hex, as iOS gives them
#: What a sender adds to an answer that blames the credential, not the device.
CREDENTIAL_HINT = "check the credential's Sandbox flag and Topic"


def test_a_notification_carries_aps_and_the_twi_fields(
    apns: Apns, make_pusher: Pushers, clock: Clock
) -> None:
    pusher = make_pusher(apns_url=apns.url)

    outcome = pusher.send(apns.credential, DEVICE, NEW_MESSAGE)

    assert outcome == Outcome(True, detail="apns: status 200")
    assert apns.receiver.problems == []  # HTTP/2, ES256 token, topic, type, priority, size
    [delivered] = apns.receiver.delivered
    assert delivered.device == DEVICE
    assert delivered.payload == {
        "aps": {
            "alert": {"title": "general", "body": "general;alice: hello there"},
            "sound": "default",
            "badge": 3,
            "category": "reply",
        },
        "channel_sid": "CH" + "a" * 32,
        "message_sid": "IM" + "b" * 32,
        "message_index": "7",
        "author": "alice",
        "channel_title": "general",
        "twi_message_type": "twilio.channel.new_message",
    }
    headers = delivered.headers
    assert (headers["apns-push-type"], headers["apns-priority"]) == ("alert", "10")
    assert headers["apns-topic"] == TOPIC
    assert abs(int(headers["apns-expiration"]) - (clock() + 24 * 3600)) < 5


def test_a_body_without_title_is_the_alert_string(apns: Apns, make_pusher: Pushers) -> None:
    pusher = make_pusher(apns_url=apns.url)
    notification = Notification("twilio.channel.added_to_channel", body="You were added")
    assert pusher.send(apns.credential, DEVICE, notification).ok
    payload = apns.receiver.delivered[0].payload
    assert payload == {
        "aps": {"alert": "You were added"},
        "twi_message_type": "twilio.channel.added_to_channel",
    }


def test_the_provider_token_is_reused_for_50_minutes(
    apns: Apns, make_pusher: Pushers, clock: Clock
) -> None:
    pusher = make_pusher(apns_url=apns.url)
    for _ in range(3):
        assert pusher.send(apns.credential, DEVICE, NEW_MESSAGE).ok
    clock.advance(49 * 60)
    assert pusher.send(apns.credential, DEVICE, NEW_MESSAGE).ok
    assert len(set(apns.receiver.provider_tokens)) == 1

    clock.advance(2 * 60)  # past 50 minutes, before Apple's hour is up
    assert pusher.send(apns.credential, DEVICE, NEW_MESSAGE).ok
    tokens = apns.receiver.provider_tokens
    assert len(set(tokens)) == 2
    claims = __import__("json").loads(unb64url(tokens[-1].split(".")[1]))
    assert claims == {"iss": "TEAM123456", "iat": int(clock())}
    assert apns.receiver.problems == []


def test_an_expired_provider_token_is_replaced_once(apns: Apns, make_pusher: Pushers) -> None:
    pusher = make_pusher(apns_url=apns.url)
    apns.receiver.script = [apns_error(403, "ExpiredProviderToken")]

    assert pusher.send(apns.credential, DEVICE, NEW_MESSAGE).ok

    tokens = apns.receiver.provider_tokens
    assert len(tokens) == 2
    assert tokens[0] != tokens[1]
    assert len(apns.receiver.delivered) == 2


def test_a_token_apple_keeps_finding_expired_is_not_renewed_in_a_loop(
    authority: Authority, clock: Clock, make_pusher: Pushers, tmp_path: Path
) -> None:
    # Apple's clock two hours ahead of ours: every token looks older than an hour to it.
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.push.tls import key_pem

    key = ec.generate_private_key(ec.SECP256R1())
    ahead = Clock()
    ahead.advance(2 * 3600)
    receiver = ApnsReceiver(ahead, TOPIC, "TEAM123456", "KEY1234567", key.public_key())
    with serving(receiver, authority, tmp_path) as url:
        settings = {"key_id": "KEY1234567", "team_id": "TEAM123456", "topic": TOPIC}
        credential = PushCredential(
            "CR" + "9" * 32, "apn", False, settings, {"private_key": key_pem(key)}
        )
        outcome = make_pusher(apns_url=url).send(credential, DEVICE, NEW_MESSAGE)
        make_pusher.close()
    assert outcome == Outcome(False, detail="apns: status 403 ExpiredProviderToken")
    assert len(receiver.provider_tokens) == 2


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            apns_error(410, "Unregistered"),
            Outcome(False, gone=True, detail="apns: status 410 Unregistered"),
        ),
        (
            apns_error(400, "BadDeviceToken"),
            Outcome(False, detail=f"apns: status 400 BadDeviceToken ({CREDENTIAL_HINT})"),
        ),
        (
            apns_error(400, "DeviceTokenNotForTopic"),
            Outcome(False, detail=f"apns: status 400 DeviceTokenNotForTopic ({CREDENTIAL_HINT})"),
        ),
        (apns_error(400, "BadTopic"), Outcome(False, detail="apns: status 400 BadTopic")),
        (
            apns_error(403, "InvalidProviderToken"),
            Outcome(False, detail="apns: status 403 InvalidProviderToken"),
        ),
        (
            apns_error(429, "TooManyRequests"),
            Outcome(False, retryable=True, detail="apns: status 429 TooManyRequests"),
        ),
        (
            apns_error(500, "InternalServerError"),
            Outcome(False, retryable=True, detail="apns: status 500 InternalServerError"),
        ),
        (
            apns_error(503, "ServiceUnavailable"),
            Outcome(False, retryable=True, detail="apns: status 503 ServiceUnavailable"),
        ),
    ],
)
def test_answers_are_classified(
    apns: Apns, make_pusher: Pushers, answer: Reply, expected: Outcome
) -> None:
    pusher = make_pusher(apns_url=apns.url)
    apns.receiver.script = [answer]
    outcome = pusher.send(apns.credential, DEVICE, NEW_MESSAGE)
    assert outcome == expected
    assert DEVICE not in outcome.detail


def test_sandbox_credentials_go_to_the_sandbox(apns: Apns, make_pusher: Pushers) -> None:
    sandboxed = dataclasses.replace(apns.credential, sandbox=True)
    pusher = make_pusher(apns_url=dead_url(), apns_sandbox_url=apns.url)
    assert pusher.send(sandboxed, DEVICE, NEW_MESSAGE).ok
    production = pusher.send(apns.credential, DEVICE, NEW_MESSAGE)
    assert production.retryable
    assert not production.ok
    assert DEVICE not in production.detail
    assert len(apns.receiver.delivered) == 1


def test_a_long_body_is_cut_to_fit_4096_bytes(apns: Apns, make_pusher: Pushers) -> None:
    pusher = make_pusher(apns_url=apns.url)
    text = "日本語のメッセージ " * 600
    long = dataclasses.replace(NEW_MESSAGE, body=text)

    assert pusher.send(apns.credential, DEVICE, long).ok

    assert apns.receiver.problems == []
    [delivered] = apns.receiver.delivered
    assert 4000 < delivered.size <= 4096
    body = delivered.payload["aps"]["alert"]["body"]
    assert body.endswith("…")
    assert text.startswith(body[:-1])
    assert delivered.payload["message_sid"] == NEW_MESSAGE.data["message_sid"]


def test_a_device_token_that_is_not_hex_is_gone_without_a_request(
    apns: Apns, make_pusher: Pushers
) -> None:
    outcome = make_pusher(apns_url=apns.url).send(apns.credential, "../../x?y", NEW_MESSAGE)
    assert outcome == Outcome(False, gone=True, detail="apns: the device token is not hex")
    assert apns.receiver.delivered == []


def test_certificate_credentials_authenticate_with_tls_client_certificates(
    authority: Authority, clock: Clock, make_pusher: Pushers, tmp_path: Path
) -> None:
    apple = Authority("Apple Worldwide Developer Relations (test)")
    certificate, private_key = apple.issue(apple_subject(), client=True)
    receiver = ApnsReceiver(clock, TOPIC)  # no provider token expected
    with serving(receiver, authority, tmp_path, client_ca=apple) as url:
        pusher = make_pusher(apns_url=url)
        credential = PushCredential(
            "CR" + "b" * 32,
            "apn",
            False,
            {},  # the topic comes from the certificate
            {"certificate": certificate, "private_key": private_key},
        )
        for _ in range(2):
            assert pusher.send(credential, DEVICE, NEW_MESSAGE).ok
        assert receiver.problems == []
        assert len(receiver.delivered) == 2
        assert "authorization" not in receiver.delivered[0].headers

        # The credential's certificate replaced by one the server's CA did not sign: it is
        # presented from then on, and the TLS handshake fails.
        stranger, stranger_key = Authority().issue(apple_subject(), client=True)
        credential = dataclasses.replace(
            credential, secrets={"certificate": stranger, "private_key": stranger_key}
        )
        outcome = pusher.send(credential, DEVICE, NEW_MESSAGE)
        assert not outcome.ok
        assert outcome.retryable
        assert len(receiver.delivered) == 2

        # Renewed again, with a good one: delivered again.
        renewed, renewed_key = apple.issue(apple_subject(), client=True)
        credential = dataclasses.replace(
            credential, secrets={"certificate": renewed, "private_key": renewed_key}
        )
        assert pusher.send(credential, DEVICE, NEW_MESSAGE).ok
        assert len(receiver.delivered) == 3
        make_pusher.close()


def test_bad_key_material_is_a_failure_not_an_exception(apns: Apns, make_pusher: Pushers) -> None:
    broken = dataclasses.replace(apns.credential, secrets={"private_key": "not a key"})
    outcome = make_pusher(apns_url=apns.url).send(broken, DEVICE, NEW_MESSAGE)
    assert outcome == Outcome(
        False, detail="apns: bad credential: the .p8 private key is not a PEM private key"
    )


def test_a_slow_answer_is_a_timeout_worth_another_try(apns: Apns, make_pusher: Pushers) -> None:
    pusher = make_pusher(apns_url=apns.url)
    apns.receiver.script = [Reply(200, delay=1.0)]
    outcome = pusher.send(apns.credential, DEVICE, NEW_MESSAGE, timeout=0.3)
    assert outcome == Outcome(False, retryable=True, detail="apns: timed out")


def test_threads_sending_at_once_share_one_connection_and_token(
    apns: Apns, make_pusher: Pushers
) -> None:
    pusher = make_pusher(apns_url=apns.url)
    devices = [f"{i:064x}" for i in range(32)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda d: pusher.send(apns.credential, d, NEW_MESSAGE), devices))
    assert [o for o in outcomes if not o.ok] == []
    assert apns.receiver.problems == []
    assert len(set(apns.receiver.provider_tokens)) == 1
    assert sorted(d.device for d in apns.receiver.delivered) == devices
