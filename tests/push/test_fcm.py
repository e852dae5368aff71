"""FCM HTTP v1 against a local token endpoint and send endpoint that check what they get."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from hubbub.push import Notification, Outcome, PushCredential
from hubbub.webhooks.addresses import Guard
from tests.push.conftest import NEW_MESSAGE, Fcm, Pushers, dead_url
from tests.push.receivers import Clock, Reply, fcm_error

DEVICE = "fcm-registration-token:APA91b" + "x" * 100


def test_a_message_carries_the_twi_fields_in_data_as_strings(
    fcm: Fcm, make_pusher: Pushers
) -> None:
    pusher = make_pusher(fcm_url=fcm.receiver.base_url)

    outcome = pusher.send(fcm.credential, DEVICE, NEW_MESSAGE)

    assert outcome == Outcome(True, detail="fcm: status 200")
    assert fcm.receiver.problems == []
    [message] = fcm.receiver.messages
    assert message["token"] == DEVICE
    assert message["data"] == {
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
    }
    assert message["android"]["priority"] == "high"
    assert "notification" not in message  # a data message: the SDK builds what is shown
    assert fcm.receiver.grants == 1


def test_the_access_token_is_kept_until_shortly_before_it_expires(
    fcm: Fcm, make_pusher: Pushers, clock: Clock
) -> None:
    pusher = make_pusher(fcm_url=fcm.receiver.base_url)
    for _ in range(3):
        assert pusher.send(fcm.credential, DEVICE, NEW_MESSAGE).ok
    assert fcm.receiver.grants == 1
    assert len(set(fcm.receiver.bearers)) == 1

    clock.advance(3000)  # 50 minutes of a 3599 s token: still good
    assert pusher.send(fcm.credential, DEVICE, NEW_MESSAGE).ok
    assert fcm.receiver.grants == 1

    clock.advance(400)  # within the last 5 minutes: renewed before it could lapse in flight
    assert pusher.send(fcm.credential, DEVICE, NEW_MESSAGE).ok
    assert fcm.receiver.grants == 2
    assert fcm.receiver.bearers[-1] != fcm.receiver.bearers[0]
    assert fcm.receiver.problems == []


def test_a_short_lived_token_is_renewed_halfway(
    fcm: Fcm, make_pusher: Pushers, clock: Clock
) -> None:
    fcm.receiver.token_lifetime = 120
    pusher = make_pusher(fcm_url=fcm.receiver.base_url)
    assert pusher.send(fcm.credential, DEVICE, NEW_MESSAGE).ok
    clock.advance(50)
    assert pusher.send(fcm.credential, DEVICE, NEW_MESSAGE).ok
    assert fcm.receiver.grants == 1
    clock.advance(20)
    assert pusher.send(fcm.credential, DEVICE, NEW_MESSAGE).ok
    assert fcm.receiver.grants == 2


def test_a_refused_token_is_replaced_once(fcm: Fcm, make_pusher: Pushers) -> None:
    pusher = make_pusher(fcm_url=fcm.receiver.base_url)
    assert pusher.send(fcm.credential, DEVICE, NEW_MESSAGE).ok
    fcm.receiver.revoke_all()  # Google no longer takes the cached token

    assert pusher.send(fcm.credential, DEVICE, NEW_MESSAGE).ok
    assert fcm.receiver.grants == 2
    assert len(fcm.receiver.messages) == 2

    # Refused again after the renewal: no loop of renewals, a failure to report.
    fcm.receiver.script = [Reply(401), Reply(401), Reply(200)]
    outcome = pusher.send(fcm.credential, DEVICE, NEW_MESSAGE)
    assert outcome == Outcome(False, detail="fcm: status 401")
    assert fcm.receiver.grants == 3
    assert fcm.receiver.script == [Reply(200)]


def test_tokens_are_kept_per_credential(fcm: Fcm, make_pusher: Pushers) -> None:
    pusher = make_pusher(fcm_url=fcm.receiver.base_url)
    other = PushCredential("CR" + "e" * 32, "fcm", False, {}, fcm.credential.secrets)
    assert pusher.send(fcm.credential, DEVICE, NEW_MESSAGE).ok
    assert pusher.send(other, DEVICE, NEW_MESSAGE).ok
    assert pusher.send(fcm.credential, DEVICE, NEW_MESSAGE).ok
    assert fcm.receiver.grants == 2


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            fcm_error(404, "UNREGISTERED", "NOT_FOUND"),
            Outcome(False, gone=True, detail="fcm: status 404 UNREGISTERED"),
        ),
        (
            fcm_error(
                400,
                "INVALID_ARGUMENT",
                "INVALID_ARGUMENT",
                **{
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [
                        {"field": "message.token", "description": "Invalid registration token"}
                    ],
                },
            ),
            Outcome(False, gone=True, detail="fcm: status 400 INVALID_ARGUMENT"),
        ),
        (  # invalid, but not the token: the message itself, which a retry will not mend
            fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
            Outcome(False, detail="fcm: status 400 INVALID_ARGUMENT"),
        ),
        (
            fcm_error(403, "SENDER_ID_MISMATCH", "PERMISSION_DENIED"),
            Outcome(False, detail="fcm: status 403 SENDER_ID_MISMATCH"),
        ),
        (
            fcm_error(429, "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED"),
            Outcome(False, retryable=True, detail="fcm: status 429 QUOTA_EXCEEDED"),
        ),
        (
            fcm_error(500, "INTERNAL", "INTERNAL"),
            Outcome(False, retryable=True, detail="fcm: status 500 INTERNAL"),
        ),
        (
            fcm_error(503, "UNAVAILABLE", "UNAVAILABLE"),
            Outcome(False, retryable=True, detail="fcm: status 503 UNAVAILABLE"),
        ),
    ],
)
def test_answers_are_classified(
    fcm: Fcm, make_pusher: Pushers, answer: Reply, expected: Outcome
) -> None:
    pusher = make_pusher(fcm_url=fcm.receiver.base_url)
    fcm.receiver.script = [answer]
    outcome = pusher.send(fcm.credential, DEVICE, NEW_MESSAGE)
    assert outcome == expected
    assert DEVICE not in outcome.detail
    assert fcm.receiver.problems == []


def test_a_long_body_is_cut_to_fit_fcm_s_limit(fcm: Fcm, make_pusher: Pushers) -> None:
    pusher = make_pusher(fcm_url=fcm.receiver.base_url)
    text = "général 💬 " * 1000
    long = Notification("twilio.channel.new_message", body=text, data=NEW_MESSAGE.data)

    assert pusher.send(fcm.credential, DEVICE, long).ok

    assert fcm.receiver.problems == []
    data = fcm.receiver.messages[0]["data"]
    assert data["twi_body"].endswith("…")
    assert text.startswith(data["twi_body"][:-1])
    assert len(data["twi_body"]) > 1000  # cut, not emptied
    assert data["channel_sid"] == NEW_MESSAGE.data["channel_sid"]


def test_what_cannot_fit_is_not_sent(fcm: Fcm, make_pusher: Pushers) -> None:
    pusher = make_pusher(fcm_url=fcm.receiver.base_url)
    huge = Notification("twilio.channel.new_message", title="t" * 5000, body="hello")
    outcome = pusher.send(fcm.credential, DEVICE, huge)
    assert outcome == Outcome(
        False, detail="fcm: the payload is over 4000 bytes even without its body text"
    )
    assert fcm.receiver.grants == 0
    assert fcm.receiver.messages == []


def test_a_key_google_does_not_know_gets_no_token(fcm: Fcm, make_pusher: Pushers) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.push.tls import key_pem

    pusher = make_pusher(fcm_url=fcm.receiver.base_url)
    account = dict(fcm.credential.secrets["service_account"])
    account["private_key"] = key_pem(rsa.generate_private_key(65537, 2048))
    wrong = PushCredential("CR" + "d" * 32, "fcm", False, {}, {"service_account": account})

    outcome = pusher.send(wrong, DEVICE, NEW_MESSAGE)

    assert outcome == Outcome(False, detail="fcm token endpoint: status 403")
    assert fcm.receiver.problems == ["the JWT's signature does not verify"]
    assert fcm.receiver.messages == []


def test_no_answer_is_worth_another_try(fcm: Fcm, make_pusher: Pushers) -> None:
    pusher = make_pusher(fcm_url=dead_url())
    assert pusher.send(fcm.credential, DEVICE, NEW_MESSAGE).ok is False  # token comes, send fails
    outcome = pusher.send(fcm.credential, DEVICE, NEW_MESSAGE)
    assert outcome.retryable
    assert not outcome.gone
    assert outcome.detail.startswith("fcm: ConnectError")

    account = dict(fcm.credential.secrets["service_account"], token_uri=dead_url() + "/token")
    unreachable = PushCredential("CR" + "d" * 32, "fcm", False, {}, {"service_account": account})
    outcome = make_pusher(fcm_url=fcm.receiver.base_url).send(unreachable, DEVICE, NEW_MESSAGE)
    assert outcome.retryable
    assert outcome.detail.startswith("fcm token endpoint: cannot connect to 127.0.0.1:")


def test_the_guard_keeps_a_token_uri_off_private_addresses(fcm: Fcm, make_pusher: Pushers) -> None:
    # token_uri comes with the uploaded service account, not from the operator: by default
    # (public addresses only) one on loopback is refused before any connection.
    pusher = make_pusher(fcm_url=fcm.receiver.base_url, guard=Guard())
    outcome = pusher.send(fcm.credential, DEVICE, NEW_MESSAGE)
    assert outcome.ok is False
    assert outcome.retryable is False
    assert outcome.detail.startswith("fcm token endpoint: refused: ")
    assert "127.0.0.1 (loopback)" in outcome.detail
    assert fcm.receiver.grants == 0


def test_a_slow_answer_is_a_timeout_worth_another_try(fcm: Fcm, make_pusher: Pushers) -> None:
    pusher = make_pusher(fcm_url=fcm.receiver.base_url)
    fcm.receiver.script = [Reply(200, delay=1.0)]
    outcome = pusher.send(fcm.credential, DEVICE, NEW_MESSAGE, timeout=0.3)
    assert outcome == Outcome(False, retryable=True, detail="fcm: timed out")


def test_threads_sending_at_once_share_one_access_token(fcm: Fcm, make_pusher: Pushers) -> None:
    pusher = make_pusher(fcm_url=fcm.receiver.base_url)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(
            pool.map(lambda i: pusher.send(fcm.credential, f"{DEVICE}{i}", NEW_MESSAGE), range(32))
        )
    assert all(outcome.ok for outcome in outcomes)
    assert fcm.receiver.grants == 1
    assert sorted(m["token"] for m in fcm.receiver.messages) == sorted(
        f"{DEVICE}{i}" for i in range(32)
    )
