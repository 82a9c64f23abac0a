"""The replay report for people: a run's timeline and figures, or a side-by-side table.

Owns the text ``brb replay`` prints (without ``--json``), built from the
summary objects of :mod:`brb.core.replay.summary`, so the words and the JSON
never disagree. Must not print or read anything: it returns a string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from brb.core.durations import format_duration
from brb.core.replay.run import SimParams

TIMELINE_LINES = 25

Summary = Mapping[str, Any]


def render_runs(runs: Sequence[tuple[str, Summary]], *, source: str, params: SimParams) -> str:
    """One run: header, timeline, figures (against the oracle when present).
    Several: header and one table row per run."""
    pools = {_pool_text(s) for _, s in runs}
    local = pools.pop() if len(pools) == 1 else "each run's pool (see settings)"
    lines = _header(source, runs[0][1], params, single=len(runs) == 1, local=local)
    if len(runs) == 1:
        lines += _timeline(runs[0][1]) + [""] + _figures(runs[0][1], params.thresholds.wait_seconds)
    else:
        lines += _table(runs)
    return "\n".join(lines)


def _pool_text(s: Summary) -> str:
    """``1 slot per model``, or for a pool ``2 upstreams (gpu-1 2, gpu-2 1 slots per model)``."""
    ups = s.get("upstreams") or [{"name": "default", "parallel": s.get("slots", 1)}]
    if len(ups) == 1:
        return f"{_slots(ups[0]['parallel'])} per model"
    each = ", ".join(f"{u['name']} {u['parallel']}" for u in ups)
    return f"{len(ups)} upstreams ({each} slots per model)"


def _slots(n: int) -> str:
    return f"{n} slot{'s' if n != 1 else ''}"


def _header(source: str, s: Summary, p: SimParams, *, single: bool, local: str) -> list[str]:
    start = datetime.fromisoformat(s["start"]).astimezone(p.tz)
    lines = [
        f"brb replay: {source}",
        f"  {s['requests']:,} requests from {start:%Y-%m-%d %H:%M} {p.tz} over "
        f"{format_duration(s['arrivals_span_s'])}; local: {local}, service from the trace or "
        f"output tokens at {p.tokens_per_second:g} tok/s; cloud: {p.cloud_latency_s:g}s",
    ]
    if single:
        t = p.thresholds
        lines.append(
            f"  breaker: queue > {t.queue_depth} or wait > {t.wait_seconds:g}s; releases under "
            f"{t.release_fraction:g}x after {format_duration(t.min_active_seconds)}; policy "
            f"{p.policy.value}; budget ${p.daily_limit_usd:.2f}/day"
            + ("" if p.is_enabled else "; brb DISABLED")
        )
    return [*lines, ""]


def _timeline(s: Summary) -> list[str]:
    events = s["timeline"]
    if not events:
        return ["timeline: the breaker never activated and the budget never ran low"]
    lines = ["timeline"]
    for e in events[:TIMELINE_LINES]:
        clock = datetime.fromisoformat(e["at"])
        lines.append(
            f"  {clock:%H:%M:%S}  +{format_duration(e['at_s']):<9} {e['kind']:<17} {e['reason']}"
        )
    if len(events) > TIMELINE_LINES:
        lines.append(f"  ... and {len(events) - TIMELINE_LINES} more (--json has them all)")
    return lines


def _figures(s: Summary, wait_s: float) -> list[str]:
    o = s.get("oracle")
    width = 30

    def row(name: str, mine: str, theirs: str = "") -> str:
        return f"  {name:<{width}} {mine:>12}  {theirs:>12}".rstrip()

    lines = [row("", "brb", "oracle" if o else "")]
    lines.append(row("served locally", f"{s['local']:,}", f"{o['local']:,}" if o else ""))
    ups = s.get("upstreams") or []
    if len(ups) > 1:
        for u in ups:
            busy = format_duration(u["busy_s"])
            loads = f", {u['cold_loads']} cold load{'s' if u['cold_loads'] != 1 else ''}"
            lines.append(
                row(f"  by {u['name']} ({_slots(u['parallel'])})", f"{u['served']:,}")
                + f"  busy {busy}{loads if u['cold_loads'] else ''}"
            )
    lines.append(
        row("diverted to the cloud", f"{s['diverted']:,}", f"{o['diverted']:,}" if o else "")
    )
    lines.append(row("lost", f"{s['lost']:,}"))
    lines.append(row("cloud spend", _usd(s["cost_usd"]), _usd(o["cost_usd"]) if o else ""))
    for q in ("p50", "p95", "p99", "max"):
        key = f"wait_{q}_s"
        lines.append(row(f"local wait {q}", _secs(s[key]), _secs(o[key]) if o else ""))
    for q in ("p50", "p95", "p99", "max"):
        key = f"latency_{q}_s"
        lines.append(row(f"end-to-end latency {q}", _secs(s[key]), _secs(o[key]) if o else ""))
    lines.append(row("activations", f"{s['activations']:,}"))
    lines.append(row("peak queue depth", f"{s['peak_queue_depth']:,}"))
    reasons = ", ".join(f"{k} {v:,}" for k, v in s["reasons"].items())
    lines.append(f"  {'why':<{width}} {reasons}")
    if o:
        lines += ["", _verdict(s, o, wait_s)]
    return lines


def _verdict(s: Summary, o: Summary, wait_s: float) -> str:
    kind = (
        "the fewest possible" if o["exact"] else "an upper bound on the fewest: mixed service times"
    )
    if o["diverted"]:
        ratio = f"brb diverted {s['diverted'] / o['diverted']:.2f}x as many"
    elif s["diverted"]:
        ratio = f"brb diverted {s['diverted']:,} that could have stayed"
    else:
        ratio = "neither needed the cloud"
    ups = s.get("upstreams") or []
    slots = f" on the pool's {s['slots']} slots together" if len(ups) > 1 else ""
    return (
        f"policy vs hindsight: brb diverted {s['diverted']:,} for {_usd(s['cost_usd'])}; the "
        f"oracle keeps every divertible request's local wait within {wait_s:g}s{slots} by "
        f"diverting {o['diverted']:,} for {_usd(o['cost_usd'])} ({kind}): {ratio}. The online "
        f"FIFO baseline (divert a request when its wait reaches the threshold) diverts "
        f"{o.get('fifo_baseline_diverted', 0):,}."
    )


def _table(runs: Sequence[tuple[str, Summary]]) -> list[str]:
    has_oracle = any("oracle" in s for _, s in runs)
    head = [
        "settings",
        "local",
        "diverted",
        "lost",
        "spend",
        "wait p50",
        "wait p95",
        "wait p99",
        "wait max",
        "lat p99",
        "activ.",
    ]
    if has_oracle:
        head += ["oracle div.", "oracle spend", "FIFO div."]
    has_pool = any(len(s.get("upstreams") or []) > 1 for _, s in runs)
    if has_pool:
        head.append("served by upstream")
    rows = []
    for label, s in runs:
        row = [
            label,
            f"{s['local']:,}",
            f"{s['diverted']:,}",
            f"{s['lost']:,}",
            _usd(s["cost_usd"]),
            _secs(s["wait_p50_s"]),
            _secs(s["wait_p95_s"]),
            _secs(s["wait_p99_s"]),
            _secs(s["wait_max_s"]),
            _secs(s["latency_p99_s"]),
            f"{s['activations']:,}",
        ]
        if has_oracle:
            o = s.get("oracle") or {}
            row += [
                f"{o['diverted']:,}{'' if o['exact'] else '*'}" if o else "-",
                _usd(o["cost_usd"]) if o else "-",
                f"{o.get('fifo_baseline_diverted', 0):,}" if o else "-",
            ]
        if has_pool:
            row.append(" ".join(f"{u['name']} {u['served']:,}" for u in s.get("upstreams") or []))
        rows.append(row)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def fmt(r: list[str]) -> str:
        return "  " + "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    lines = [fmt(head), "  " + "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in rows]
    if has_oracle and any(not (s.get("oracle") or {}).get("exact", True) for _, s in runs):
        lines.append("  * a bound: mixed service times (the oracle is exact for equal ones)")
    if has_oracle:
        lines.append(
            "  FIFO: the online baseline, diverting a request when its wait reaches the threshold"
        )
    return lines


def _usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.4f}"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f}s"
    if value < 600:
        return f"{value:.1f}s"
    return format_duration(value)
