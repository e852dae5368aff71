"""Catch-up after a reconnect: every message delivered once, in index order, and the edits and
removals of known messages reported, however pushes and pages interleave."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubbub.client.timeline import ADDED, REMOVED, UPDATED, Change, Kind, Timeline, next_anchor


@dataclass(frozen=True)
class M:
    index: int
    version: int = 0  # bumped by each edit: a different version is different content


def ms(*indexes: int) -> list[M]:
    return [M(i) for i in indexes]


def added(*indexes: int) -> list[Change[M]]:
    return [Change(ADDED, M(i)) for i in indexes]


def test_live_pushes_pass_once() -> None:
    timeline: Timeline[M] = Timeline()
    assert timeline.live("CH1", M(0)) == ms(0)
    assert timeline.live("CH1", M(1)) == ms(1)
    assert timeline.live("CH1", M(1)) == []
    assert timeline.live("CH2", M(7)) == ms(7)
    assert (timeline.last("CH1"), timeline.last("CH2")) == (1, 7)


def test_history_comes_before_held_pushes_and_overlaps_are_dropped() -> None:
    timeline: Timeline[M] = Timeline()
    timeline.live("CH1", M(2))
    timeline.suspend()
    assert timeline.live("CH1", M(5)) == []  # pushed after re-authenticating: held...
    # ...until the plan, which starts from the oldest message of the window (2), to find
    # edits and removals too; the pages, read later, say all the held pushes said.
    assert timeline.plan(["CH1"]) == {"CH1": 2}
    assert timeline.live("CH1", M(7)) == []  # pushed during the catch-up: held
    assert timeline.live("CH1", M(6)) == []
    # The anchor (2) comes back too, as the server includes it.
    assert timeline.catch_up("CH1", ms(2, 3, 4, 5, 6), start=2) == added(3, 4, 5, 6)
    assert timeline.release("CH1") == added(7)
    assert timeline.live("CH1", M(8)) == ms(8)


def test_without_a_window_the_catch_up_starts_after_the_last_delivered() -> None:
    timeline: Timeline[M] = Timeline(window=0)
    timeline.live("CH1", M(2))
    timeline.suspend()
    assert timeline.plan(["CH1"]) == {"CH1": 3}
    assert timeline.catch_up("CH1", ms(3), start=3) == added(3)
    assert timeline.release("CH1") == []
    with pytest.raises(ValueError, match="negative"):
        Timeline(window=-1)


def test_a_channel_never_seen_gets_a_baseline_and_its_held_pushes() -> None:
    timeline: Timeline[M] = Timeline()
    assert timeline.watch("CH1") is True
    assert timeline.watch("CH1") is False
    # Pushed while the baseline was being fetched: the baseline (8) may already include it,
    # but it was sent live exactly once, so it is delivered.
    assert timeline.live("CH1", M(8)) == []
    assert timeline.push("CH1", UPDATED, M(8, 1)) == []
    assert timeline.release("CH1", baseline=8) == [*added(8), Change(UPDATED, M(8, 1))]
    assert timeline.live("CH1", M(8)) == []
    assert timeline.live("CH1", M(9)) == ms(9)


def test_an_empty_channel() -> None:
    timeline: Timeline[M] = Timeline()
    timeline.watch("CH1")
    assert timeline.release("CH1", baseline=-1) == []
    assert timeline.last("CH1") == -1
    timeline.start_empty("CH2")
    assert timeline.live("CH2", M(0)) == ms(0)


def test_plan_drops_channels_left_and_adds_new_ones() -> None:
    timeline: Timeline[M] = Timeline()
    timeline.live("CH1", M(1))
    timeline.live("CH2", M(1))
    timeline.suspend()
    assert timeline.live("CH3", M(4)) == []  # a channel joined while we were away
    assert timeline.plan(["CH2", "CH3", "CH4"]) == {"CH2": 1, "CH3": None, "CH4": None}
    assert timeline.last("CH1") is None
    assert timeline.release("CH3", baseline=4) == added(4)
    assert timeline.release("CH4", baseline=-1) == []
    # Not in the plan, so live again at once.
    assert timeline.live("CH5", M(0)) == ms(0)


def test_forget() -> None:
    timeline: Timeline[M] = Timeline()
    timeline.live("CH1", M(3))
    timeline.forget("CH1")
    assert timeline.last("CH1") is None
    assert timeline.known("CH1") == {}
    assert timeline.catch_up("CH1", ms(4), start=3) == []
    assert timeline.release("CH1") == []


def test_edits_and_removals_made_while_away_are_reported_once() -> None:
    timeline: Timeline[M] = Timeline()
    for index in range(5):
        timeline.live("CH1", M(index))
    timeline.suspend()
    # Meanwhile 1 was edited, 3 removed, and 5 and 6 sent; 6 was also pushed after
    # re-authenticating, and so was an edit of 2 (held, and in the pages as well).
    assert timeline.live("CH1", M(6)) == []
    assert timeline.push("CH1", UPDATED, M(2, 1)) == []
    assert timeline.plan(["CH1"]) == {"CH1": 0}
    page = [M(0), M(1, 1), M(2, 1), M(4), M(5), M(6)]
    assert timeline.catch_up("CH1", page, start=0) == [
        Change(UPDATED, M(1, 1)),
        Change(UPDATED, M(2, 1)),
        Change(REMOVED, M(3)),
        *added(5, 6),
    ]
    assert timeline.release("CH1") == []  # the held edit of 2 was reported from the page
    # Late pushes of what the catch-up reported are not reported again; new edits are.
    assert timeline.push("CH1", REMOVED, M(3)) == []
    assert timeline.push("CH1", UPDATED, M(1, 1)) == []
    assert timeline.push("CH1", UPDATED, M(1, 2)) == [Change(UPDATED, M(1, 2))]
    assert timeline.push("CH1", UPDATED, M(3, 1)) == []  # a removal is final
    known = timeline.known("CH1")
    assert known[3] is None
    assert known[1] == M(1, 2)


def test_a_page_that_stops_short_of_the_newest_says_nothing_beyond_it() -> None:
    timeline: Timeline[M] = Timeline()
    for index in range(4):
        timeline.live("CH1", M(index))
    timeline.suspend()
    timeline.plan(["CH1"])
    # A full page of two ends at 1: 2 and 3 are not in it, but not removed either.
    assert timeline.catch_up("CH1", ms(0, 1), start=0, through=1) == []
    assert timeline.catch_up("CH1", ms(3), start=2) == [Change(REMOVED, M(2))]
    assert timeline.release("CH1") == []


def test_the_window_holds_the_latest_messages_known() -> None:
    timeline: Timeline[M] = Timeline(window=3)
    for index in range(6):
        timeline.live("CH1", M(index))
    assert sorted(timeline.known("CH1")) == [3, 4, 5]
    # Older history the application fetched does not push the latest out of the window...
    timeline.seen("CH1", ms(0, 1))
    assert sorted(timeline.known("CH1")) == [3, 4, 5]
    timeline.suspend()
    assert timeline.plan(["CH1"]) == {"CH1": 3}
    # ...so an edit of 1 made while away goes unnoticed; those of the window do not.
    page = [M(3), M(4, 1), M(5)]
    assert timeline.catch_up("CH1", page, start=3) == [Change(UPDATED, M(4, 1))]


def test_history_the_application_fetched_is_known_too() -> None:
    timeline: Timeline[M] = Timeline()
    timeline.watch("CH1")
    timeline.release("CH1", baseline=9)  # joined a channel with ten messages
    timeline.seen("CH1", ms(7, 8, 9, 10))  # 10 is news: it comes as message_added
    assert sorted(timeline.known("CH1")) == [7, 8, 9]
    timeline.suspend()
    assert timeline.plan(["CH1"]) == {"CH1": 7}
    page = [M(7, 1), M(9), M(10)]
    assert timeline.catch_up("CH1", page, start=7) == [
        Change(UPDATED, M(7, 1)),
        Change(REMOVED, M(8)),
        *added(10),
    ]


def test_a_message_that_came_and_went_during_the_catch_up_is_not_reported() -> None:
    timeline: Timeline[M] = Timeline()
    timeline.live("CH1", M(0))
    timeline.suspend()
    assert timeline.plan(["CH1"]) == {"CH1": 0}
    # 1 is sent, edited and removed while the catch-up runs: pushed (held), but gone from the
    # page; 2 is sent after it and is in the page.
    for kind, message in [(ADDED, M(1)), (UPDATED, M(1, 1)), (REMOVED, M(1, 1)), (ADDED, M(2))]:
        assert timeline.push("CH1", kind, message) == []
    assert timeline.catch_up("CH1", ms(0, 2), start=0) == added(2)
    assert timeline.release("CH1") == []


def test_edits_of_messages_outside_any_window_are_reported() -> None:
    """The application may know older messages from history the client never saw."""
    timeline: Timeline[M] = Timeline()
    timeline.live("CH1", M(10))
    assert timeline.push("CH1", UPDATED, M(2, 1)) == [Change(UPDATED, M(2, 1))]
    assert timeline.push("CH1", REMOVED, M(3)) == [Change(REMOVED, M(3))]
    assert timeline.push("CH2", REMOVED, M(3)) == [Change(REMOVED, M(3))]  # not followed


def test_next_anchor() -> None:
    assert next_anchor(5, ms(5, 6, 7), page_size=3) == 8
    assert next_anchor(5, ms(5, 6), page_size=3) is None
    assert next_anchor(5, ms(1, 2, 3), page_size=3) == 6  # a confused server cannot loop us
    # A page the server cut short to keep its reply small is not the last one.
    assert next_anchor(5, ms(5, 6), page_size=3, truncated=True) == 7
    assert next_anchor(5, [], page_size=3, truncated=True) is None


def test_a_late_push_is_delivered_and_a_repeat_is_not() -> None:
    timeline: Timeline[M] = Timeline(window=3)
    timeline.start_empty("CH")
    assert timeline.live("CH", M(0)) == ms(0)
    assert timeline.live("CH", M(2)) == ms(2)  # another process's sender got there first
    assert timeline.live("CH", M(1)) == ms(1)  # late, not lost
    assert timeline.live("CH", M(1)) == []
    assert timeline.last("CH") == 2
    for index in (3, 4, 5):
        timeline.live("CH", M(index))
    assert timeline.live("CH", M(2)) == []  # older than the window: cannot tell, so not again


@given(st.lists(st.booleans(), max_size=60))
def test_two_processes_interleaving_their_pushes_lose_nothing(sources: list[bool]) -> None:
    """Messages stored alternately by two server processes, each pushing its own in order,
    reach the client in any interleaving of the two: each is delivered exactly once."""
    timeline: Timeline[M] = Timeline()
    timeline.start_empty("CH")
    ours = [index for index, mine in enumerate(sources) if mine]
    theirs = [index for index, mine in enumerate(sources) if not mine]
    # Ours arrive at once; theirs a few of ours later (their trip through Redis).
    arrivals: list[int] = []
    while ours or theirs:
        arrivals += ours[:3]
        del ours[:3]
        arrivals += theirs[:2]
        del theirs[:2]
    delivered = [m.index for index in arrivals for m in timeline.live("CH", M(index))]
    assert sorted(delivered) == list(range(len(sources)))


class Server:
    """A channel's history as the server keeps it, and what it pushes to one client."""

    def __init__(self, timeline: Timeline[M]) -> None:
        self.timeline = timeline
        self.messages: dict[int, M] = {}
        self.next_index = 0
        self.reported: list[Change[M]] = []

    def act(self, op: str, pick: int, *, pushed: bool) -> None:
        """Send a message, or edit or remove one (chosen by ``pick``), pushing it or not."""
        kind: Kind
        if op == "send" or not self.messages:
            message, kind = M(self.next_index), ADDED
            self.next_index += 1
            self.messages[message.index] = message
        else:
            index = sorted(self.messages)[pick % len(self.messages)]
            if op == "edit":
                message = M(index, self.messages[index].version + 1)
                kind = UPDATED
                self.messages[index] = message
            else:
                message, kind = self.messages.pop(index), REMOVED
        if pushed:
            self.reported += self.timeline.push("CH", kind, message)

    def page(self, anchor: int, size: int) -> list[M]:
        return [self.messages[i] for i in sorted(self.messages) if i >= anchor][:size]


ops = st.lists(st.tuples(st.sampled_from(["send", "send", "edit", "remove"]), st.integers(0, 99)))


@given(
    before=ops,
    offline=ops,
    early=ops,
    during=ops,
    after=ops,
    page_size=st.integers(1, 6),
    steps=st.lists(st.sampled_from(["op", "page", "page", "drop"]), max_size=60),
    window=st.sampled_from([0, 1, 3, 1000]),
)
def test_the_application_ends_up_with_the_servers_history(
    before: list[tuple[str, int]],
    offline: list[tuple[str, int]],
    early: list[tuple[str, int]],
    during: list[tuple[str, int]],
    after: list[tuple[str, int]],
    page_size: int,
    steps: list[str],
    window: int,
) -> None:
    """Sends, edits and removals made before a drop (pushed), while away (not pushed), after
    re-authenticating but before the plan, during the catch-up and after it (pushed), fed as
    the client does: the history changes while it is paged through, and the connection may
    drop again before the catch-up is over (what ``during`` does then goes unpushed until the
    next plan). The application's picture, built from the events alone, has every message there
    is, and with a window as large as the history it is the server's exactly."""
    timeline: Timeline[M] = Timeline(window)
    server = Server(timeline)
    timeline.start_empty("CH")
    for op, pick in before:
        server.act(op, pick, pushed=True)
    timeline.suspend()
    for op, pick in offline:
        server.act(op, pick, pushed=False)
    for op, pick in early:
        server.act(op, pick, pushed=True)
    anchor: int | None = timeline.plan(["CH"])["CH"]
    assert anchor is not None
    remaining, script = list(during), iter(steps)
    while anchor is not None:
        step = next(script, "page")
        if step == "op" and remaining:
            server.act(*remaining.pop(0), pushed=True)
        elif step == "drop":
            timeline.suspend()
            if remaining:
                server.act(*remaining.pop(0), pushed=False)
            anchor = timeline.plan(["CH"])["CH"]
        else:
            page = server.page(anchor, page_size)
            through = page[-1].index if len(page) == page_size else None
            server.reported += timeline.catch_up("CH", page, anchor, through)
            anchor = next_anchor(anchor, page, page_size)
    server.reported += timeline.release("CH")
    for op, pick in [*remaining, *after]:
        server.act(op, pick, pushed=True)

    picture: dict[int, M] = {}
    gone: set[int] = set()
    new = [change.message.index for change in server.reported if change.kind == ADDED]
    assert new == sorted(set(new))  # each message delivered once, in index order
    for change in server.reported:
        index = change.message.index
        assert index not in gone  # nothing is said of a message after its removal
        if change.kind == ADDED:
            picture[index] = change.message
        else:
            assert index in picture  # only messages the application was given
            if change.kind == REMOVED:
                del picture[index]
                gone.add(index)
            else:
                # Never an edit older than the one reported before, nor the same one twice.
                assert change.message.version > picture[index].version
                picture[index] = change.message
    assert set(server.messages) <= set(picture)
    if window >= server.next_index:
        assert picture == server.messages
