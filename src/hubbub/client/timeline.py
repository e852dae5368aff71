"""Which messages the application has seen, per channel, so that none is missed or repeated.

No I/O. Live ``message_added`` pushes go through ``live``. When the connection drops,
``suspend`` starts holding pushes back; after re-authenticating, ``plan`` says for each
subscribed channel the last index delivered (or ``None``: never known, fetch a baseline). The
client then fetches what it missed, feeds the pages to ``catch_up`` and finishes with
``release``, which hands back the held pushes that are still new. Delivering held pushes only
after the fetched history keeps every channel in index order; comparing with the last index
delivered drops the messages both the history and the pushes contain.

A channel first seen on this connection (joined, or subscribed before the client started)
gets a baseline instead: its last index when we started watching. Pushes held while that is
fetched are all delivered, since each was sent live exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar


class Indexed(Protocol):
    @property
    def index(self) -> int: ...


M = TypeVar("M", bound=Indexed)


def next_anchor(anchor: int, page: Sequence[Indexed], page_size: int) -> int | None:
    """Where the next page of a forwards catch-up starts; ``None`` after the last page.

    An anchor is included in its page, so a catch-up after index ``last`` starts at
    ``last + 1`` and each next page just after the previous one's end.
    """
    if len(page) < page_size:
        return None
    return max(anchor, page[-1].index) + 1


@dataclass(slots=True)
class _Track(Generic[M]):
    #: The highest index delivered (or the baseline); ``None`` until known.
    last: int | None = None
    #: Pushes held back while this channel catches up; ``None`` when it is live.
    held: list[M] | None = field(default=None)


class Timeline(Generic[M]):
    """Per-channel delivery horizons, and pushes held back while catching up."""

    def __init__(self) -> None:
        self._tracks: dict[str, _Track[M]] = {}
        self._suspended = False

    def live(self, channel_sid: str, message: M) -> list[M]:
        """A pushed message: the messages to deliver now (none if held or already seen)."""
        track = self._tracks.get(channel_sid)
        if track is None:
            if self._suspended:
                self._tracks[channel_sid] = _Track(None, [message])
                return []
            self._tracks[channel_sid] = _Track(message.index, None)
            return [message]
        if track.held is not None:
            track.held.append(message)
            return []
        if track.last is not None and message.index <= track.last:
            return []
        track.last = message.index
        return [message]

    def watch(self, channel_sid: str) -> bool:
        """Start following a channel; ``True``: fetch its baseline, then ``release`` it."""
        if channel_sid in self._tracks:
            return False
        self._tracks[channel_sid] = _Track(None, [])
        return True

    def start_empty(self, channel_sid: str) -> None:
        """Follow a channel known to have no messages yet (one we just created)."""
        self._tracks.setdefault(channel_sid, _Track(-1, None))

    def forget(self, channel_sid: str) -> None:
        """Stop following a channel (left, removed)."""
        self._tracks.pop(channel_sid, None)

    def last(self, channel_sid: str) -> int | None:
        track = self._tracks.get(channel_sid)
        return None if track is None else track.last

    def suspend(self) -> None:
        """The connection dropped: hold every push until its channel has caught up."""
        self._suspended = True
        for track in self._tracks.values():
            if track.held is None:
                track.held = []

    def plan(self, subscribed: Iterable[str]) -> dict[str, int | None]:
        """After re-authenticating: what to fetch for each subscribed channel.

        The value is the last index delivered (fetch forwards from it) or ``None`` (fetch a
        baseline). Channels no longer subscribed are dropped. Pushes for channels not in the
        plan are live from now on.
        """
        wanted = set(subscribed)
        for sid in [sid for sid in self._tracks if sid not in wanted]:
            del self._tracks[sid]
        plan: dict[str, int | None] = {}
        for sid in wanted:
            track = self._tracks.setdefault(sid, _Track(None, []))
            if track.held is None:
                track.held = []
            plan[sid] = track.last
        self._suspended = False
        return plan

    def catch_up(self, channel_sid: str, page: Iterable[M]) -> list[M]:
        """A page of fetched history: the messages in it not yet delivered, in index order."""
        track = self._tracks.get(channel_sid)
        if track is None:
            return []
        fresh: list[M] = []
        for message in sorted(page, key=lambda m: m.index):
            if track.last is None or message.index > track.last:
                track.last = message.index
                fresh.append(message)
        return fresh

    def release(self, channel_sid: str, baseline: int | None = None) -> list[M]:
        """The channel has caught up: the held pushes to deliver now, in index order.

        With no horizon yet, ``baseline`` (the last index when watching began, -1 for an empty
        channel) becomes it, and every held push is delivered.
        """
        track = self._tracks.get(channel_sid)
        if track is None:
            return []
        held = sorted(track.held or [], key=lambda m: m.index)
        track.held = None
        if track.last is None:
            track.last = baseline
            fresh: list[M] = []
            for message in held:
                if not fresh or message.index > fresh[-1].index:
                    fresh.append(message)
            if fresh:
                track.last = max(fresh[-1].index, -1 if baseline is None else baseline)
            return fresh
        return self.catch_up(channel_sid, held)
