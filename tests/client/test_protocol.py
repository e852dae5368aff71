"""Frames and command bookkeeping, without sockets."""

from __future__ import annotations

import json

import pytest

from hubbub.client.errors import ChatError, FrameTooLarge
from hubbub.client.protocol import (
    MAX_FRAME,
    MalformedFrame,
    Push,
    Reply,
    Requests,
    decode,
    encode_command,
)


def test_a_command_carries_its_id_and_type() -> None:
    frame = json.loads(encode_command(7, "send_message", {"channel": "general", "body": "hé"}))
    assert frame == {"id": 7, "type": "send_message", "channel": "general", "body": "hé"}


def test_params_cannot_override_the_id_or_type() -> None:
    frame = json.loads(encode_command(3, "join", {"id": 99, "type": "leave"}))
    assert (frame["id"], frame["type"]) == (3, "join")


def test_frames_over_64_kib_of_utf8_are_refused_before_sending() -> None:
    encode_command(1, "send_message", {"body": "x" * (MAX_FRAME - 100)})
    with pytest.raises(FrameTooLarge):
        # Fewer than 64 Ki characters, but more than 64 KiB once encoded.
        encode_command(1, "send_message", {"body": "é" * (MAX_FRAME // 2)})


def test_decode_tells_replies_from_pushes() -> None:
    ok = decode('{"id": 4, "type": "reply", "ok": true, "result": {"index": 2}}')
    assert ok == Reply(4, True, {"index": 2}, {})
    error = decode(
        '{"id": 5, "type": "reply", "ok": false,'
        ' "error": {"code": 50404, "message": "no", "status": 409}}'
    )
    assert isinstance(error, Reply)
    assert not error.ok
    refusal = ChatError.from_json(error.error)
    assert (refusal.code, refusal.message, refusal.status) == (50404, "no", 409)
    push = decode('{"type": "typing_started", "channel_sid": "CH1", "identity": "bob"}')
    assert push == Push("typing_started", {"channel_sid": "CH1", "identity": "bob"})


@pytest.mark.parametrize(
    "text",
    ["not json", "[1]", '{"no": "type"}', '{"type": "reply"}', '{"type": "reply", "id": true}'],
)
def test_malformed_frames(text: str) -> None:
    with pytest.raises(MalformedFrame):
        decode(text)


def test_a_malformed_error_still_makes_a_chat_error() -> None:
    assert ChatError.from_json("boom").code == 0
    assert ChatError.from_json({"code": "x", "message": 3}).message == "3"


def reply(command_id: int | str) -> Reply:
    return Reply(command_id, True, {}, {})


def test_ids_increase_and_replies_find_their_waiter() -> None:
    requests: Requests[str] = Requests(timeout=10)
    first = requests.begin("first", now=100.0)
    second = requests.begin("second", now=101.0)
    assert (first.id, second.id) == (1, 2)
    assert (first.deadline, second.deadline) == (110.0, 111.0)
    # Replies may come in any order; each settles its own command once.
    assert requests.settle(reply(2)) == "second"
    assert requests.settle(reply(2)) is None
    assert requests.settle(reply(1)) == "first"
    assert len(requests) == 0


def test_unknown_and_foreign_ids_are_dropped() -> None:
    requests: Requests[str] = Requests(timeout=10)
    requests.begin("mine", now=0)
    assert requests.settle(reply(42)) is None
    assert requests.settle(reply("1")) is None  # we only ever send integers
    assert len(requests) == 1


def test_a_late_reply_after_a_timeout_is_not_taken_for_another() -> None:
    requests: Requests[str] = Requests(timeout=1)
    timed_out = requests.begin("timed out", now=0)
    requests.forget(timed_out.id)  # its caller gave up at the deadline
    after = requests.begin("after", now=2)
    assert requests.settle(reply(timed_out.id)) is None
    assert after.id != timed_out.id
    assert requests.settle(reply(after.id)) == "after"


def test_drain_hands_back_every_waiter() -> None:
    requests: Requests[str] = Requests(timeout=10)
    for name in "abc":
        requests.begin(name, now=0)
    assert sorted(requests.drain()) == ["a", "b", "c"]
    assert len(requests) == 0
    assert requests.begin("d", now=0).id == 4  # ids never repeat, even across connections


def test_the_token_is_not_at_the_start_of_a_frame() -> None:
    assert encode_command(1, "authenticate", {"token": "secret"}).startswith(
        '{"id":1,"type":"authenticate",'
    )
