"""``brb incidents``: each time brb diverted, what set it off and what it cost.

A thin shell over :mod:`brb.core.incidents`: reads the transition events and
the ledger's settled charges from the store, fills in the queue depth of
pressed incidents from the queue samples, and prints a table and the
capacity-planning summary (or ``--json``), with the capacity advice: how many
more local slots would have kept the last ``--capacity-days`` of overflow
local, from a replay of the request log (:mod:`brb.capacity_advice`). Must
not import aiohttp, anthropic or ollama.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Any

import typer

from brb.cli.context import ConfigOpt, DbOpt, JsonOpt, load_config, now, open_store

# How far before an incident's start a queue sample still says what the depth was.
_SAMPLE_LOOKBACK = timedelta(seconds=60)


def register(app: typer.Typer) -> None:
    @app.command()
    def incidents(
        days: Annotated[int, typer.Option("--days", min=1, help="The last N days")] = 30,
        capacity_days: Annotated[
            int | None,
            typer.Option(
                "--capacity-days",
                min=1,
                max=366,
                help="Replay the last N days of traffic for the capacity advice "
                "(default: the config's capacity.window_days, 7)",
                show_default=False,
            ),
        ] = None,
        json_out: JsonOpt = False,
        config: ConfigOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Each time brb diverted: trigger, duration, time to normal, requests, dollars."""
        cfg = load_config(config, quiet=json_out)
        at = now()
        since = at - timedelta(days=days)
        from brb.capacity_advice import compute

        with open_store(db, cfg) as store:
            report = build_report(store, since=since, now=at)
            report["capacity"] = compute(store, cfg, now=at, window_days=capacity_days)
        if json_out:
            print(json.dumps(report_json(report), indent=2))
        else:
            print(render_table(report, cfg.tz))


def build_report(store: Any, *, since: datetime, now: datetime) -> dict[str, Any]:
    """Incidents overlapping ``[since, now]`` and their summary, from ``store``."""
    from brb.adapters.database import parse_iso
    from brb.adapters.ledger import from_micro
    from brb.core import incidents as core

    events = store.events(kinds=core.TRANSITION_KINDS)
    first_pass = core.in_window(core.incidents(events, [], now=now), since)
    earliest = min([since, *(i.start for i in first_pass)])
    charges = [
        core.Charge(parse_iso(r["at"]) or now, from_micro(r["cost_micro_usd"]))
        for r in store.ledger.rows_between(earliest, None)
        if r["status"] == "settled"
    ]
    found = core.in_window(core.incidents(events, charges, now=now), since)
    found = [core.with_queue_depth(i, _depth_at(store, i.start)) for i in found]
    # The projection's window can't start before brb's first record: a database
    # two days old must not be read as thirty days of calm.
    oldest = store.events(limit=1)
    window_start = max(since, oldest[0].at) if oldest else since
    summary = core.summarize(
        found, [c for c in charges if c.at >= window_start], since=window_start, now=now
    )
    return {
        "since": since,
        "window_start": window_start,
        "now": now,
        "incidents": found,
        "summary": summary,
    }


def _depth_at(store: Any, at: datetime) -> int | None:
    samples = store.queue_samples(since=at - _SAMPLE_LOOKBACK, until=at + timedelta(seconds=1))
    latest: dict[str, int] = {}
    for s in samples:  # oldest first: the last one per model wins
        latest[s.model] = s.queue_depth
    return sum(latest.values()) if latest else None


def report_json(report: dict[str, Any]) -> dict[str, Any]:
    from brb.adapters.database import iso
    from brb.status import money

    s = report["summary"]
    capacity = report.get("capacity")
    return {
        "capacity": None if capacity is None else capacity.to_json(),
        "since": iso(report["since"]),
        "until": iso(report["now"]),
        "incidents": [
            {
                "start": iso(i.start),
                "end": iso(i.end),
                "ongoing": i.is_ongoing,
                "duration_seconds": round(i.duration_seconds, 3),
                "trigger": i.trigger,
                "trigger_kind": i.trigger_kind,
                "ended_by": i.ended_by,
                "queue_depth": i.queue_depth,
                "time_to_normal_seconds": None
                if i.time_to_normal_seconds is None
                else round(i.time_to_normal_seconds, 3),
                "requests_diverted": i.requests_diverted,
                "cost_usd": money(i.cost_usd),
            }
            for i in report["incidents"]
        ],
        "summary": {
            "window_start": iso(report["window_start"]),
            "window_days": round(s.window_days, 3),
            "count": s.count,
            "ongoing": s.ongoing,
            "requests_diverted": s.requests_diverted,
            "total_cost_usd": money(s.total_cost_usd),
            "window_spend_usd": money(s.window_spend_usd),
            "mean_cost_per_incident_usd": None
            if s.mean_cost_usd is None
            else money(s.mean_cost_usd),
            "mean_time_to_normal_seconds": None
            if s.mean_time_to_normal_seconds is None
            else round(s.mean_time_to_normal_seconds, 3),
            "monthly_projection_usd": money(s.monthly_spend_usd),
            "incidents_per_month": round(s.incidents_per_month, 2),
            "projection": s.projection_line(),
        },
    }


def render_table(report: dict[str, Any], tz: tzinfo) -> str:
    from brb.core.durations import format_duration

    found: Sequence[Any] = report["incidents"]
    s = report["summary"]
    days = (report["now"] - report["since"]).days
    lines = [f"incidents in the last {days} days ({_local(report['since'], tz)} .. now)"]
    if not found:
        lines.append("  none: brb did not divert in this window")
    else:
        lines.append(
            f"  {'start':<16}  {'duration':>9}  {'to normal':>9}  {'depth':>5}  "
            f"{'diverted':>8}  {'cost':>10}  trigger"
        )
        for i in found:
            ttn = (
                "ongoing"
                if i.time_to_normal_seconds is None
                else format_duration(i.time_to_normal_seconds)
            )
            depth = "-" if i.queue_depth is None else str(i.queue_depth)
            lines.append(
                f"  {_local(i.start, tz):<16}  {format_duration(i.duration_seconds):>9}  "
                f"{ttn:>9}  {depth:>5}  {i.requests_diverted:>8}  {f'${i.cost_usd:.2f}':>10}  "
                f"{i.trigger}"
            )
    mean_cost = "-" if s.mean_cost_usd is None else f"${s.mean_cost_usd:.2f}"
    mean_ttn = (
        "-"
        if s.mean_time_to_normal_seconds is None
        else format_duration(s.mean_time_to_normal_seconds)
    )
    lines += [
        "",
        f"  {s.count} incidents ({s.ongoing} ongoing), {s.requests_diverted} requests diverted, "
        f"${s.total_cost_usd:.2f}",
        f"  mean cost per incident {mean_cost}, mean time to normal {mean_ttn}",
        f"  {s.projection_line()}",
    ]
    if report.get("capacity") is not None:
        lines += ["", *render_capacity(report["capacity"])]
    return "\n".join(lines)


def render_capacity(advice: Any) -> list[str]:
    """The capacity advice: its sentence, then each replay's slots, diversions and cost."""
    lines = ["capacity: " + advice.line()]
    if advice.runs:
        lines.append(f"  {'slots':>7}  {'diverted':>8}  {'overflow':>8}  {'replay cost':>11}")
        for r in advice.runs:
            slots = f"+{r.extra_slots} ({r.slots})"
            lines.append(
                f"  {slots:>7}  {r.diverted:>8}  {r.wait_diverted:>8}  {f'${r.cost_usd:.2f}':>11}"
            )
    return lines


def _local(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
