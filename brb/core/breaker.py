"""The breaker: when brb diverts, as a pure state machine.

Owns the automatic breaker (standby/active), the operator's override
(auto/on/off, optionally expiring) and how the two combine into "is brb
diverting now". Must not read the clock, the store or the network: the daemon
passes ``now`` and an :class:`Observation` in, persists the returned state and
reacts to the returned :class:`Transition` (event, alert, metric).

The rules, in the ops room's words:

* **standby -> active** when the queue is deeper than ``queue_depth`` or the
  wait is longer than ``wait_seconds`` (either one is enough).
* **active -> standby** only when *both* are under ``release_fraction`` x
  their threshold *and* the breaker has been active ``min_active_seconds``:
  a load hovering around a threshold cannot make it flap.
* **override**: ``on`` (pressed) diverts every eligible request, ``off``
  (held) diverts none, ``auto`` follows the breaker. An override with an
  ``until`` returns to ``auto`` once that time has passed. The automatic
  breaker keeps tracking the load underneath an override, so handing back
  to ``auto`` lands on the right state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Mode(StrEnum):
    AUTO = "auto"
    ON = "on"  # pressed
    OFF = "off"  # held


class Phase(StrEnum):
    STANDBY = "standby"
    ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class Thresholds:
    queue_depth: int
    wait_seconds: float
    release_fraction: float = 0.5
    min_active_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class Observation:
    """What the queue monitor sees at one instant."""

    queue_depth: int
    wait_seconds: float

    @staticmethod
    def across(observations: Iterable[Observation]) -> Observation:
        """Several queues seen as one: their waiting requests added, the worst wait."""
        depth, wait = 0, 0.0
        for obs in observations:
            depth += obs.queue_depth
            wait = max(wait, obs.wait_seconds)
        return Observation(depth, wait)


QUIET = Observation(0, 0.0)  # nothing waiting, no wait: shared (it is frozen)


@dataclass(frozen=True, slots=True)
class BreakerState:
    phase: Phase = Phase.STANDBY
    since: datetime | None = None
    reason: str = "no load seen yet"


@dataclass(frozen=True, slots=True)
class Override:
    mode: Mode = Mode.AUTO
    until: datetime | None = None
    since: datetime | None = None
    who: str = ""
    source: str = ""
    reason: str = ""

    def is_expired(self, now: datetime) -> bool:
        return self.mode is not Mode.AUTO and self.until is not None and now >= self.until


@dataclass(frozen=True, slots=True)
class Transition:
    """A change worth an event and an alert."""

    kind: str  # "activated" | "deactivated" | "override_expired"
    at: datetime
    reason: str
    observation: Observation | None = None
    active_seconds: float | None = None


def step(
    state: BreakerState, obs: Observation, now: datetime, limits: Thresholds
) -> tuple[BreakerState, Transition | None]:
    """Advance the automatic breaker by one observation."""
    if state.phase is Phase.STANDBY:
        reason = activation_reason(obs, limits)
        if reason is None:
            return state, None
        new = BreakerState(Phase.ACTIVE, now, reason)
        return new, Transition("activated", now, reason, obs)

    active_for = (now - state.since).total_seconds() if state.since else float("inf")
    if active_for < limits.min_active_seconds or not is_calm(obs, limits):
        return state, None
    reason = (
        f"queue depth {obs.queue_depth} and wait {obs.wait_seconds:.1f}s under "
        f"{limits.release_fraction:g} x thresholds for the last check, "
        f"active {active_for:.0f}s"
    )
    return (
        BreakerState(Phase.STANDBY, now, reason),
        Transition("deactivated", now, reason, obs, active_seconds=active_for),
    )


def activation_reason(obs: Observation, limits: Thresholds) -> str | None:
    """Why ``obs`` activates the breaker, or None if it doesn't."""
    if obs.queue_depth > limits.queue_depth:
        return f"queue depth {obs.queue_depth} > {limits.queue_depth}"
    if obs.wait_seconds > limits.wait_seconds:
        return f"wait {obs.wait_seconds:.2f}s > {limits.wait_seconds:g}s"
    return None


def is_calm(obs: Observation, limits: Thresholds) -> bool:
    return (
        obs.queue_depth < limits.queue_depth * limits.release_fraction
        and obs.wait_seconds < limits.wait_seconds * limits.release_fraction
    )


def expire(override: Override, now: datetime) -> tuple[Override, Transition | None]:
    """Return an expired override to ``auto``."""
    if not override.is_expired(now):
        return override, None
    reason = f"{override.mode.value} override set by {override.who or 'unknown'} expired"
    new = Override(Mode.AUTO, None, now, "brb", "expiry", reason)
    return new, Transition("override_expired", now, reason)


def effective_mode(override: Override, now: datetime) -> Mode:
    return Mode.AUTO if override.is_expired(now) else override.mode


def is_diverting(override: Override, state: BreakerState, now: datetime) -> bool:
    """True when brb is sending eligible traffic to the cloud right now."""
    mode = effective_mode(override, now)
    if mode is Mode.ON:
        return True
    if mode is Mode.OFF:
        return False
    return state.phase is Phase.ACTIVE
