"""Staying under the server's command rate."""

from __future__ import annotations

import pytest

from hubbub.client.pacing import Pacer


def test_a_burst_goes_out_at_once_then_commands_are_spaced() -> None:
    pacer = Pacer(rate=10, burst=3)
    assert [pacer.delay(0.0) for _ in range(3)] == [0, 0, 0]
    # Sent together, the next ones queue up behind each other.
    assert [pacer.delay(0.0) for _ in range(2)] == pytest.approx([0.1, 0.2])


def test_the_bucket_refills_with_time_up_to_the_burst() -> None:
    pacer = Pacer(rate=10, burst=2)
    pacer.delay(0.0)
    pacer.delay(0.0)
    assert pacer.delay(0.1) == 0
    assert pacer.delay(100.0) == 0
    assert pacer.delay(100.0) == 0
    assert pacer.delay(100.0) > 0


def test_the_default_keeps_under_the_servers_limit() -> None:
    # The server allows a burst of 100 and 50 a second: over any 2 s, 200 commands.
    pacer = Pacer()
    now, sent = 0.0, 0
    while now < 2.0:
        now += pacer.delay(now)
        sent += 1
    assert sent <= 200


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        Pacer(rate=0)
