"""Incidents: each stretch of time brb was diverting, and what it cost.

Owns turning the event log (breaker transitions, presses, releases, holds,
expiries) and the ledger's settled charges into incidents -- the figures the
original ops team tracked by hand: start, end, what triggered it, the queue
depth at the time, time to normal, requests diverted, dollars -- and the
summary that feeds capacity planning (cost per incident, mean time to
normal, a monthly projection to set against the price of another GPU).

An incident is a maximal interval during which brb was diverting: mode
``on``, or mode ``auto`` with the breaker ``active`` (the rule of
:func:`brb.core.breaker.is_diverting`, replayed over the events). An
override with an ``until`` ends by itself at that instant even if no
``override_expired`` event was written (the daemon may have been down).

Pure: no I/O, no clock; ``now`` is a parameter, events and charges come in
as values. Must not import anything outside the stdlib and ``brb.core``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from brb.core.breaker import Mode, Phase

# A month, for the projection: the mean Gregorian month.
DAYS_PER_MONTH = Decimal("30.4375")
_CENT = Decimal("0.01")
_MICRO = Decimal("0.000001")

# The event kinds that change whether brb diverts; everything else is ignored.
TRANSITION_KINDS = ("activated", "deactivated", "press", "release", "hold", "override_expired")
_MODE_OF_KIND = {"press": Mode.ON, "release": Mode.AUTO, "hold": Mode.OFF}


class EventLike(Protocol):
    """What the replay needs of an event (the store's ``Event`` fits)."""

    @property
    def at(self) -> datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def who(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def detail(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Charge:
    """One settled cloud request: when it was sent and what it cost."""

    at: datetime
    cost_usd: Decimal


@dataclass(frozen=True, slots=True)
class Incident:
    start: datetime
    end: datetime | None  # None: still diverting at ``now``
    duration_seconds: float  # so far, for an ongoing incident
    trigger: str  # "queue depth 73 > 50", "pressed by alice via cli: reason", ...
    trigger_kind: str  # "breaker" | "press" | "release" | "expiry"
    ended_by: str | None
    queue_depth: int | None  # when it began, if known
    requests_diverted: int = 0
    cost_usd: Decimal = Decimal(0)

    @property
    def is_ongoing(self) -> bool:
        return self.end is None

    @property
    def time_to_normal_seconds(self) -> float | None:
        """Activation to the end of diversion; None while it is still on."""
        return None if self.end is None else self.duration_seconds


@dataclass(frozen=True, slots=True)
class Summary:
    window_days: float
    count: int
    ongoing: int
    requests_diverted: int
    total_cost_usd: Decimal  # spent inside the incidents
    window_spend_usd: Decimal  # every settled charge in the window
    mean_cost_usd: Decimal | None
    mean_time_to_normal_seconds: float | None
    monthly_spend_usd: Decimal  # window spend at the window's daily rate, x a month
    incidents_per_month: float

    def projection_line(self) -> str:
        days = f"{self.window_days:.0f}" if self.window_days >= 1 else f"{self.window_days:.2f}"
        return (
            f"at the last {days} days' rate: ${self.monthly_spend_usd:,.2f}/month in cloud "
            f"spend ({self.incidents_per_month:.1f} incidents/month); compare with the "
            "monthly cost of another GPU"
        )


@dataclass(slots=True)
class _Open:
    start: datetime
    trigger: str
    trigger_kind: str
    queue_depth: int | None


@dataclass(slots=True)
class _Replay:
    """The state the events drive; mutable, private to :func:`incidents`."""

    mode: Mode = Mode.AUTO
    until: datetime | None = None
    phase: Phase = Phase.STANDBY
    activation_reason: str = ""
    activation_depth: int | None = None

    @property
    def diverting(self) -> bool:
        return self.mode is Mode.ON or (self.mode is Mode.AUTO and self.phase is Phase.ACTIVE)


def _parse_until(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    return None


def _actor(ev: EventLike) -> str:
    return f"{ev.who or 'someone'} via {ev.source or '?'}"


def incidents(
    events: Iterable[EventLike], charges: Sequence[Charge], *, now: datetime
) -> list[Incident]:
    """Every incident the events describe, oldest first, with its charges.

    ``events`` must be in the order they happened (the store's id order);
    kinds outside :data:`TRANSITION_KINDS` are skipped. A charge belongs to
    the incident whose ``[start, end)`` holds its ``at``.
    """
    state = _Replay()
    open_: _Open | None = None
    done: list[tuple[_Open, datetime | None, str | None]] = []

    def settle(at: datetime, change: str, trigger: str, ended_by: str) -> None:
        """After a state change at ``at``: open or close an incident."""
        nonlocal open_
        if state.diverting and open_ is None:
            depth = state.activation_depth if state.phase is Phase.ACTIVE else None
            open_ = _Open(at, trigger, change, depth)
        elif not state.diverting and open_ is not None:
            done.append((open_, at, ended_by))
            open_ = None

    def back_to_auto(at: datetime) -> None:
        """An override ran out: a hold hands back to the breaker, a press stops."""
        state.mode, state.until = Mode.AUTO, None
        trigger = f"hold expired while the breaker was active ({state.activation_reason})"
        settle(at, "expiry", trigger, "press expired")

    def expire_until(t: datetime) -> None:
        if state.mode is not Mode.AUTO and state.until is not None and state.until <= t:
            back_to_auto(state.until)

    for ev in events:
        if ev.kind not in TRANSITION_KINDS:
            continue
        expire_until(ev.at)
        detail = ev.detail or {}
        if ev.kind == "activated":
            state.phase = Phase.ACTIVE
            state.activation_reason = ev.reason or "breaker activated"
            state.activation_depth = _int_or_none(detail.get("queue_depth"))
            settle(ev.at, "breaker", state.activation_reason, "")
        elif ev.kind == "deactivated":
            state.phase = Phase.STANDBY
            settle(ev.at, "breaker", "", "load back under the thresholds")
        elif ev.kind == "override_expired":
            if state.mode is not Mode.AUTO:
                back_to_auto(ev.at)
        else:
            try:
                state.mode = Mode(str(detail.get("to_mode", _MODE_OF_KIND[ev.kind].value)))
            except ValueError:
                state.mode = _MODE_OF_KIND[ev.kind]
            state.until = _parse_until(detail.get("until"))
            why = f": {ev.reason}" if ev.reason else ""
            if state.mode is Mode.ON:
                settle(ev.at, "press", f"pressed by {_actor(ev)}{why}", "")
            elif state.mode is Mode.OFF:
                settle(ev.at, ev.kind, "", f"held off by {_actor(ev)}{why}")
            else:
                settle(
                    ev.at,
                    "release",
                    f"hold released by {_actor(ev)} while the breaker "
                    f"was active ({state.activation_reason})",
                    f"released by {_actor(ev)}{why}",
                )
    expire_until(now)

    if open_ is not None:
        done.append((open_, None, None))
    ordered = sorted(charges, key=lambda c: c.at)
    return [_with_charges(o, end, by, ordered, now) for o, end, by in done]


def _with_charges(
    o: _Open, end: datetime | None, ended_by: str | None, charges: Sequence[Charge], now: datetime
) -> Incident:
    stop = end if end is not None else now
    ats = [c.at for c in charges]
    lo, hi = bisect.bisect_left(ats, o.start), bisect.bisect_left(ats, stop)
    if end is None:
        hi = len(ats)  # an ongoing incident owns everything since it began
    inside = charges[lo:hi]
    return Incident(
        start=o.start,
        end=end,
        duration_seconds=max(0.0, (stop - o.start).total_seconds()),
        trigger=o.trigger,
        trigger_kind=o.trigger_kind,
        ended_by=ended_by,
        queue_depth=o.queue_depth,
        requests_diverted=len(inside),
        cost_usd=sum((c.cost_usd for c in inside), Decimal(0)).quantize(_MICRO),
    )


def in_window(found: Sequence[Incident], since: datetime) -> list[Incident]:
    """The incidents still going at or after ``since`` (all of each one's figures)."""
    return [i for i in found if i.end is None or i.end >= since]


def with_queue_depth(incident: Incident, depth: int | None) -> Incident:
    """Fill in the queue depth at the start when the events didn't carry it."""
    return incident if incident.queue_depth is not None else replace(incident, queue_depth=depth)


def summarize(
    found: Sequence[Incident], charges: Iterable[Charge], *, since: datetime, now: datetime
) -> Summary:
    """The capacity-planning summary of ``found`` over the window ``[since, now]``;
    ``charges`` are every settled charge (inside incidents or not) in it."""
    window = max(now - since, timedelta(seconds=1))
    # A rate needs a day of history: a few minutes of data projected to a month
    # would read one incident as thousands. Shorter windows count as one day.
    days = max(window.total_seconds() / 86400, 1.0)
    spend = sum((c.cost_usd for c in charges if since <= c.at <= now), Decimal(0))
    total = sum((i.cost_usd for i in found), Decimal(0))
    ended = [i.time_to_normal_seconds for i in found if i.time_to_normal_seconds is not None]
    per_day = spend / Decimal(str(days))
    return Summary(
        window_days=days,
        count=len(found),
        ongoing=sum(1 for i in found if i.is_ongoing),
        requests_diverted=sum(i.requests_diverted for i in found),
        total_cost_usd=total.quantize(_MICRO),
        window_spend_usd=spend.quantize(_MICRO),
        mean_cost_usd=(total / len(found)).quantize(_MICRO) if found else None,
        mean_time_to_normal_seconds=sum(ended) / len(ended) if ended else None,
        monthly_spend_usd=(per_day * DAYS_PER_MONTH).quantize(_CENT, rounding=ROUND_HALF_UP),
        incidents_per_month=len(found) / days * float(DAYS_PER_MONTH),
    )
