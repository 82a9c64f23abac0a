"""The provider breaker: closed -> open -> half_open (one probe) -> closed or open again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brb.core.provider_breaker import (
    Admission,
    BreakerSettings,
    Circuit,
    CircuitState,
    Edge,
    Outcome,
    admit,
    is_admissible,
    peek,
    record,
)

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
S = BreakerSettings(failure_threshold=3, cooldown_s=30.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fail(
    c: Circuit, now: datetime, retry_after_s: float | None = None
) -> tuple[Circuit, Edge | None]:
    c, admission, _ = admit(c, now)
    assert admission is not Admission.SKIP
    return record(c, admission, Outcome.FAILURE, now, S, retry_after_s=retry_after_s, error="529")


def opened(now: datetime = T0, retry_after_s: float | None = None) -> Circuit:
    c = Circuit()
    for _ in range(S.failure_threshold):
        c, edge = fail(c, now, retry_after_s)
    assert edge is Edge.OPENED
    return c


def test_closed_lets_everything_through_and_counts_failures_in_a_row() -> None:
    c, edge = fail(Circuit(), T0)
    assert (c.state, c.failures, edge, c.last_error) == (CircuitState.CLOSED, 1, None, "529")
    c, edge = fail(c, T0)
    assert (c.state, c.failures) == (CircuitState.CLOSED, 2)
    c, admission, _ = admit(c, T0)
    c, edge = record(c, admission, Outcome.SUCCESS, T0, S)
    assert (c.state, c.failures, edge) == (CircuitState.CLOSED, 0, None)  # not in a row


def test_the_threshold_failure_opens_it_for_the_cooldown() -> None:
    c = opened()
    assert (c.state, c.failures, c.open_until) == (CircuitState.OPEN, 3, at(30))
    assert admit(c, at(29.999))[1] is Admission.SKIP
    assert peek(c, at(29.999)) is CircuitState.OPEN and peek(c, at(30)) is CircuitState.HALF_OPEN


@pytest.mark.parametrize(
    ("retry_after_s", "open_for_s"),
    [(None, 30), (5, 30), (30, 30), (120, 120), (-4, 30), (10**9, 3600)],
)
def test_open_for_the_cooldown_or_the_retry_after_whichever_is_longer(
    retry_after_s: float | None, open_for_s: float
) -> None:
    assert opened(T0, retry_after_s).open_until == at(open_for_s)


def test_a_request_failure_is_not_the_providers() -> None:
    c = Circuit(failures=2)
    c2, admission, _ = admit(c, T0)
    assert record(c2, admission, Outcome.NEUTRAL, T0, S) == (c, None)


def test_after_the_cooldown_exactly_one_probe_goes_out() -> None:
    c = opened()
    c, first, edge = admit(c, at(30))
    assert (first, edge, c.state, c.is_probing) == (
        Admission.PROBE,
        Edge.HALF_OPENED,
        CircuitState.HALF_OPEN,
        True,
    )
    for later in (at(30), at(31), at(500)):
        assert admit(c, later)[1] is Admission.SKIP
        assert not is_admissible(c, later)


def test_the_probes_success_closes_it() -> None:
    c, probe, _ = admit(opened(), at(30))
    c, edge = record(c, probe, Outcome.SUCCESS, at(31), S)
    assert (c.state, c.failures, c.open_until, c.is_probing, edge) == (
        CircuitState.CLOSED,
        0,
        None,
        False,
        Edge.CLOSED,
    )


def test_the_probes_failure_opens_it_again_for_a_new_cooldown() -> None:
    c, probe, _ = admit(opened(), at(30))
    c, edge = record(c, probe, Outcome.FAILURE, at(32), S, retry_after_s=60, error="timeout")
    assert (c.state, c.open_until, c.is_probing, c.last_error, edge) == (
        CircuitState.OPEN,
        at(92),
        False,
        "timeout",
        Edge.REOPENED,
    )


def test_a_probe_with_no_verdict_frees_the_slot_for_the_next_request() -> None:
    c, probe, _ = admit(opened(), at(30))
    c, edge = record(c, probe, Outcome.NEUTRAL, at(31), S)
    assert (c.state, c.is_probing, edge) == (CircuitState.HALF_OPEN, False, None)
    assert admit(c, at(31))[1] is Admission.PROBE


def test_stragglers_admitted_before_it_opened_neither_close_it_nor_extend_it() -> None:
    c = opened()
    late_ok, edge = record(c, Admission.PASS, Outcome.SUCCESS, at(1), S)
    assert (late_ok, edge) == (c, None)
    late_fail, edge = record(c, Admission.PASS, Outcome.FAILURE, at(10), S)
    assert (late_fail.state, late_fail.open_until, late_fail.failures, edge) == (
        CircuitState.OPEN,
        at(30),
        4,
        None,
    )


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        BreakerSettings(failure_threshold=0)
    with pytest.raises(ValueError):
        BreakerSettings(cooldown_s=0)


# --- properties ---------------------------------------------------------------------------

# One step: (seconds later, which in-flight request reports or -1 for a new arrival, outcome)
steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=40, allow_nan=False),
        st.integers(min_value=-1, max_value=4),
        st.sampled_from(list(Outcome)),
        st.one_of(st.none(), st.floats(min_value=0, max_value=90, allow_nan=False)),
    ),
    max_size=60,
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(steps, st.integers(min_value=1, max_value=4))
def test_invariants_hold_whatever_happens(
    script: list[tuple[float, int, Outcome, float | None]], threshold: int
) -> None:
    cfg = BreakerSettings(failure_threshold=threshold, cooldown_s=30.0)
    c = Circuit()
    now = T0
    in_flight: list[Admission] = []
    for delay, which, outcome, retry_after in script:
        now += timedelta(seconds=delay)
        before = c
        if which < 0 or not in_flight:
            c, admission, edge = admit(c, now)
            if admission is not Admission.SKIP:
                in_flight.append(admission)
            if edge is Edge.HALF_OPENED:
                assert before.state is CircuitState.OPEN and now >= before.open_until  # type: ignore[operator]
        else:
            admission = in_flight.pop(which % len(in_flight))
            c, edge = record(c, admission, outcome, now, cfg, retry_after_s=retry_after)
            if edge is Edge.OPENED:
                assert before.state is CircuitState.CLOSED and c.failures >= threshold
                assert c.open_until is not None and c.open_until >= now + timedelta(seconds=30)
            if edge is Edge.CLOSED:
                assert admission is Admission.PROBE and outcome is Outcome.SUCCESS
        # at most one probe out, and only while half-open
        assert in_flight.count(Admission.PROBE) <= 1
        assert c.is_probing == (Admission.PROBE in in_flight)
        assert c.is_probing <= (c.state is CircuitState.HALF_OPEN)
        # open always knows until when; closed never does and stays under the threshold
        if c.state is CircuitState.CLOSED:
            assert c.open_until is None and c.failures < threshold
        else:
            assert c.open_until is not None
