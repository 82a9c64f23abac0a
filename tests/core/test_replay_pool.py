"""The replay's simulated pool: several upstreams, their slots and loads, what each served."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brb.core.breaker import Thresholds
from brb.core.replay import SimParams, SimUpstream, TraceRecord, oracle, parse_trace, simulate
from brb.core.replay.run import SimResult

BLACK_FRIDAY = Path(__file__).parents[2] / "examples" / "black_friday.jsonl"
LIMITS = Thresholds(queue_depth=1000, wait_seconds=5.0, min_active_seconds=1e9)
TWO_BOXES = (SimUpstream("a", 1), SimUpstream("b", 1))


def sim(trace: list[TraceRecord], **kw: object) -> SimResult:
    return simulate(trace, SimParams(thresholds=LIMITS, **kw))  # type: ignore[arg-type]


def routes(r: SimResult) -> list[tuple[str, float]]:
    return [(o.backend, round(o.wait_s, 9)) for o in r.outcomes]


def burst(n: int, service_s: float = 2.0, step_s: float = 0.5) -> list[TraceRecord]:
    return [TraceRecord(i * step_s, "m", f"s{i}", 10, 10, service_s) for i in range(n)]


def test_a_pool_of_one_is_the_slots_form() -> None:
    trace = burst(40)
    for room in (True, False):
        pool = sim(trace, upstreams=(SimUpstream("default", 2),), waiting_room=room)
        plain = sim(trace, slots=2, waiting_room=room)
        assert pool.outcomes == plain.outcomes
        assert pool.timeline == plain.timeline
        assert pool.upstreams == plain.upstreams
        assert plain.upstreams[0].name == "default" and plain.upstreams[0].served == plain.local


def test_two_boxes_of_one_slot_serve_like_one_box_of_two_without_the_room() -> None:
    # Without the waiting room the pool is one FIFO over its slots (the queue
    # monitor's view): the same waits and diversions, request by request.
    trace = burst(40)
    two = sim(trace, upstreams=TWO_BOXES, waiting_room=False)
    one = sim(trace, slots=2, waiting_room=False)
    assert routes(two) == routes(one)
    assert one.diverted > 0  # the trace overflows: the equality is not "nothing happened"
    a, b = (u.served for u in two.upstreams)
    assert a == b == two.local / 2  # equal jobs: each start takes the least busy box


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.3, 0.5, 1.0, 2.5]), min_size=2, max_size=50),
    st.booleans(),
)
def test_two_boxes_of_one_slot_about_one_box_of_two(gaps: list[float], room: bool) -> None:
    """Equal requests, equal boxes: a pool of two one-slot upstreams serves the
    trace about as one upstream of two slots does (the same work gets done; with
    the waiting room a request waits in one member's room and the breaker sees
    each member, so a diversion or two may differ), and nothing is lost."""
    t, trace = 0.0, []
    for i, gap in enumerate(gaps):
        t += gap
        trace.append(TraceRecord(t, "m", f"s{i}", 10, 10, 2.0))
    two = sim(trace, upstreams=TWO_BOXES, waiting_room=room)
    one = sim(trace, slots=2, waiting_room=room)
    assert two.lost == 0 and one.lost == 0
    assert abs(two.diverted - one.diverted) <= max(2, len(trace) // 10)
    assert sum(u.served for u in two.upstreams) == two.local
    assert sum(u.busy_s for u in two.upstreams) == pytest.approx(2.0 * two.local)
    for o in two.outcomes:  # every local request names the box that served it
        assert (o.upstream in {"a", "b"}) == (o.backend == "local")


def test_a_second_box_keeps_the_burst_local_that_one_box_diverts() -> None:
    trace = burst(30, service_s=2.0, step_s=1.4)  # 1.4x what one slot can do
    one = sim(trace, waiting_room=True)
    two = sim(trace, upstreams=TWO_BOXES, waiting_room=True)
    assert one.diverted > 0 and two.diverted == 0
    assert two.cost_usd == 0 < one.cost_usd
    assert all(u.served > 0 for u in two.upstreams)


def test_a_second_box_on_the_black_friday_trace() -> None:
    """The example night (docs/REPLAY.md): a second box of one slot keeps some
    180 more requests local than one box and spends over a dollar less, about
    what one box of two slots does (the CLI test pins the documented figures)."""
    trace = parse_trace(BLACK_FRIDAY.read_text().splitlines(), source="black_friday")
    one = simulate(trace, SimParams(waiting_room=True))
    pool = simulate(trace, SimParams(waiting_room=True, upstreams=(
        SimUpstream("default", 1), SimUpstream("gpu-2", 1))))  # fmt: skip
    bigger = simulate(trace, SimParams(waiting_room=True, slots=2))
    assert one.diverted > 900
    assert pool.diverted < one.diverted - 150
    assert pool.cost_usd < one.cost_usd - 1
    assert abs(pool.diverted - bigger.diverted) <= 20
    served = {u.name: u.served for u in pool.upstreams}
    assert served["gpu-2"] > 300 and sum(served.values()) == pool.local


def test_the_new_box_pays_the_load_once_and_the_first_has_it_loaded() -> None:
    # Two at once, 10 s each; the trace says loading the model took 4 s once.
    trace = [
        TraceRecord(0.0, "m", "s0", 10, 10, 10.0, load_s=4.0),
        TraceRecord(0.0, "m", "s1", 10, 10, 10.0),
        TraceRecord(20.0, "m", "s2", 10, 10, 10.0),
        TraceRecord(20.0, "m", "s3", 10, 10, 10.0),
    ]
    lax = Thresholds(queue_depth=1000, wait_seconds=60.0, min_active_seconds=1e9)
    r = simulate(trace, SimParams(thresholds=lax, upstreams=TWO_BOXES, waiting_room=True))
    by = {o.index: o for o in r.outcomes}
    assert (by[0].upstream, by[0].latency_s) == ("a", 10.0)  # a has the model: no load
    assert (by[1].upstream, by[1].latency_s) == ("b", 14.0)  # b loads it first: 4 s more
    assert {by[2].latency_s, by[3].latency_s} == {10.0}  # loaded now on both
    tallies = {u.name: u for u in r.upstreams}
    assert (tallies["a"].cold_loads, tallies["b"].cold_loads) == (0, 1)
    assert tallies["b"].busy_s == pytest.approx(24.0)


def test_a_waiting_request_starts_on_whichever_box_frees_a_slot_first() -> None:
    # a takes a 30 s job at 0, b a 2 s job at 0.5. At 1 s a third arrives with
    # both busy: by the (prior) predictions a frees first, so it waits in a's
    # room; but b frees at 2.5 s, and it moves there and starts at once.
    lax = Thresholds(queue_depth=1000, wait_seconds=60.0, min_active_seconds=1e9)
    trace = [
        TraceRecord(0.0, "m", "s0", 10, 10, 30.0),
        TraceRecord(0.5, "m", "s1", 10, 10, 2.0),
        TraceRecord(1.0, "m", "s2", 10, 10, 2.0),
    ]
    r = simulate(trace, SimParams(thresholds=lax, upstreams=TWO_BOXES, waiting_room=True))
    by = {o.index: o for o in r.outcomes}
    assert [by[i].upstream for i in range(3)] == ["a", "b", "b"]
    assert by[2].wait_s == pytest.approx(1.5)


def test_the_oracle_takes_the_pools_slots_together() -> None:
    trace = burst(40)
    pool = oracle(trace, SimParams(thresholds=LIMITS, upstreams=TWO_BOXES))
    plain = oracle(trace, SimParams(thresholds=LIMITS, slots=2))
    assert pool == plain
    assert SimParams(upstreams=TWO_BOXES).total_slots == 2


@pytest.mark.parametrize(
    ("upstreams", "message"),
    [
        ((SimUpstream("a", 1), SimUpstream("a", 2)), "names must differ"),
        ((SimUpstream("a", 0), SimUpstream("b", 2)), "at least one parallel slot"),
    ],
)
def test_a_bad_pool_is_refused(upstreams: tuple[SimUpstream, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulate(burst(2), SimParams(upstreams=upstreams))
