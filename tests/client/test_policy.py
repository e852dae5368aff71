"""What the client does after each close code, and how long it waits."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubbub.client.policy import Action, Backoff, after_close
from hubbub.client.protocol import MAX_FRAME


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - backoff jitter, nothing secret


R, REFRESH, DENIED, GIVE_UP, STOP = (
    Action.RECONNECT,
    Action.REFRESH_THEN_RECONNECT,
    Action.DENIED,
    Action.GIVE_UP,
    Action.STOP,
)


@pytest.mark.parametrize(
    ("code", "with_provider", "fixed_token"),
    [
        (None, R, R),  # no close frame at all
        (1000, STOP, STOP),
        (1001, R, R),
        (1006, R, R),
        (1011, R, R),
        (1013, R, R),
        (4000, R, R),
        (4001, REFRESH, DENIED),
        (4002, REFRESH, DENIED),
        (4003, REFRESH, DENIED),
        (4004, GIVE_UP, GIVE_UP),
        (4008, GIVE_UP, GIVE_UP),
        (4009, GIVE_UP, GIVE_UP),
        (4029, R, R),
        (1002, GIVE_UP, GIVE_UP),
        (4100, R, R),  # a code from a newer server: retrying, politely, is the safe bet
    ],
)
def test_close_code_policy(code: int | None, with_provider: Action, fixed_token: Action) -> None:
    assert after_close(code, can_refresh=True) is with_provider
    assert after_close(code, can_refresh=False) is fixed_token


def test_the_frame_limit_matches_the_protocol() -> None:
    assert MAX_FRAME == 65536


@given(
    initial=st.floats(0.01, 5),
    factor=st.floats(1, 4),
    cap_over_initial=st.floats(1, 100),
    seed=st.integers(0, 2**32),
)
def test_backoff_stays_within_its_bounds(
    initial: float, factor: float, cap_over_initial: float, seed: int
) -> None:
    cap = initial * cap_over_initial
    backoff = Backoff(initial, cap, factor, rng=seeded(seed))
    for attempt in range(80):
        ceiling = min(cap, initial * factor**attempt)
        delay = backoff.next_delay()
        assert ceiling / 2 - 1e-9 <= delay <= ceiling + 1e-9
        assert 0 < delay <= cap + 1e-9


def test_backoff_grows_then_caps_and_resets() -> None:
    backoff = Backoff(initial=1, cap=8, rng=seeded(1))
    ceilings = [1, 2, 4, 8, 8, 8]
    for ceiling in ceilings:
        assert ceiling / 2 <= backoff.next_delay() <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_backoff_is_jittered() -> None:
    delays = {Backoff(1, 30, rng=seeded(seed)).next_delay() for seed in range(20)}
    assert len(delays) == 20


@pytest.mark.parametrize(("initial", "cap", "factor"), [(0, 1, 2), (2, 1, 2), (1, 2, 0.5)])
def test_backoff_rejects_nonsense(initial: float, cap: float, factor: float) -> None:
    with pytest.raises(ValueError, match="initial"):
        Backoff(initial, cap, factor)
