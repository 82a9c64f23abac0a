"""brb.core.breaker: every transition, the overrides, expiry and flapping.

Time comes from freezegun's clock, moved by hand (``tick``), and is passed
into the pure functions; nothing sleeps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from brb.core.breaker import (
    BreakerState,
    Mode,
    Observation,
    Override,
    Phase,
    Thresholds,
    Transition,
    effective_mode,
    expire,
    is_diverting,
    step,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LIMITS = Thresholds(
    queue_depth=50, wait_seconds=60.0, release_fraction=0.5, min_active_seconds=300.0
)
BUSY = Observation(queue_depth=60, wait_seconds=5.0)  # over the depth threshold
CALM = Observation(queue_depth=10, wait_seconds=5.0)  # under both release levels


@pytest.fixture
def clock() -> Iterator[FrozenDateTimeFactory]:
    with freeze_time(T0) as frozen:
        yield frozen


def now() -> datetime:
    return datetime.now(UTC)


class Breaker:
    """Feeds observations at the frozen clock's time and keeps the transitions."""

    def __init__(self, limits: Thresholds = LIMITS) -> None:
        self.limits = limits
        self.state = BreakerState()
        self.transitions: list[Transition] = []

    def see(self, depth: int, wait: float) -> Transition | None:
        self.state, t = step(self.state, Observation(depth, wait), now(), self.limits)
        if t is not None:
            self.transitions.append(t)
        return t

    def activations(self) -> list[datetime]:
        return [t.at for t in self.transitions if t.kind == "activated"]


# --- standby -> active ---------------------------------------------------------


@pytest.mark.parametrize(
    ("depth", "wait", "activates", "reason_part"),
    [
        (51, 0.0, True, "queue depth 51 > 50"),
        (50, 0.0, False, None),  # at the threshold is not over it
        (0, 60.5, True, "wait 60.50s > 60s"),
        (0, 60.0, False, None),
        (51, 61.0, True, "queue depth"),  # either is enough; depth is named first
        (0, 0.0, False, None),
    ],
)
def test_standby_activates_when_depth_or_wait_crosses(
    clock: FrozenDateTimeFactory,
    depth: int,
    wait: float,
    activates: bool,
    reason_part: str | None,
) -> None:
    b = Breaker()
    t = b.see(depth, wait)
    if not activates:
        assert t is None
        assert b.state.phase is Phase.STANDBY
        return
    assert t is not None and t.kind == "activated" and t.at == T0
    assert reason_part is not None and reason_part in t.reason
    assert t.observation == Observation(depth, wait)
    assert b.state == BreakerState(Phase.ACTIVE, T0, t.reason)


def test_not_released_before_min_active_seconds(clock: FrozenDateTimeFactory) -> None:
    b = Breaker()
    b.see(60, 0)
    clock.tick(299)
    assert b.see(0, 0) is None
    assert b.state.phase is Phase.ACTIVE and b.state.since == T0
    clock.tick(1)
    t = b.see(0, 0)
    assert t is not None and t.kind == "deactivated"
    assert t.active_seconds == pytest.approx(300)
    assert b.state.phase is Phase.STANDBY and b.state.since == T0 + timedelta(seconds=300)
    assert "active 300s" in t.reason


@pytest.mark.parametrize(
    ("depth", "wait", "releases"),
    [
        (24, 29.9, True),  # both under 0.5 x threshold
        (25, 0.0, False),  # depth at the release level is not under it
        (0, 30.0, False),  # wait at the release level
        (10, 45.0, False),  # only depth calm: wait still above its release level
        (30, 5.0, False),  # only wait calm
        (49, 59.0, False),  # under the thresholds but not calm
    ],
)
def test_release_needs_both_under_release_fraction(
    clock: FrozenDateTimeFactory, depth: int, wait: float, releases: bool
) -> None:
    b = Breaker()
    b.see(60, 0)
    clock.tick(600)
    t = b.see(depth, wait)
    assert (t is not None) is releases
    assert b.state.phase is (Phase.STANDBY if releases else Phase.ACTIVE)


def test_still_busy_load_keeps_it_active_without_new_transitions(
    clock: FrozenDateTimeFactory,
) -> None:
    b = Breaker()
    b.see(60, 0)
    for _ in range(100):
        clock.tick(30)
        assert b.see(70, 90) is None
    assert b.state.since == T0  # the active period is not restarted by more load


def test_active_with_unknown_since_releases_on_calm(clock: FrozenDateTimeFactory) -> None:
    # A state row written without ``since`` must not pin the breaker on forever.
    state, t = step(BreakerState(Phase.ACTIVE, None, "legacy"), CALM, now(), LIMITS)
    assert t is not None and t.kind == "deactivated" and state.phase is Phase.STANDBY


# --- overrides and expiry ------------------------------------------------------


def test_override_on_expires_back_to_auto(clock: FrozenDateTimeFactory) -> None:
    o = Override(Mode.ON, until=T0 + timedelta(minutes=10), since=T0, who="ana", source="cli")
    standby = BreakerState()
    assert effective_mode(o, now()) is Mode.ON
    assert is_diverting(o, standby, now())
    assert expire(o, now()) == (o, None)

    clock.tick(timedelta(minutes=10) - timedelta(microseconds=1))
    assert effective_mode(o, now()) is Mode.ON
    clock.tick(timedelta(microseconds=1))
    assert effective_mode(o, now()) is Mode.AUTO
    assert not is_diverting(o, standby, now())

    new, t = expire(o, now())
    assert t is not None and t.kind == "override_expired" and t.at == now()
    assert "on override set by ana expired" in t.reason
    assert new.mode is Mode.AUTO and new.until is None and new.since == now()
    assert expire(new, now()) == (new, None)


def test_override_off_holds_against_an_active_breaker_until_expiry(
    clock: FrozenDateTimeFactory,
) -> None:
    active = BreakerState(Phase.ACTIVE, T0, "queue depth 60 > 50")
    o = Override(Mode.OFF, until=T0 + timedelta(hours=1), since=T0)
    assert not is_diverting(o, active, now())
    clock.tick(3600)
    assert is_diverting(o, active, now())  # expired: auto follows the breaker again


def test_override_without_until_never_expires(clock: FrozenDateTimeFactory) -> None:
    o = Override(Mode.ON, since=T0)
    clock.tick(timedelta(days=400))
    assert effective_mode(o, now()) is Mode.ON
    assert expire(o, now()) == (o, None)


@pytest.mark.parametrize(
    ("mode", "phase", "diverting"),
    [
        (Mode.AUTO, Phase.STANDBY, False),
        (Mode.AUTO, Phase.ACTIVE, True),
        (Mode.ON, Phase.STANDBY, True),
        (Mode.ON, Phase.ACTIVE, True),
        (Mode.OFF, Phase.STANDBY, False),
        (Mode.OFF, Phase.ACTIVE, False),
    ],
)
def test_is_diverting_table(mode: Mode, phase: Phase, diverting: bool) -> None:
    assert is_diverting(Override(mode), BreakerState(phase, T0), T0) is diverting


def test_breaker_tracks_load_under_an_override(clock: FrozenDateTimeFactory) -> None:
    """Pressed for 10 minutes while the load calms: handing back to auto lands
    on standby, not on a stale active."""
    held_on = Override(Mode.ON, until=T0 + timedelta(minutes=10), since=T0)
    b = Breaker()
    b.see(60, 0)
    for _ in range(120):
        clock.tick(5)
        b.see(0, 0)
    assert effective_mode(held_on, now()) is Mode.AUTO
    assert b.state.phase is Phase.STANDBY
    assert not is_diverting(held_on, b.state, now())


# --- flapping ------------------------------------------------------------------


def test_load_oscillating_for_an_hour_activates_at_most_once_per_window(
    clock: FrozenDateTimeFactory,
) -> None:
    """Samples every 5 s alternate between over the threshold and under the
    release level: the worst case for flapping."""
    b = Breaker()
    for i in range(3600 // 5):
        b.see(*((60, 5.0) if i % 2 == 0 else (10, 5.0)))
        clock.tick(5)
    acts = b.activations()
    assert 2 <= len(acts) <= math.ceil(3600 / LIMITS.min_active_seconds) + 1
    gaps = [(b2 - a).total_seconds() for a, b2 in zip(acts, acts[1:], strict=False)]
    assert min(gaps) >= LIMITS.min_active_seconds


def test_load_hovering_at_the_threshold_activates_once(clock: FrozenDateTimeFactory) -> None:
    b = Breaker()
    for i in range(3600):
        b.see(49 if i % 2 else 51, 58.0 if i % 3 else 61.0)
        clock.tick(1)
    assert len(b.activations()) == 1
    assert [t.kind for t in b.transitions] == ["activated"]


observations = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=400),  # seconds since the previous sample
        st.integers(min_value=0, max_value=120),
        st.floats(min_value=0, max_value=150),
    ),
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(
    samples=observations,
    min_active=st.floats(min_value=0, max_value=900),
    fraction=st.floats(min_value=0.05, max_value=0.95),
)
def test_activations_are_at_least_min_active_apart(
    samples: list[tuple[float, int, float]], min_active: float, fraction: float
) -> None:
    limits = Thresholds(50, 60.0, fraction, min_active)
    state = BreakerState()
    at = T0
    activations: list[datetime] = []
    for gap, depth, wait in samples:
        at += timedelta(seconds=gap)
        obs = Observation(depth, wait)
        before = state
        state, t = step(state, obs, at, limits)
        if t is None:
            assert state == before
            continue
        if t.kind == "activated":
            assert before.phase is Phase.STANDBY
            activations.append(at)
        else:
            assert t.kind == "deactivated" and before.phase is Phase.ACTIVE
            assert obs.queue_depth < 50 * fraction and obs.wait_seconds < 60 * fraction
            assert t.active_seconds is not None and t.active_seconds >= min_active
    for a, b in zip(activations, activations[1:], strict=False):
        assert (b - a).total_seconds() >= min_active
