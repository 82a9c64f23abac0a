"""Capacity advice: how many more local slots would have kept the overflow local.

Owns the answer to "when does the button cost more than new hardware": the
recorded traffic of a window replayed through the daemon's own rules
(:func:`brb.core.replay.simulate`) with the current slots plus ``k`` for
``k = 0, 1, 2, ...`` up to a bound, stopping at the least ``k`` that keeps
every wait-diverted request local, each run's diversions and simulated cost;
set beside what the button really cost over the window (the settled spend
the ledger recorded). The live counterpart, for the scale hook, is
:mod:`brb.core.scale_need`.

A *wait-diverted* request is one diverted because local service would have
been too slow (the policy's ``overflow`` and ``breaker_active``, the waiting
room's ``deadline``, ``makes_room`` and ``unreachable``); a press or a
routing rule diverts whatever the slots, so those never count.

A week of traffic replayed up to nine times is minutes of CPU, so only the
*busy stretches* are replayed (:func:`busy_stretches`): around each request
the recorded log shows as diverted, or as having waited at least
``BUSY_WAIT_FRACTION`` of the wait threshold, ``pad_s`` before and after,
merged; each stretch is replayed on its own (it starts calm: the lead-in
fills its queue), and a stretch that no longer diverts for waiting at some
``k`` is not replayed again for a larger ``k`` (more slots never make a
queue longer). The calm rest of the window is taken as calm at any slot
count. Costs are per request, so a daily limit that would have run out in
the replay is not modelled across stretches.

Pure: no I/O, no clock (the window is passed in), no config: the caller
builds the simulator's parameters.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from brb.core.incidents import DAYS_PER_MONTH
from brb.core.replay import SimParams, TraceRecord, simulate
from brb.core.waiting_room import Verdict

WAIT_REASONS = frozenset(
    {"overflow", "breaker_active", *(v.value for v in Verdict if v is not Verdict.SEND)}
)
DEFAULT_MAX_EXTRA_SLOTS = 8
BUSY_WAIT_FRACTION = 0.25  # a recorded wait this share of the threshold marks a busy stretch
DEFAULT_PAD_S = 900.0  # replayed before and after each busy request: the queue's lead-in
_MICRO = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class SlotsRun:
    """One replay of the window with ``slots`` local slots (``extra_slots`` more than now)."""

    extra_slots: int
    slots: int
    diverted: int  # every diversion of the replay
    wait_diverted: int  # the ones more slots could have kept local
    cost_usd: Decimal  # the replay's cloud spend

    def to_json(self) -> dict[str, Any]:
        return {
            "extra_slots": self.extra_slots,
            "slots": self.slots,
            "diverted": self.diverted,
            "wait_diverted": self.wait_diverted,
            "cost_usd": float(self.cost_usd.quantize(_MICRO)),
        }


@dataclass(frozen=True, slots=True)
class CapacityAdvice:
    since: datetime
    until: datetime
    requests: int  # in the window's request log
    replayed: int  # of which in the busy stretches (the ones replayed)
    slots: int  # the local slots now (per model: the pool's OLLAMA_NUM_PARALLEL summed)
    max_extra_slots: int  # the bound of the search
    runs: tuple[SlotsRun, ...]  # k = 0, 1, ... up to the answer (or the bound)
    button_cost_usd: Decimal  # what the button really cost: settled spend in the window
    recorded_diverted: int  # diversions the request log recorded in the window

    @property
    def extra_slots_needed(self) -> int | None:
        """The least ``k`` whose replay diverts nothing for waiting (0 with no traffic);
        None: more than the bound."""
        if not self.runs:
            return 0
        return next((r.extra_slots for r in self.runs if r.wait_diverted == 0), None)

    @property
    def window_days(self) -> float:
        return (self.until - self.since).total_seconds() / 86400

    @property
    def monthly_button_cost_usd(self) -> Decimal:
        days = Decimal(str(self.window_days))
        return self.button_cost_usd * DAYS_PER_MONTH / days if days > 0 else Decimal(0)

    def line(self) -> str:
        """One sentence for a person."""
        days = f"{self.window_days:.3g} days"
        cost = f"the button cost ${self.button_cost_usd:.2f} in {days} " + (
            f"(about ${self.monthly_button_cost_usd:.2f} a month)"
        )
        need = self.extra_slots_needed
        if not self.runs or self.runs[0].wait_diverted == 0:
            return f"no overflow to keep local in the last {days}; {cost}"
        base = self.runs[0].wait_diverted
        if need is None:
            return (
                f"more than {self.max_extra_slots} more local slots would be needed to keep "
                f"the {base} overflow requests of the last {days} local; {cost}"
            )
        return (
            f"{need} more local slot{'s' if need != 1 else ''} (per model: {self.slots} -> "
            f"{self.slots + need}) would have kept the {base} overflow requests of the last "
            f"{days} local; {cost}"
        )

    def to_json(self) -> dict[str, Any]:
        need = self.extra_slots_needed
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "window_days": round(self.window_days, 3),
            "requests": self.requests,
            "replayed_requests": self.replayed,
            "slots": self.slots,
            "max_extra_slots": self.max_extra_slots,
            "extra_slots_needed": need,
            "more_than_max": need is None,
            "recorded_diverted": self.recorded_diverted,
            "button_cost_usd": float(self.button_cost_usd.quantize(_MICRO)),
            "monthly_button_cost_usd": float(self.monthly_button_cost_usd.quantize(_MICRO)),
            "runs": [r.to_json() for r in self.runs],
            "summary": self.line(),
        }


def is_busy(*, is_local: bool, wait_s: float | None, wait_threshold_s: float) -> bool:
    """Whether a recorded request marks a busy stretch: diverted, or it waited long."""
    return not is_local or (wait_s or 0.0) >= BUSY_WAIT_FRACTION * wait_threshold_s


def busy_stretches(
    offsets_s: Sequence[float], busy: Sequence[bool], pad_s: float = DEFAULT_PAD_S
) -> list[range]:
    """Index ranges of the requests (by arrival offset, ascending) within ``pad_s`` of
    a busy one; overlapping stretches merged."""
    out: list[range] = []
    for t, flag in zip(offsets_s, busy, strict=True):
        if not flag:
            continue
        first = bisect.bisect_left(offsets_s, t - pad_s)
        stop = bisect.bisect_right(offsets_s, t + pad_s)
        if out and first <= out[-1].stop:
            out[-1] = range(out[-1].start, max(out[-1].stop, stop))
        else:
            out.append(range(first, stop))
    return out


def advise(
    records: Sequence[TraceRecord],
    params: SimParams,
    *,
    since: datetime,
    until: datetime,
    button_cost_usd: Decimal,
    recorded_diverted: int,
    max_extra_slots: int = DEFAULT_MAX_EXTRA_SLOTS,
    busy: Sequence[bool] | None = None,
    pad_s: float = DEFAULT_PAD_S,
) -> CapacityAdvice:
    """Replay ``records`` (their busy stretches, given ``busy``, one flag per record;
    None: all of it as one) with ``params.slots + k`` slots for k = 0..
    ``max_extra_slots``, stopping at the first ``k`` that diverts nothing for
    waiting (at most ``max_extra_slots + 1`` rounds)."""
    if busy is None:
        stretches = [range(len(records))] if records else []
    else:
        stretches = busy_stretches([r.arrival_offset_s for r in records], busy, pad_s)
    parts = [_stretch(records, s, params) for s in stretches]
    settled: dict[int, tuple[int, int, Decimal]] = {}  # a stretch done: its figures
    runs: list[SlotsRun] = []
    for k in range(max_extra_slots + 1):
        figures = []
        for i, (trace, p) in enumerate(parts):
            if i in settled:
                figures.append(settled[i])
                continue
            result = simulate(trace, replace(p, slots=p.slots + k))
            cloud = [o for o in result.outcomes if o.backend == "cloud"]
            got = (len(cloud), sum(1 for o in cloud if o.reason in WAIT_REASONS), result.cost_usd)
            if got[1] == 0:
                settled[i] = got
            figures.append(got)
        run = SlotsRun(
            k,
            params.slots + k,
            sum(f[0] for f in figures),
            sum(f[1] for f in figures),
            sum((f[2] for f in figures), Decimal(0)),
        )
        runs.append(run)
        if run.wait_diverted == 0:
            break
    return CapacityAdvice(
        since, until, len(records), sum(len(s) for s in stretches), params.slots,
        max_extra_slots, tuple(runs), button_cost_usd, recorded_diverted,
    )  # fmt: skip


def _stretch(
    records: Sequence[TraceRecord], indexes: range, params: SimParams
) -> tuple[list[TraceRecord], SimParams]:
    """The records of one stretch, timed from its first, and the parameters whose
    clock starts then (so budget days stay the real ones)."""
    first = records[indexes.start].arrival_offset_s
    trace = [replace(records[i], arrival_offset_s=records[i].arrival_offset_s - first)
             for i in indexes]  # fmt: skip
    return trace, replace(params, start=params.start + timedelta(seconds=first))
