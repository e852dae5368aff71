"""What the application has been told about each channel's messages, so that it misses nothing
and hears nothing twice. No I/O.

Pushes (``message_added``, ``message_updated``, ``message_removed``) go through ``push``, which
returns the ``Change``s to report. When the connection drops, ``suspend`` starts holding pushes
back; after re-authenticating, ``plan`` says where each subscribed channel's catch-up starts
(or ``None``: never known, fetch a baseline). The client then pages forwards through the
history from there, feeds each page to ``catch_up`` and finishes with ``release``, which replays
the held pushes that still say something new. Reporting the fetched history before the held
pushes keeps every channel in index order; comparing with the last index delivered drops the
messages both the history and the pushes contain.

Edits and removals made while the client was away have no push that it could receive later, so
each channel keeps a **window**: the last known state of its latest ``window`` messages that the
application was given (delivered, or returned by ``get_messages``). The catch-up starts at the
window's oldest message instead of just after the last one delivered, and compares: a message
of the window missing from the pages is reported removed (the server never reuses a deleted
message's index, so a gap is a removal), one that differs is reported updated. The window also
keeps a pushed edit or removal that the catch-up already reported from being reported again,
and tells a late push from a repeat: with several server processes, a message can be pushed
after one with a higher index, and is delivered then if the window does not know it.
Older messages are not re-checked: the protocol has no "changes since" command, so only what is
re-read can be compared.

Pushes held until the plan are dropped for the messages the pages cover: the pages, read
afterwards, show their effect or a later one. Those held during the catch-up are replayed after
it, but not the edits up to the one the pages showed (one message's edits are pushed in order).
Messages carry no version, so an edit pushed just after the page that already showed a later
one can still be reported before that later one's own push; the last state reported is always
the server's.

A channel first seen on this connection (joined, or subscribed before the client started) gets
a baseline instead: its last index when we started watching. Pushes held while that is fetched
are all delivered, since each was sent live exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar


class Indexed(Protocol):
    """A message as far as the timeline cares: its index; ``==`` compares the content."""

    @property
    def index(self) -> int: ...


M = TypeVar("M", bound=Indexed)
Kind = Literal["message_added", "message_updated", "message_removed"]
ADDED: Kind = "message_added"
UPDATED: Kind = "message_updated"
REMOVED: Kind = "message_removed"

#: Messages per channel whose edits and removals are caught up after a reconnect.
DEFAULT_WINDOW = 50


@dataclass(frozen=True, slots=True)
class Change(Generic[M]):
    """One event to report: ``kind`` is the event's name, ``message`` its argument."""

    kind: Kind
    message: M


def next_anchor(
    anchor: int, page: Sequence[Indexed], page_size: int, *, truncated: bool = False
) -> int | None:
    """Where the next page of a forwards catch-up starts; ``None`` after the last page.

    An anchor is included in its page, so a catch-up after index ``last`` starts at
    ``last + 1`` and each next page just after the previous one's end. A page the server
    ``truncated`` (to keep its reply small) is short but not the last.
    """
    if not page or (len(page) < page_size and not truncated):
        return None
    return max(anchor, page[-1].index) + 1


@dataclass(slots=True)
class _Track(Generic[M]):
    #: The highest index delivered (or the baseline); ``None`` until known.
    last: int | None = None
    #: Pushes held back while this channel catches up; ``None`` when it is live.
    held: list[Change[M]] | None = None
    #: The window: index -> last state reported (``None``: reported removed).
    known: dict[int, M | None] = field(default_factory=dict)
    #: During a catch-up (which may span several connections, if one drops before it is over):
    #: the horizon before it, the indexes the pages held, and the states reported from them
    #: (``None``: removed), which the window may have let go since.
    catching_up: bool = False
    since: int | None = None
    fetched: set[int] = field(default_factory=set)
    reported: dict[int, M | None] = field(default_factory=dict)


class Timeline(Generic[M]):
    """Per-channel delivery horizons, windows of known messages, and held pushes."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 0:
            raise ValueError("the window cannot be negative")
        self.window = window
        self._tracks: dict[str, _Track[M]] = {}
        self._suspended = False

    # -- pushes ------------------------------------------------------------------------------
    def push(self, channel_sid: str, kind: Kind, message: M) -> list[Change[M]]:
        """A pushed event: the changes to report now (none if held or already reported)."""
        track = self._tracks.get(channel_sid)
        if track is None:
            if self._suspended:
                self._tracks[channel_sid] = _Track(None, [Change(kind, message)])
                return []
            if kind != ADDED:
                return [Change(kind, message)]
            track = self._tracks[channel_sid] = _Track(None, None)
        if track.held is not None:
            track.held.append(Change(kind, message))
            return []
        if kind == ADDED and track.last is not None and message.index <= track.last:
            return self._late(track, message)
        return self._apply(track, Change(kind, message))

    def _late(self, track: _Track[M], message: M) -> list[Change[M]]:
        """A new message pushed after one with a higher index: with several server processes,
        each delivers its own senders' messages first. New, unless the window knows it (or it
        is older than the whole window, which then cannot tell)."""
        index = message.index
        known = track.known
        if index in known or not self.window:
            return []
        if len(known) >= self.window and index < min(known):
            return []
        self._remember(track, index, message)
        return [Change(ADDED, message)]

    def live(self, channel_sid: str, message: M) -> list[M]:
        """A pushed new message: the messages to deliver now."""
        return [change.message for change in self.push(channel_sid, ADDED, message)]

    def _apply(self, track: _Track[M], change: Change[M]) -> list[Change[M]]:
        message = change.message
        index = message.index
        if change.kind == ADDED:
            if track.last is not None and index <= track.last:
                return []
            track.last = index
            self._remember(track, index, message)
            return [change]
        if track.last is not None and index > track.last:
            return []  # its message_added never came: the application does not know it
        if index in track.known:
            before = track.known[index]
            # A removal is final; an edit equal to what was reported was reported already.
            if before is None or (change.kind == UPDATED and before == message):
                return []
        if track.last is not None:
            self._remember(track, index, message if change.kind == UPDATED else None)
        # Not in the window: the application may know it from older history; report it.
        return [change]

    def _remember(self, track: _Track[M], index: int, state: M | None) -> None:
        """Keep ``state`` in the window, which holds the highest indexes."""
        known = track.known
        if index not in known and len(known) >= self.window:
            lowest = min(known, default=index)
            if index <= lowest:
                return
            del known[lowest]
        known[index] = state

    # -- history the application fetched -----------------------------------------------------
    def seen(self, channel_sid: str, messages: Iterable[M]) -> None:
        """Messages the application got from history: known from now on (if in the window)."""
        track = self._tracks.get(channel_sid)
        if track is None or track.last is None:
            return
        for message in messages:
            # Not newer than the horizon: those come as message_added, in order.
            if message.index <= track.last and message.index not in track.known:
                self._remember(track, message.index, message)

    # -- following channels ------------------------------------------------------------------
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

    def known(self, channel_sid: str) -> dict[int, M | None]:
        """A copy of the channel's window: index -> last state reported (``None``: removed)."""
        track = self._tracks.get(channel_sid)
        return {} if track is None else dict(track.known)

    # -- catching up -------------------------------------------------------------------------
    def suspend(self) -> None:
        """The connection dropped: hold every push until its channel has caught up."""
        self._suspended = True
        for track in self._tracks.values():
            if track.held is None:
                track.held = []

    def plan(self, subscribed: Iterable[str]) -> dict[str, int | None]:
        """After re-authenticating: where each subscribed channel's catch-up starts.

        The value is the index to page forwards from (the oldest message of the window still
        there, else just after the last delivered), or ``None`` (fetch a baseline). Channels no
        longer subscribed are dropped. Pushes for channels not in the plan are live from now on.
        """
        wanted = set(subscribed)
        for sid in [sid for sid in self._tracks if sid not in wanted]:
            del self._tracks[sid]
        plan: dict[str, int | None] = {}
        for sid in wanted:
            track = self._tracks.setdefault(sid, _Track(None, []))
            if track.held is None:
                track.held = []
            if not track.catching_up:
                track.catching_up = True
                track.since, track.fetched, track.reported = track.last, set(), {}
            if track.last is None:
                plan[sid] = None
                continue
            alive = [index for index, state in track.known.items() if state is not None]
            start = plan[sid] = min(alive, default=track.last + 1)
            # Pushes held so far (since re-authenticating, or left over from a catch-up that a
            # drop cut short) are older than the pages about to be read: for the messages the
            # pages cover, they would only report stale states.
            track.held = [change for change in track.held if change.message.index < start]
        self._suspended = False
        return plan

    def catch_up(
        self, channel_sid: str, page: Iterable[M], start: int, through: int | None = None
    ) -> list[Change[M]]:
        """A page of history, fetched forwards from ``start``; it holds every message from
        ``start`` to ``through`` (``None``: to the newest). The changes to report, in index
        order: messages not yet delivered, and edits and removals of the window's."""
        track = self._tracks.get(channel_sid)
        if track is None:
            return []
        messages = sorted(page, key=lambda m: m.index)
        present = {message.index for message in messages}
        track.fetched |= present
        changes: list[Change[M]] = []
        for index, state in sorted(track.known.items()):
            covered = start <= index and (through is None or index <= through)
            if state is not None and covered and index not in present:
                track.known[index] = track.reported[index] = None
                changes.append(Change(REMOVED, state))
        for message in messages:
            if track.last is None or message.index > track.last:
                track.reported[message.index] = message
                changes += self._apply(track, Change(ADDED, message))
            elif track.known.get(message.index, message) != message and (
                found := self._apply(track, Change(UPDATED, message))
            ):
                track.reported[message.index] = message
                changes += found
        return sorted(changes, key=lambda change: change.message.index)

    def release(self, channel_sid: str, baseline: int | None = None) -> list[Change[M]]:
        """The channel has caught up: the held pushes to report now.

        With no horizon yet, ``baseline`` (the last index when watching began, -1 for an empty
        channel) becomes it, and every held new message is delivered.
        """
        track = self._tracks.get(channel_sid)
        if track is None:
            return []
        held = track.held or []
        track.held = None
        since, track.since, track.catching_up = track.since, None, False
        confirmed, track.fetched = track.fetched, set()
        reported, track.reported = track.reported, {}
        changes: list[Change[M]] = []
        if track.last is None:
            # Each held message was pushed once since watching began: deliver them all, first.
            added = {c.message.index: c.message for c in held if c.kind == ADDED}
            for index in sorted(added):
                self._remember(track, index, added[index])
                changes.append(Change(ADDED, added[index]))
            track.last = max([*added, *([] if baseline is None else [baseline])], default=None)
            held = [change for change in held if change.kind != ADDED]
        # Pushes of one message come in the order of its edits: those up to the one whose
        # content the pages showed are older than it, and reporting them would go back in time.
        superseded: dict[int, int] = {}
        for position, change in enumerate(held):
            index = change.message.index
            if change.kind == UPDATED and reported.get(index, None) == change.message:
                superseded[index] = position
        for position, change in enumerate(held):
            index = change.message.index
            if change.kind == ADDED:
                if track.last is None or index > track.last:
                    confirmed.add(index)
                    changes += self._apply(track, change)
            elif _never_delivered(index, since, track.last, confirmed):
                continue
            elif index in reported and (
                reported[index] is None or position <= superseded.get(index, -1)
            ):
                continue  # the pages said so already, or something newer
            else:
                changes += self._apply(track, change)
        return changes


def _never_delivered(index: int, since: int | None, last: int | None, confirmed: set[int]) -> bool:
    """A message newer than the horizon before the catch-up, but not newer than the one after,
    that no page held: it came and went while we caught up (pushed, then removed before the
    pages were read), so its edits and its removal are not news either."""
    if since is None or last is None:
        return False
    return since < index <= last and index not in confirmed
