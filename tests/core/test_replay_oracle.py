"""The hindsight oracle against a brute-force search on tiny traces.

With equal service times it must find the true minimum of diversions; with
mixed ones its plan must be feasible (an upper bound) and say it is a bound.
"""

from __future__ import annotations

import heapq
import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from brb.core.breaker import Thresholds
from brb.core.replay import SimParams, TraceRecord, oracle, simulate
from brb.core.replay.oracle import EPSILON_S, plan_diversions


def schedule(jobs: list[tuple[float, float]], slots: int) -> list[float]:
    """FIFO starts of ``jobs`` (arrival, service) on ``slots`` slots."""
    free = [0.0] * slots
    starts = []
    for arrival, service in jobs:
        start = max(arrival, free[0])
        heapq.heapreplace(free, start + service)
        starts.append(start)
    return starts


def fewest_diversions(jobs: list[tuple[float, float]], slots: int, wait_s: float) -> int:
    """Try every subset to keep, largest first."""
    n = len(jobs)
    for keep in range(n, -1, -1):
        for kept in itertools.combinations(range(n), keep):
            chosen = [jobs[i] for i in kept]
            starts = schedule(chosen, slots)
            if all(s - a <= wait_s + EPSILON_S for (a, _), s in zip(chosen, starts, strict=True)):
                return n - keep
    raise AssertionError("keeping nothing is always feasible")


quarter_seconds = st.integers(0, 16).map(lambda q: q / 4)
arrival_lists = st.lists(quarter_seconds, min_size=1, max_size=7).map(sorted)


@settings(max_examples=300, deadline=None)
@given(
    arrival_lists,
    st.sampled_from([0.5, 1.0, 2.0]),
    st.integers(1, 2),
    st.sampled_from([0.0, 0.5, 1.0, 2.0]),
)
def test_equal_service_times_are_exact(
    arrivals: list[float], service_s: float, slots: int, wait_s: float
) -> None:
    jobs = [(a, service_s) for a in arrivals]
    lost, _ = plan_diversions([(a, s, True) for a, s in jobs], slots=slots, wait_threshold_s=wait_s)
    assert len(lost) == fewest_diversions(jobs, slots, wait_s)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(quarter_seconds, st.sampled_from([0.25, 0.5, 1.0, 3.0])), min_size=1, max_size=7
    ).map(sorted),
    st.integers(1, 2),
    st.sampled_from([0.0, 0.5, 1.0, 2.0]),
)
def test_mixed_service_times_give_a_feasible_bound(
    jobs: list[tuple[float, float]], slots: int, wait_s: float
) -> None:
    lost, starts = plan_diversions(
        [(a, s, True) for a, s in jobs], slots=slots, wait_threshold_s=wait_s
    )
    kept = [i for i in range(len(jobs)) if i not in lost]
    assert sorted(starts) == kept
    replayed = schedule([jobs[i] for i in kept], slots)
    assert [starts[i] for i in kept] == replayed  # the plan is the FIFO schedule
    assert all(starts[i] - jobs[i][0] <= wait_s + EPSILON_S for i in kept)
    assert len(lost) >= fewest_diversions(jobs, slots, wait_s)


def test_moore_hodgson_diverts_the_long_queued_job() -> None:
    # 1 slot, threshold 1 s: a 1 s job runs from 0, a 5 s job queues at 0.1,
    # then three 1 s jobs arrive at 0.2, 0.3, 0.4. Greedy would keep the long
    # one and divert the three short ones; diverting the long one keeps them.
    jobs = [
        (0.0, 1.0, True),
        (0.1, 5.0, True),
        (0.2, 1.0, True),
        (0.3, 1.0, True),
        (0.4, 1.0, True),
    ]
    lost, _ = plan_diversions(jobs, slots=1, wait_threshold_s=3.0)
    assert lost == {1}


def test_jobs_that_may_not_leave_are_never_diverted() -> None:
    jobs = [(0.0, 1.0, False)] * 4 + [(0.0, 1.0, True)]
    lost, starts = plan_diversions(jobs, slots=1, wait_threshold_s=0.5)
    assert lost == {4}
    assert starts == {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0}


def test_oracle_report_matches_the_policy_on_the_half_second_scenario() -> None:
    trace = [TraceRecord(i * 0.5, "m", "s", 1000, 500, 1.0) for i in range(10)]
    p = SimParams(thresholds=Thresholds(1000, 2.0, min_active_seconds=1e9))
    o = oracle(trace, p)
    assert (o.diverted, o.is_exact) == (3, True)
    assert o.diverted_indices == {5, 7, 9}
    assert o.cost_usd == 3 * Decimal("0.007")  # Sonnet 5.5: 1000 in at $2, 500 out at $10
    assert max(o.waits_s) == 2.0
    assert sorted(o.latencies_s)[-1] == 3.0
    r = simulate(trace, p)
    assert {x.index for x in r.outcomes if x.backend == "cloud"} == o.diverted_indices


def test_oracle_says_when_it_is_a_bound() -> None:
    mixed = [TraceRecord(0.0, "m", "s", 1, 1, 1.0), TraceRecord(0.0, "m", "s", 1, 1, 2.0)]
    same = [TraceRecord(0.0, "m", "s", 1, 1, 1.0), TraceRecord(0.0, "m", "x", 1, 1, 1.0)]
    p = SimParams()
    assert oracle(mixed, p).is_exact is False
    assert oracle(same, p).is_exact is True
    # an excluded session is forced local: no longer the plain greedy problem
    assert oracle(same, SimParams(excluded_sessions=("x",))).is_exact is False
