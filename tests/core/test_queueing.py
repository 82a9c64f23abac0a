"""brb.core.queueing: the predicted wait and the breaker's observation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brb.core.breaker import Observation
from brb.core.queueing import QueueView, ewma, observe, predicted_wait_s, service_estimate_s


@pytest.mark.parametrize(
    ("slots", "elapsed", "waiting", "est", "expected"),
    [
        (1, [], 0, 5.0, 0.0),  # idle: served now
        (1, [2.0], 0, 5.0, 3.0),  # the busy slot frees in 3 s
        (1, [2.0], 2, 5.0, 13.0),  # two ahead: 3 + 2 x 5
        (2, [1.0], 0, 4.0, 0.0),  # one slot idle
        (2, [1.0], 1, 4.0, 3.0),  # the idle slot goes to the waiter ahead
        (2, [1.0], 2, 4.0, 4.0),  # second round on the first-free slot
        (2, [1.0, 3.0], 3, 4.0, 7.0),  # slots free at 1 and 3; 3rd waiter: 3 + 4
        (1, [9.0], 0, 5.0, 0.0),  # overran the estimate: never negative
        (0, [], 1, 5.0, 5.0),  # zero slots treated as one
    ],
)
def test_predicted_wait(
    slots: int, elapsed: list[float], waiting: int, est: float, expected: float
) -> None:
    assert predicted_wait_s(
        slots=slots, in_service_elapsed_s=elapsed, waiting=waiting, service_estimate_s=est
    ) == pytest.approx(expected)


@given(
    slots=st.integers(1, 8),
    elapsed=st.lists(st.floats(0, 100), max_size=8),
    waiting=st.integers(0, 50),
    est=st.floats(0.01, 100),
)
def test_one_more_waiter_never_waits_less(
    slots: int, elapsed: list[float], waiting: int, est: float
) -> None:
    kw = {"slots": slots, "in_service_elapsed_s": elapsed[:slots], "service_estimate_s": est}
    a = predicted_wait_s(waiting=waiting, **kw)  # type: ignore[arg-type]
    b = predicted_wait_s(waiting=waiting + 1, **kw)  # type: ignore[arg-type]
    assert 0 <= a <= b


@given(
    slots=st.integers(0, 8),
    elapsed=st.lists(st.floats(0, 100), max_size=12),
    waiting=st.integers(0, 50),
    est=st.floats(0.01, 100),
)
def test_predicted_wait_is_the_sorted_slots_definition(
    slots: int, elapsed: list[float], waiting: int, est: float
) -> None:
    """The selection (no full sort) gives exactly what sorting every slot gives."""
    k = max(1, slots)
    busy = sorted(max(0.0, est - e) for e in elapsed)[:k]
    free_at = sorted([0.0] * (k - len(busy)) + busy)
    rounds, idx = divmod(waiting, k)
    expected = round(free_at[idx] + rounds * est, 9)
    got = predicted_wait_s(
        slots=slots, in_service_elapsed_s=elapsed, waiting=waiting, service_estimate_s=est
    )
    assert got == expected


def test_service_estimate_learns_from_a_slow_cold_start() -> None:
    assert service_estimate_s(None, []) == 0.0
    assert service_estimate_s(None, [12.0, 3.0]) == 12.0
    assert service_estimate_s(4.0, [1.0]) == 4.0
    assert ewma(None, 10.0) == 10.0
    assert ewma(10.0, 20.0, alpha=0.5) == 15.0


def test_observe_sums_depth_and_takes_the_worst_wait() -> None:
    views = [
        QueueView(
            slots=1, in_service_elapsed_s=(1.0,), waiting=3, oldest_wait_s=2.0, service_ewma_s=10.0
        ),  # predicted 9 + 3 x 10 = 39
        QueueView(slots=2, waiting=1, oldest_wait_s=45.0, service_ewma_s=1.0),
    ]
    assert observe(views) == Observation(queue_depth=4, wait_seconds=45.0)
    assert views[0].predicted_wait_s() == pytest.approx(39.0)
    assert observe([views[0]]) == Observation(3, pytest.approx(39.0))  # type: ignore[arg-type]
    assert observe([]) == Observation(0, 0.0)
