"""The deadline heap shared by every connection of a process: order, cancelling, lateness."""

from __future__ import annotations

from hubbub.realtime.timers import Timers


def test_due_callbacks_come_out_earliest_first_and_only_once() -> None:
    timers = Timers()
    fired: list[str] = []
    for when, name in ((3.0, "c"), (1.0, "a"), (2.0, "b"), (2.0, "b2")):
        timers.push(when, lambda name=name: fired.append(name))  # type: ignore[misc]
    assert timers.next() == 1.0
    for callback in timers.pop_due(2.0):
        callback()
    assert fired == ["a", "b", "b2"]  # equal deadlines keep the order they were pushed in
    assert timers.pop_due(2.5) == []
    assert timers.next() == 3.0
    for callback in timers.pop_due(10.0):
        callback()
    assert fired == ["a", "b", "b2", "c"]
    assert timers.next() is None


def test_a_cancelled_entry_never_fires_and_does_not_hold_the_next_deadline() -> None:
    timers = Timers()
    fired: list[str] = []
    early = timers.push(1.0, lambda: fired.append("early"))
    timers.push(5.0, lambda: fired.append("late"))
    Timers.cancel(early)
    Timers.cancel(None)  # nothing scheduled: nothing to do
    assert timers.next() == 5.0
    assert timers.pop_due(4.0) == []
    assert [callback() for callback in timers.pop_due(5.0)] == [None]
    assert fired == ["late"]
    assert len(timers) == 0
