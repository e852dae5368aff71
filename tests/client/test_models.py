"""Records parsed from the REST API's JSON."""

from __future__ import annotations

from datetime import UTC, datetime

from hubbub.client.models import Member, Message, User, parse_attributes

MESSAGE = {
    "sid": "IM1",
    "channel_sid": "CH1",
    "from": "alice",
    "body": "hi",
    "index": 3,
    "attributes": '{"color": "red"}',
    "type": "text",
    "media": None,
    "was_edited": False,
    "last_updated_by": None,
    "date_created": "2026-11-28T12:00:00Z",
    "date_updated": "2026-11-28T12:00:01Z",
    "future_field": 1,
}


def test_message() -> None:
    message = Message.from_json(MESSAGE)
    assert (message.sid, message.channel_sid, message.index) == ("IM1", "CH1", 3)
    assert (message.author, message.body, message.attributes) == ("alice", "hi", {"color": "red"})
    assert message.date_created == datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert message.raw["future_field"] == 1


def test_attributes_that_are_not_json_stay_text() -> None:
    assert parse_attributes("{oops") == "{oops"
    assert parse_attributes(None) == {}


def test_member_and_user() -> None:
    member = Member.from_json(
        {"sid": "MB1", "identity": "bob", "last_consumed_message_index": 4}, channel_sid="CH1"
    )
    assert (member.channel_sid, member.identity, member.last_consumed_message_index) == (
        "CH1",
        "bob",
        4,
    )
    assert member.date_created is None
    user = User.from_json({"sid": "US1", "identity": "bob", "attributes": "{}"})
    assert (user.identity, user.attributes) == ("bob", {})
