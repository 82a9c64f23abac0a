"""Scenario tests of the replay simulator, with hand-computed expectations.

Each scenario is small enough to follow on paper; the comments give the
arithmetic. The simulator runs the daemon's own breaker, policy, queue and
budget code, so these also pin how those pieces combine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brb.core.breaker import Mode, Thresholds
from brb.core.policy import Policy
from brb.core.pricing import ModelPrice, Price
from brb.core.replay import SimParams, TraceRecord, simulate, summarize

NEVER = 1e9  # a min_active_seconds that outlasts every test trace


def every(
    step_s: float, n: int, service_s: float = 1.0, *, session: str = "s", start_s: float = 0.0
) -> list[TraceRecord]:
    return [TraceRecord(start_s + i * step_s, "m", session, 10, 10, service_s) for i in range(n)]


def params(**kw: object) -> SimParams:
    limits = kw.pop(
        "thresholds", Thresholds(queue_depth=1000, wait_seconds=2.0, min_active_seconds=NEVER)
    )
    return SimParams(thresholds=limits, **kw)  # type: ignore[arg-type]


def diverted(result: object) -> list[int]:
    return [o.index for o in result.outcomes if o.backend == "cloud"]  # type: ignore[attr-defined]


def test_one_slot_half_second_arrivals_overflow() -> None:
    # 1 slot, 1 s each, an arrival every 0.5 s, wait threshold 2 s. Request k
    # arrives at k/2 and, all kept, would start at k: wait k/2. The EWMA learns
    # 1 s at t=1. At t=1.5 r3 would wait 0.5 (r1's rest) + 1 (r2) = 1.5: it
    # stays local (standby); once it has joined the queue the next arrival would
    # wait 2.5 > 2, so the breaker activates. From then on every arrival that would
    # wait 2.5 s (r5, r7, r9) is diverted and the others wait exactly 2 s.
    r = simulate(every(0.5, 10), params())
    assert diverted(r) == [5, 7, 9]
    assert [o.wait_s for o in r.outcomes if o.backend == "local"] == [0, 0.5, 1, 1.5, 2, 2, 2]
    activated, deactivated = r.timeline  # the release comes NEVER seconds later
    assert (activated.at_s, activated.kind, activated.reason) == (
        1.5,
        "activated",
        "wait 2.50s > 2s",
    )
    assert (deactivated.kind, deactivated.at_s) == ("deactivated", NEVER + 2)
    assert [o.reason for o in r.outcomes][:5] == ["standby"] * 4 + ["fits_locally"]
    assert r.lost == 0 and r.local == 7 and r.activations == 1


def test_policy_all_diverts_everything_while_active() -> None:
    r = simulate(every(0.5, 10), params(policy=Policy.ALL))
    assert diverted(r) == [4, 5, 6, 7, 8, 9]  # active once r3 has queued, at 1.5 s
    assert {o.reason for o in r.outcomes if o.backend == "cloud"} == {"breaker_active"}


def test_queue_depth_trips_on_the_arrival_that_crosses_it() -> None:
    # A burst of 10 at t=0 with nothing learned yet (each predicted wait is 0),
    # queue threshold 3: r0 starts, r1..r3 queue; r4 would make 4 > 3: it trips
    # the breaker and is itself the first one diverted.
    limits = Thresholds(queue_depth=3, wait_seconds=1000, min_active_seconds=NEVER)
    for policy in (Policy.ALL, Policy.OVERFLOW):
        r = simulate(every(0.0, 10), params(thresholds=limits, policy=policy))
        assert diverted(r) == [4, 5, 6, 7, 8, 9]
        assert r.timeline[0].reason == "queue depth 4 > 3"
        assert r.peak_queue_depth == 3


def test_two_slots_divert_what_cannot_start_in_time() -> None:
    # r0 alone teaches the EWMA 2 s. At t=10, five arrive at once on 2 slots:
    # r1 and r2 take the slots (then an arrival would wait 2 s > 1 s: active);
    # r3..r5 would wait 2 s: diverted.
    trace = every(0.0, 1, 2.0) + every(0.0, 5, 2.0, start_s=10.0)
    limits = Thresholds(queue_depth=1000, wait_seconds=1.0, min_active_seconds=NEVER)
    r = simulate(trace, params(thresholds=limits, slots=2))
    assert diverted(r) == [3, 4, 5]
    assert all(o.wait_s == 0 for o in r.outcomes if o.backend == "local")
    assert (r.timeline[0].at_s, r.timeline[0].reason) == (10.0, "wait 2.00s > 1s")


@pytest.mark.parametrize(("min_active_s", "released_at"), [(5.0, 7.0), (10.0, 12.0)])
def test_release_after_min_active_on_a_completion_or_a_tick(
    min_active_s: float, released_at: float
) -> None:
    # Active from 1.5 s; the last local request (r8) ends at 7 s. With 5 s the
    # breaker releases on that completion; with 10 s only the 1 s tick at 12 s
    # (the first at or after 11.5 s) can release it, long after traffic stopped.
    limits = Thresholds(queue_depth=1000, wait_seconds=2.0, min_active_seconds=min_active_s)
    r = simulate(every(0.5, 10), params(thresholds=limits))
    assert [(e.kind, e.at_s) for e in r.timeline] == [
        ("activated", 1.5),
        ("deactivated", released_at),
    ]
    assert diverted(r) == [5, 7, 9]


def test_disabled_and_held_divert_nothing_but_the_breaker_still_tracks() -> None:
    for p in (params(is_enabled=False), params(mode=Mode.OFF)):
        r = simulate(every(0.5, 10), p)
        assert diverted(r) == []
        assert r.activations == 1
        assert [o.wait_s for o in r.outcomes] == [k / 2 for k in range(10)]


DOLLAR_A_TOKEN = ModelPrice("dear", Price(Decimal(0), Decimal(1_000_000), Decimal(0), Decimal(0)))


def test_budget_exhaustion_keeps_requests_local() -> None:
    # Pressed: every request is diverted if the budget can reserve it. Each
    # costs exactly $1 (1 output token at $1, max_tokens 1); the limit is $2.
    trace = [TraceRecord(float(i), "m", "s", 0, 1, 0.25) for i in range(5)]
    p = params(
        mode=Mode.ON,
        cloud_model="dear",
        price_overrides={"dear": DOLLAR_A_TOKEN},
        max_tokens=1,
        daily_limit_usd=Decimal(2),
        cloud_latency_s=0.5,
    )
    r = simulate(trace, p)
    assert diverted(r) == [0, 1]
    assert [o.reason for o in r.outcomes[2:]] == ["budget"] * 3
    assert r.cost_usd == Decimal(2)
    assert [(e.kind, e.at_s) for e in r.timeline] == [
        ("budget_exhausted", 1.0),
        ("budget_alert", 1.5),
    ]
    assert summarize(r)["budget_exhausted"] is True


def test_the_budget_is_per_day_in_the_configured_timezone() -> None:
    # Starting 2 s before midnight UTC with $1 a day: one diversion each day.
    trace = [TraceRecord(float(i), "m", "s", 0, 1, 0.25) for i in range(4)]
    p = params(
        mode=Mode.ON,
        cloud_model="dear",
        price_overrides={"dear": DOLLAR_A_TOKEN},
        max_tokens=1,
        daily_limit_usd=Decimal(1),
        cloud_latency_s=0.5,
        start=datetime(2026, 11, 27, 23, 59, 58, tzinfo=UTC),
    )
    assert diverted(simulate(trace, p)) == [0, 2]


def test_excluded_sessions_stay_local_even_when_pressed() -> None:
    trace = [
        TraceRecord(float(i), "m", "compliance-7" if i % 2 else "web-1", 10, 10, 0.5)
        for i in range(6)
    ]
    r = simulate(trace, params(mode=Mode.ON, excluded_sessions=("compliance-*",)))
    assert diverted(r) == [0, 2, 4]
    assert {o.reason for o in r.outcomes if o.backend == "local"} == {"excluded_session"}


def test_an_unpriced_cloud_model_keeps_everything_local() -> None:
    r = simulate(every(0.5, 10), params(mode=Mode.ON, cloud_model="claude-nonexistent-1"))
    assert diverted(r) == []
    assert {o.reason for o in r.outcomes} == {"unpriced_model"}


def test_cloud_cost_and_latency() -> None:
    # Sonnet 5.5 (the default cloud model): $2 in, $10 out per million tokens.
    trace = [TraceRecord(0.0, "m", "s", 1000, 500, 1.0)]
    r = simulate(trace, params(mode=Mode.ON, cloud_latency_s=3.0))
    (o,) = r.outcomes
    assert (o.backend, o.latency_s, o.cost_usd) == ("cloud", 3.0, Decimal("0.007"))
    assert r.cost_usd == Decimal("0.007")


def test_service_time_from_tokens_when_the_trace_has_none() -> None:
    trace = [TraceRecord(0.0, "m", "s", 10, 60), TraceRecord(0.0, "m", "s", 10, 30)]
    r = simulate(trace, params(tokens_per_second=30.0))
    assert [(o.wait_s, o.latency_s) for o in r.outcomes] == [(0.0, 2.0), (2.0, 3.0)]


def test_models_have_their_own_slots() -> None:
    trace = [TraceRecord(0.0, "a", "s", 1, 1, 5.0), TraceRecord(0.0, "b", "s", 1, 1, 5.0)]
    r = simulate(trace, params())
    assert [o.wait_s for o in r.outcomes] == [0.0, 0.0]


def test_deterministic() -> None:
    import random

    rng = random.Random(7)
    t, trace = 0.0, []
    for _ in range(2000):
        t += rng.expovariate(1 / 4)
        trace.append(
            TraceRecord(
                round(t, 3),
                rng.choice("ab"),
                f"s{rng.randrange(9)}",
                rng.randrange(2000),
                rng.randrange(1, 400),
            )
        )
    p = params(thresholds=Thresholds(queue_depth=5, wait_seconds=20, min_active_seconds=60))
    first, second = simulate(trace, p), simulate(trace, p)
    assert summarize(first) == summarize(second)
    assert first.outcomes == second.outcomes
    assert first.diverted > 0 and first.activations > 1


arrivals = st.lists(
    st.tuples(st.integers(0, 40), st.sampled_from("ab"), st.integers(0, 8)),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(arrivals, st.integers(1, 3), st.sampled_from(list(Policy)), st.integers(1, 4))
def test_conservation_and_fifo(
    items: list[tuple[int, str, int]], slots: int, policy: Policy, queue_depth: int
) -> None:
    """Every request is served exactly once; per model, local requests start in
    arrival order, never more than ``slots`` at once, and latency = wait + service."""
    trace = sorted(
        (TraceRecord(a / 4, m, "s", 10, 10, s / 4) for a, m, s in items),
        key=lambda r: r.arrival_offset_s,
    )
    limits = Thresholds(queue_depth=queue_depth, wait_seconds=1.0, min_active_seconds=2.0)
    r = simulate(trace, params(thresholds=limits, slots=slots, policy=policy))
    assert r.lost == 0 and r.local + r.diverted == len(trace)
    assert [o.index for o in r.outcomes] == list(range(len(trace)))
    for model in "ab":
        local = [
            (trace[o.index], o)
            for o in r.outcomes
            if o.backend == "local" and trace[o.index].model == model
        ]
        starts = [rec.arrival_offset_s + o.wait_s for rec, o in local]
        assert starts == sorted(starts)
        for rec, o in local:
            assert o.wait_s >= 0
            assert o.latency_s == pytest.approx(o.wait_s + (rec.service_s or 0))
        for s in starts:  # at any start, at most `slots` requests are in service
            running = sum(
                1
                for (rec, _), s2 in zip(local, starts, strict=True)
                if s2 <= s < s2 + (rec.service_s or 0)
            )
            assert running <= slots


def test_ten_thousand_requests_finish() -> None:
    # Speed is measured by running the CLI (see docs/REPLAY.md), not asserted
    # here; this pins that a large trace completes and conserves requests.
    trace = every(1.3, 10_000, 1.5)
    r = simulate(trace, params(thresholds=Thresholds(50, 6.0, min_active_seconds=30)))
    assert r.local + r.diverted == 10_000 and r.lost == 0
