"""A channel as the application holds it: its latest known state, and the commands on it.

The client keeps one ``Channel`` object per SID and updates it in place as pushes arrive, so
a reference held by the application stays current (as in Twilio's SDKs).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from hubbub.client.media import MediaService, MediaSource, read_source
from hubbub.client.models import Member, Message, User, parse_attributes, parse_date

Status = Literal["joined", "invited", "known"]
Direction = Literal["backwards", "forwards"]


class Host(Protocol):
    """What a channel needs of its client."""

    _media: MediaService

    async def _command(self, kind: str, params: dict[str, Any]) -> dict[str, Any]: ...

    def _joined(self, channel: Channel) -> None: ...

    def _left(self, channel: Channel) -> None: ...

    def _seen(self, channel_sid: str, messages: list[Message]) -> None: ...


def encode_attributes(attributes: Mapping[str, Any] | None) -> str | None:
    """Attributes travel as a JSON string, as in the REST API."""
    return None if attributes is None else json.dumps(dict(attributes), separators=(",", ":"))


class Channel:
    """A chat channel; ``status`` is ``joined``, ``invited`` or ``known`` for this user."""

    sid: str
    unique_name: str | None
    friendly_name: str | None
    attributes: Any
    type: str
    created_by: str | None
    members_count: int
    messages_count: int
    date_created: datetime | None
    date_updated: datetime | None

    def __init__(self, host: Host, data: dict[str, Any], status: Status = "known") -> None:
        self._host = host
        self.status: Status = status
        self.update_from(data)

    def update_from(self, data: dict[str, Any]) -> None:
        """Take the fields of the channel's JSON (from a reply or a push)."""
        self.sid = str(data.get("sid", ""))
        self.unique_name = data.get("unique_name")
        self.friendly_name = data.get("friendly_name")
        self.attributes = parse_attributes(data.get("attributes"))
        self.type = str(data.get("type", "public"))
        self.created_by = data.get("created_by")
        self.members_count = int(data.get("members_count") or 0)
        self.messages_count = int(data.get("messages_count") or 0)
        self.date_created = parse_date(data.get("date_created"))
        self.date_updated = parse_date(data.get("date_updated"))

    def __repr__(self) -> str:
        return f"<Channel {self.sid} {self.unique_name or self.friendly_name!r} {self.status}>"

    async def _run(self, kind: str, **params: Any) -> dict[str, Any]:
        given = {name: value for name, value in params.items() if value is not None}
        return await self._host._command(kind, {"channel": self.sid, **given})

    async def join(self) -> Channel:
        """Become a member (a private channel needs an invite)."""
        await self._run("join")
        self.status = "joined"
        self._host._joined(self)
        return self

    async def leave(self) -> Channel:
        await self._run("leave")
        self.status = "known"
        self._host._left(self)
        return self

    async def get_members(self) -> list[Member]:
        """Every member of the channel (this user must be one), each with its ``user``, whose
        ``is_online`` is kept current only where the service tracks reachability."""
        members: list[Member] = []
        token: str | None = None
        while True:
            result = await self._run("get_members", page_size=100, page_token=token)
            for item in result.get("members") or []:
                user = item.get("user")
                members.append(
                    Member.from_json(
                        item.get("member") or {},
                        self.sid,
                        User.from_json(user) if isinstance(user, dict) else None,
                    )
                )
            token = result.get("next_page_token")
            if not isinstance(token, str):
                return members

    async def invite(self, identity: str) -> None:
        """Invite a user; they get ``channel_invited`` and may then join or decline."""
        await self._run("invite", identity=identity)

    async def decline(self) -> Channel:
        """Decline this user's invitation to the channel."""
        await self._run("decline")
        self.status = "known"
        return self

    async def send_message(
        self,
        body: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        *,
        media: MediaSource | None = None,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> int:
        """Send a message once it is stored; returns its index in the channel. With ``media``
        (bytes, a path, or a binary file object) the file is uploaded first and the message
        carries it: ``filename`` defaults to the path's name, ``content_type`` is guessed
        from the name."""
        media_sid = None
        if media is not None:
            # Reading a file may block: off the event loop.
            data, name, kind = await asyncio.to_thread(read_source, media, filename, content_type)
            media_sid = (await self._host._media.upload(data, name, kind)).sid
        elif body is None:
            raise ValueError("send a body, a media, or both")
        result = await self._run(
            "send_message",
            body=body or "",
            attributes=encode_attributes(attributes),
            media_sid=media_sid,
        )
        return Message.from_json(result.get("message") or {}, self.sid).index

    async def get_messages(
        self, page_size: int = 30, anchor: int | None = None, direction: Direction = "backwards"
    ) -> MessagePage:
        """A page of history in index order: ending at ``anchor`` (the latest if ``None``) when
        going backwards, starting at it when going forwards; the anchor itself is included."""
        result = await self._run(
            "get_messages", page_size=page_size, anchor=anchor, direction=direction
        )
        media = self._host._media
        messages = MessagePage(
            Message.from_json(m, self.sid, media) for m in result.get("messages") or []
        )
        messages.truncated = result.get("truncated") is True
        # Known to the application now: their edits and removals are caught up after a drop.
        self._host._seen(self.sid, messages)
        return messages

    async def update_message(
        self,
        message: Message | str,
        *,
        body: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Message:
        """Edit a message's body or attributes (given as a ``Message`` or its SID)."""
        sid = message if isinstance(message, str) else message.sid
        result = await self._run(
            "update_message", sid=sid, body=body, attributes=encode_attributes(attributes)
        )
        return Message.from_json(result.get("message") or {}, self.sid, self._host._media)

    async def remove_message(self, message: Message | str) -> None:
        sid = message if isinstance(message, str) else message.sid
        await self._run("remove_message", sid=sid)

    async def typing(self) -> None:
        """Tell the channel this user is typing; it ends by itself after the service's timeout."""
        await self._run("typing")

    async def update_last_consumed_message_index(self, index: int) -> int | None:
        """Move the read horizon forwards to ``index``; returns the unread count."""
        result = await self._run("set_consumed", index=index)
        return _count(result.get("unread"))

    async def get_unconsumed_messages_count(self) -> int | None:
        """Messages after the read horizon (``None`` if the user never set one)."""
        result = await self._run("get_unconsumed_count")
        return _count(result.get("unread"))


class MessagePage(list[Message]):
    """A page of messages; ``truncated`` when the server returned fewer than asked for to keep
    its reply small, so a short page is not necessarily the end of the history."""

    truncated: bool = False


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) else None


@dataclass(frozen=True, slots=True)
class Paginator:
    """One page of public channels, and the way to the next."""

    items: list[Channel]
    next_page_token: str | None
    _fetch: Callable[[str], Awaitable[Paginator]]

    @property
    def has_next_page(self) -> bool:
        return self.next_page_token is not None

    async def next_page(self) -> Paginator:
        if self.next_page_token is None:
            raise ValueError("this is the last page")
        return await self._fetch(self.next_page_token)
