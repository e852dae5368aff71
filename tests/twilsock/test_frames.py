"""twilsock framing without I/O: what ``encode`` writes ``parse`` reads back, and every frame
that is not twilsock is refused with ``FrameError`` (the connection then closes with 406)."""

from __future__ import annotations

import json

import pytest

from hubbub.twilsock import frames
from hubbub.twilsock.frames import MAGIC, MAX_FRAME, Frame, FrameError


def raw(header: bytes | str, payload: bytes = b"", *, size: int | str | None = None) -> bytes:
    """A frame assembled by hand: ``size`` overrides the header length the magic line names."""
    head = header.encode() if isinstance(header, str) else header
    named = str(len(head) if size is None else size).encode()
    return MAGIC + named + b"\r\n" + head + b"\r\n" + payload


def test_round_trip_counts_bytes_not_characters() -> None:
    header = {"method": "message", "id": "RQ1", "note": "héllo ✓ 🐍"}
    payload = {"body": "naïve – ünïcödé 🎉", "n": [1, 2, 3]}
    data = frames.encode(header, payload)
    parsed = frames.parse(data)
    assert parsed.method == "message"
    assert parsed.id == "RQ1"
    assert parsed.header["note"] == "héllo ✓ 🐍"
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert parsed.payload == body
    # Multi-byte characters: the sizes are counted in bytes, which differ from characters.
    assert parsed.header["payload_size"] == len(body) > len(body.decode())
    assert parsed.header["payload_type"] == "application/json"
    assert parsed.body() == payload
    # The magic line names the header's length in bytes.
    magic_line, head, _ = data.split(b"\r\n", 2)
    assert int(magic_line[len(MAGIC) :]) == len(head) > len(head.decode())
    assert json.loads(head) == parsed.header


def test_round_trip_without_payload_and_with_bytes() -> None:
    empty = frames.parse(frames.encode({"method": "ping", "id": "P1"}))
    assert (empty.payload, empty.header["payload_size"], empty.body()) == (b"", 0, None)
    assert "payload_type" not in empty.header
    blob = "ß=1&x=✓".encode()
    header = {"method": "message", "id": "B1", "payload_type": "text/plain"}
    parsed = frames.parse(frames.encode(header, blob))
    assert parsed.payload == blob
    assert parsed.header["payload_size"] == len(blob)
    assert parsed.body() == "ß=1&x=✓"  # another type comes back as text


def test_a_header_alone_needs_no_trailing_line_break() -> None:
    head = b'{"method":"ping","id":"x"}'
    parsed = frames.parse(MAGIC + str(len(head)).encode() + b"\r\n" + head)
    assert parsed.method == "ping"
    assert parsed.payload == b""


def test_method_and_id_that_are_not_strings_read_as_empty() -> None:
    parsed = frames.parse(raw('{"method": 5, "id": ["x"]}'))
    assert (parsed.method, parsed.id) == ("", "")


def test_bodies_by_payload_type() -> None:
    form = frames.parse(
        frames.encode(
            {"method": "message", "id": "F", "payload_type": "application/x-www-form-urlencoded"},
            b"ChannelSid=CH123&Empty=&Name=caf%C3%A9+au+lait",
        )
    )
    assert form.body() == {"ChannelSid": "CH123", "Empty": "", "Name": "café au lait"}
    charset = frames.parse(
        frames.encode(
            {"method": "message", "id": "J", "payload_type": "application/json; charset=utf-8"},
            b'{"a": [1, {"b": null}]}',
        )
    )
    assert charset.body() == {"a": [1, {"b": None}]}
    # Without a payload_type, a payload is JSON.
    untyped = Frame({"method": "message"}, b"[1,2]")
    assert untyped.body() == [1, 2]


@pytest.mark.parametrize(
    ("payload_type", "payload"),
    [
        ("application/json", b"{not json"),
        ("application/json", b"\xff\xfe"),
        ("application/x-www-form-urlencoded", b"a=\xff"),
    ],
)
def test_a_body_that_is_not_its_type_raises_value_error(payload_type: str, payload: bytes) -> None:
    frame = frames.parse(
        frames.encode({"method": "message", "id": "x", "payload_type": payload_type}, payload)
    )
    with pytest.raises(ValueError):  # noqa: PT011 - what the docstring promises, any kind
        frame.body()


HOSTILE = {
    "empty": b"",
    "wrong magic": b"TWILSOCK V2.0 2\r\n{}\r\n",
    "lower-case magic": b"twilsock v3.0 2\r\n{}\r\n",
    "json instead": b'{"method": "init"}',
    "no header length": MAGIC + b"\r\n{}\r\n",
    "no line break": MAGIC + b"2{}",
    "non-numeric length": MAGIC + b"two\r\n{}\r\n",
    "negative length": MAGIC + b"-2\r\n{}\r\n",
    "signed length": MAGIC + b"+2\r\n{}\r\n",
    "length with spaces": MAGIC + b" 2\r\n{}\r\n",
    "length too far out": MAGIC + b"0" * 20 + b"2\r\n{}\r\n",
    "length longer than data": raw("{}", size=50),
    "length shorter than header": raw('{"method":"ping"}', size=5),
    "length overshooting the header": raw('{"method":"ping"}XY', size=19),
    "zero length": raw("", size=0),
    "header not json": raw("{method: ping}"),
    "header not utf-8": raw(b'{"m": "\xff"}'),
    "header a list": raw('["method", "init"]'),
    "header a string": raw('"init"'),
    "header a number": raw("42"),
    "header null": raw("null"),
    "deeply nested header": raw('{"a":' + "[" * 100_000 + "]" * 100_000 + "}"),
    "deeply nested objects": raw('{"a":' * 50_000 + "1" + "}" * 50_000),
    "payload too big": raw('{"payload_size": 2}', b"abc"),
    "payload too small": raw('{"payload_size": 4}', b"abc"),
    "payload unannounced": raw('{"method": "message"}', b"abc"),
    "payload_size negative": raw('{"payload_size": -1}'),
    "payload_size negative with payload": raw('{"payload_size": -3}', b"abc"),
    "payload_size true": raw('{"payload_size": true}', b"a"),
    "payload_size false": raw('{"payload_size": false}'),
    "payload_size a string": raw('{"payload_size": "3"}', b"abc"),
    "payload_size an empty string": raw('{"payload_size": ""}'),
    "payload_size a float": raw('{"payload_size": 3.0}', b"abc"),
    "payload_size zero float": raw('{"payload_size": 0.0}'),
    "payload_size a list": raw('{"payload_size": [3]}', b"abc"),
    "payload_size NaN": raw('{"payload_size": NaN}', b"abc"),
}


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_frames_are_refused(data: bytes) -> None:
    with pytest.raises(FrameError):
        frames.parse(data)


def test_payload_size_may_be_absent_or_null_for_no_payload() -> None:
    assert frames.parse(raw('{"method": "ping", "id": "a"}')).payload == b""
    assert frames.parse(raw('{"method": "ping", "payload_size": null}')).payload == b""
    assert frames.parse(raw('{"method": "ping", "payload_size": 0}')).payload == b""


def _of_size(total: int) -> bytes:
    """A valid frame of exactly ``total`` bytes."""
    header = {"method": "message", "id": "big"}
    overhead = len(frames.encode(header, b"x"))
    # The payload's size is written in the header: grow until the frame is as long as asked.
    payload_size = total - overhead + 1
    while True:
        data = frames.encode(header, b"x" * payload_size)
        if len(data) == total:
            return data
        payload_size -= len(data) - total


def test_frames_up_to_max_frame_are_read_and_longer_ones_refused() -> None:
    largest = _of_size(MAX_FRAME)
    assert len(largest) == MAX_FRAME
    assert len(frames.parse(largest).payload) == frames.parse(largest).header["payload_size"]
    too_big = _of_size(MAX_FRAME + 1)
    assert len(too_big) == MAX_FRAME + 1
    with pytest.raises(FrameError):
        frames.parse(too_big)
    with pytest.raises(FrameError):
        frames.parse(MAGIC + b"2\r\n{}\r\n" + b"x" * MAX_FRAME)  # refused before being read


def test_replies_and_ids() -> None:
    header = frames.reply("RQ9", 403, "FORBIDDEN", extra=1)
    assert header == {
        "method": "reply",
        "id": "RQ9",
        "status": {"code": 403, "status": "FORBIDDEN"},
        "extra": 1,
    }
    assert frames.reply("RQ9")["status"] == {"code": 200, "status": "OK"}
    ids = {frames.new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("TM") and len(i) == 34 for i in ids)
