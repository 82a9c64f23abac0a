"""A circuit breaker per cloud provider: when to stop asking it, and how to try it again.

Owns the provider breaker as a pure state machine over frozen values: the
daemon keeps one :class:`Circuit` per provider, asks :func:`admit` before
sending a request and reports what happened with :func:`record`; both
return the new value, and ``record`` the edge crossed, if any (to log, alert
and count). Must not read the clock (``now`` is a parameter), do I/O or know
which provider it guards.

The states, as rules:

- **closed** — every request is let through. Each provider failure (429,
  5xx, a timeout, no first token in time) adds one to ``failures``; a
  success clears it. At ``failure_threshold`` failures in a row it opens.
  A 4xx caused by the request itself is the request's fault, not the
  provider's: the caller reports it as :attr:`Outcome.NEUTRAL`.
- **open** — nothing is let through until ``open_until``: ``now`` plus
  ``cooldown_s`` or the provider's own ``retry-after``, whichever is longer.
- **half_open** — the cooldown is over: the first request admitted is the
  one probe; every other request skips this provider while it is out. The
  probe's success closes the breaker, its failure opens it again for a new
  cooldown; a probe that ends with no verdict (the client left, the request
  was not the provider's to judge) frees the slot for the next request.

Requests admitted while closed may still be in flight when it opens: their
late failures count but don't move ``open_until`` back, and their late
successes are not a probe's, so they don't close it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Admission(StrEnum):
    """What :func:`admit` says about one request."""

    PASS = "pass"  # closed: go ahead
    PROBE = "probe"  # half-open: this request is the one probe
    SKIP = "skip"  # open, or half-open with its probe out: try the next provider


class Outcome(StrEnum):
    SUCCESS = "success"  # the provider answered
    FAILURE = "failure"  # the provider's fault: 429, 5xx, timeouts, no first token in time
    NEUTRAL = "neutral"  # no verdict: the request's own 4xx, the client leaving, a budget stop


class Edge(StrEnum):
    """A transition worth telling someone about."""

    OPENED = "opened"  # closed -> open: alert
    HALF_OPENED = "half_opened"  # open -> half_open: one probe goes out
    REOPENED = "reopened"  # half_open -> open: the probe failed (still down: no new alert)
    CLOSED = "closed"  # half_open -> closed: alert that it is back


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failure_threshold: int = 3
    cooldown_s: float = 30.0
    max_retry_after_s: float = 3600.0  # a provider asking for a day's rest gets an hour

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.cooldown_s <= 0:
            raise ValueError("failure_threshold must be >= 1 and cooldown_s > 0")


@dataclass(frozen=True, slots=True)
class Circuit:
    """One provider's breaker."""

    state: CircuitState = CircuitState.CLOSED
    failures: int = 0  # consecutive provider failures
    open_until: datetime | None = None  # set while open (and kept while half-open)
    is_probing: bool = False  # half-open: the probe is out
    last_error: str | None = None


def admit(circuit: Circuit, now: datetime) -> tuple[Circuit, Admission, Edge | None]:
    """May one request go to this provider now? (The new value, the answer, an edge.)"""
    if circuit.state is CircuitState.CLOSED:
        return circuit, Admission.PASS, None
    if circuit.state is CircuitState.OPEN:
        if circuit.open_until is not None and now < circuit.open_until:
            return circuit, Admission.SKIP, None
        probing = replace(circuit, state=CircuitState.HALF_OPEN, is_probing=True)
        return probing, Admission.PROBE, Edge.HALF_OPENED
    if circuit.is_probing:
        return circuit, Admission.SKIP, None
    return replace(circuit, is_probing=True), Admission.PROBE, None


def peek(circuit: Circuit, now: datetime) -> CircuitState:
    """The state an observer should see now: open past its cooldown reads half_open."""
    if (
        circuit.state is CircuitState.OPEN
        and circuit.open_until is not None
        and now >= circuit.open_until
    ):
        return CircuitState.HALF_OPEN
    return circuit.state


def is_admissible(circuit: Circuit, now: datetime) -> bool:
    """Would :func:`admit` let a request through now (without taking the probe)?"""
    return admit(circuit, now)[1] is not Admission.SKIP


def record(
    circuit: Circuit,
    admission: Admission,
    outcome: Outcome,
    now: datetime,
    settings: BreakerSettings,
    *,
    retry_after_s: float | None = None,
    error: str | None = None,
) -> tuple[Circuit, Edge | None]:
    """What one admitted request's ``outcome`` does to the breaker."""
    is_probe = admission is Admission.PROBE
    if outcome is Outcome.NEUTRAL:
        if is_probe and circuit.state is CircuitState.HALF_OPEN:
            return replace(circuit, is_probing=False), None
        return circuit, None
    if outcome is Outcome.SUCCESS:
        if is_probe and circuit.state is CircuitState.HALF_OPEN:
            return Circuit(last_error=circuit.last_error), Edge.CLOSED
        if circuit.state is CircuitState.CLOSED:
            return replace(circuit, failures=0), None
        return circuit, None  # a straggler from before it opened proves little
    failures = circuit.failures + 1
    until = now + timedelta(seconds=_rest_s(settings, retry_after_s))
    if is_probe and circuit.state is CircuitState.HALF_OPEN:
        reopened = Circuit(CircuitState.OPEN, failures, until, False, error or circuit.last_error)
        return reopened, Edge.REOPENED
    if circuit.state is CircuitState.CLOSED:
        if failures >= settings.failure_threshold:
            return Circuit(CircuitState.OPEN, failures, until, False, error), Edge.OPENED
        return replace(circuit, failures=failures, last_error=error), None
    # A straggler's failure while open or half-open: counted, the cooldown kept.
    return replace(circuit, failures=failures, last_error=error or circuit.last_error), None


def _rest_s(settings: BreakerSettings, retry_after_s: float | None) -> float:
    retry_after = min(max(retry_after_s or 0.0, 0.0), settings.max_retry_after_s)
    return max(settings.cooldown_s, retry_after)
