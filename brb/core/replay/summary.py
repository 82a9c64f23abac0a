"""A replay run as figures: percentiles and the JSON object ``brb replay --json`` prints.

Owns which figures a run reports and their names (the JSON keys are a
contract for scripts), and the percentile definition: linear interpolation
between the two nearest ranks, as ``numpy.percentile`` does by default.
Must not format text for people: the CLI does.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from brb.core.replay.oracle import OracleResult
from brb.core.replay.run import SimResult


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    lo = math.floor(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def _usd(amount: Decimal) -> float:
    return float(amount.quantize(Decimal("0.000001")))


def _s(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def spread(prefix: str, values: Sequence[float]) -> dict[str, float | None]:
    """``{prefix}_p50_s``, ``_p95_s``, ``_p99_s``, ``_max_s`` of ``values``."""
    ordered = sorted(values)
    return {
        f"{prefix}_p50_s": _s(percentile(ordered, 50)),
        f"{prefix}_p95_s": _s(percentile(ordered, 95)),
        f"{prefix}_p99_s": _s(percentile(ordered, 99)),
        f"{prefix}_max_s": _s(ordered[-1] if ordered else None),
    }


def oracle_summary(o: OracleResult) -> dict[str, Any]:
    return {
        "diverted": o.diverted,
        "cost_usd": _usd(o.cost_usd),
        "exact": o.is_exact,
        "fifo_baseline_diverted": o.fifo_diverted,
        "local": len(o.waits_s),
        **spread("wait", o.waits_s),
        **spread("latency", o.latencies_s),
    }


def summarize(
    result: SimResult,
    *,
    settings: Mapping[str, Any] | None = None,
    oracle: OracleResult | None = None,
) -> dict[str, Any]:
    """One run as a JSON-ready object (plain numbers, strings, lists)."""
    local = [o for o in result.outcomes if o.backend == "local"]
    out: dict[str, Any] = {
        "settings": dict(settings or {}),
        "requests": result.requests,
        "local": len(local),
        "diverted": result.diverted,
        "lost": result.lost,
        "cost_usd": _usd(result.cost_usd),
        **spread("wait", [o.wait_s for o in local]),
        **spread("latency", [o.latency_s for o in result.outcomes]),
        "activations": result.activations,
        "deactivations": sum(1 for e in result.timeline if e.kind == "deactivated"),
        "budget_exhausted": any(e.kind == "budget_exhausted" for e in result.timeline),
        "peak_queue_depth": result.peak_queue_depth,
        "duration_s": _s(max((o.arrival_s + o.latency_s for o in result.outcomes), default=0.0)),
        "arrivals_span_s": _s(max((o.arrival_s for o in result.outcomes), default=0.0)),
        "start": result.params.start.isoformat(),
        "reasons": dict(sorted(Counter(o.reason for o in result.outcomes).items())),
        "slots": result.params.total_slots,
        "upstreams": [
            {
                "name": u.name,
                "parallel": u.parallel,
                "served": u.served,
                "busy_s": _s(u.busy_s),
                "cold_loads": u.cold_loads,
            }
            for u in result.upstreams
        ],
        "timeline": [
            {
                "at_s": _s(e.at_s),
                "at": result.at(e.at_s).astimezone(result.params.tz).isoformat(),
                "kind": e.kind,
                "reason": e.reason,
            }
            for e in result.timeline
        ],
    }
    if oracle is not None:
        out["oracle"] = oracle_summary(oracle)
    return out
