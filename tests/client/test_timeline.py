"""Catch-up after a reconnect: every message delivered once, in index order."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from hubbub.client.timeline import Timeline, next_anchor


@dataclass(frozen=True)
class M:
    index: int


def ms(*indexes: int) -> list[M]:
    return [M(i) for i in indexes]


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
    assert timeline.live("CH1", M(6)) == []  # pushed after re-authenticating: held
    assert timeline.live("CH1", M(5)) == []
    assert timeline.plan(["CH1"]) == {"CH1": 2}
    # The anchor (2) comes back too, as the server includes it.
    assert timeline.catch_up("CH1", ms(2, 3, 4, 5)) == ms(3, 4, 5)
    assert timeline.release("CH1") == ms(6)
    assert timeline.live("CH1", M(7)) == ms(7)


def test_a_channel_never_seen_gets_a_baseline_and_its_held_pushes() -> None:
    timeline: Timeline[M] = Timeline()
    assert timeline.watch("CH1") is True
    assert timeline.watch("CH1") is False
    # Pushed while the baseline was being fetched: the baseline (8) may already include it,
    # but it was sent live exactly once, so it is delivered.
    assert timeline.live("CH1", M(8)) == []
    assert timeline.release("CH1", baseline=8) == ms(8)
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
    assert timeline.release("CH3", baseline=4) == ms(4)
    assert timeline.release("CH4", baseline=-1) == []
    # Not in the plan, so live again at once.
    assert timeline.live("CH5", M(0)) == ms(0)


def test_forget() -> None:
    timeline: Timeline[M] = Timeline()
    timeline.live("CH1", M(3))
    timeline.forget("CH1")
    assert timeline.last("CH1") is None
    assert timeline.catch_up("CH1", ms(4)) == []
    assert timeline.release("CH1") == []


def test_next_anchor() -> None:
    assert next_anchor(5, ms(5, 6, 7), page_size=3) == 8
    assert next_anchor(5, ms(5, 6), page_size=3) is None
    assert next_anchor(5, ms(1, 2, 3), page_size=3) == 6  # a confused server cannot loop us


@given(
    before=st.integers(0, 15),
    offline=st.integers(0, 15),
    early=st.integers(0, 5),
    after=st.integers(0, 15),
    page_size=st.integers(1, 6),
    interleaving=st.lists(st.booleans(), max_size=60),
)
def test_catch_up_delivers_every_message_once_in_order(
    before: int, offline: int, early: int, after: int, page_size: int, interleaving: list[bool]
) -> None:
    """Messages sent before a drop, while away (not pushed), after re-authenticating but
    before the plan, and during the catch-up (pushed), fed as the client does: the history
    grows while it is paged through."""
    timeline: Timeline[M] = Timeline()
    history: list[M] = []
    delivered: list[M] = []

    def send(live: bool) -> None:
        message = M(len(history))
        history.append(message)
        if live:
            delivered.extend(timeline.live("CH", message))

    timeline.start_empty("CH")
    for _ in range(before):
        send(live=True)
    timeline.suspend()
    for _ in range(offline):
        send(live=False)
    for _ in range(early):
        send(live=True)
    last = timeline.plan(["CH"])["CH"]
    assert last is not None
    anchor: int | None = last + 1
    steps, remaining = iter(interleaving), after
    while anchor is not None:
        if next(steps, False) and remaining:
            remaining -= 1
            send(live=True)
            continue
        page = [m for m in history if m.index >= anchor][:page_size]
        delivered.extend(timeline.catch_up("CH", page))
        anchor = next_anchor(anchor, page, page_size)
    delivered.extend(timeline.release("CH"))
    for _ in range(remaining):
        send(live=True)
    assert delivered == history
