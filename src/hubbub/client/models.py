"""Plain records the SDK hands out: messages, members, users, typing, parsed from the wire.

Fields follow the REST API's JSON in snake_case; ``attributes`` are decoded from their JSON
string, and ``raw`` keeps the object as received for fields this version does not know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hubbub.client.media import Media, MediaService


def parse_date(value: Any) -> datetime | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` as the server writes dates, or ``None``."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_attributes(value: Any) -> Any:
    """Attributes travel as a JSON string; hand back the decoded value (the raw text if bad)."""
    if not isinstance(value, str):
        return value if value is not None else {}
    try:
        return json.loads(value)
    except ValueError:
        return value


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message; ``index`` orders it within its channel."""

    sid: str
    channel_sid: str
    index: int
    author: str
    body: str
    attributes: Any = None
    type: str = "text"
    #: The file of a ``media`` message.
    media: Media | None = None
    was_edited: bool = False
    last_updated_by: str | None = None
    date_created: datetime | None = None
    date_updated: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(
        cls,
        data: dict[str, Any],
        channel_sid: str | None = None,
        media_service: MediaService | None = None,
    ) -> Message:
        """``media_service`` is where the media's bytes are fetched from."""
        index = _int_or_none(data.get("index"))
        media = data.get("media")
        return cls(
            sid=str(data.get("sid", "")),
            channel_sid=str(data.get("channel_sid") or channel_sid or ""),
            index=-1 if index is None else index,
            author=str(data.get("from", "")),
            body=str(data.get("body") or ""),
            attributes=parse_attributes(data.get("attributes")),
            type=str(data.get("type", "text")),
            media=Media.from_json(media, media_service) if isinstance(media, dict) else None,
            was_edited=bool(data.get("was_edited", False)),
            last_updated_by=data.get("last_updated_by"),
            date_created=parse_date(data.get("date_created")),
            date_updated=parse_date(data.get("date_updated")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Member:
    """A user's membership of a channel, with their read horizon; ``user`` is the member's
    user where the server said (``Channel.get_members``)."""

    sid: str
    channel_sid: str
    identity: str
    role_sid: str | None = None
    last_consumed_message_index: int | None = None
    last_consumption_timestamp: datetime | None = None
    attributes: Any = None
    date_created: datetime | None = None
    date_updated: datetime | None = None
    user: User | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(
        cls, data: dict[str, Any], channel_sid: str | None = None, user: User | None = None
    ) -> Member:
        return cls(
            sid=str(data.get("sid", "")),
            channel_sid=str(data.get("channel_sid") or channel_sid or ""),
            identity=str(data.get("identity", "")),
            role_sid=data.get("role_sid"),
            last_consumed_message_index=_int_or_none(data.get("last_consumed_message_index")),
            last_consumption_timestamp=parse_date(data.get("last_consumption_timestamp")),
            attributes=parse_attributes(data.get("attributes")),
            date_created=parse_date(data.get("date_created")),
            date_updated=parse_date(data.get("date_updated")),
            user=user,
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class User:
    """A user of the Chat Service."""

    sid: str
    identity: str
    friendly_name: str | None = None
    attributes: Any = None
    role_sid: str | None = None
    is_online: bool | None = None
    is_notifiable: bool | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> User:
        return cls(
            sid=str(data.get("sid", "")),
            identity=str(data.get("identity", "")),
            friendly_name=data.get("friendly_name"),
            attributes=parse_attributes(data.get("attributes")),
            role_sid=data.get("role_sid"),
            is_online=data.get("is_online"),
            is_notifiable=data.get("is_notifiable"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Typing:
    """Someone started or stopped typing in a channel."""

    channel_sid: str
    identity: str
