"""The light commands themselves: ``status``, ``press``, ``release``, ``spend``.

Owns what each does with its options (already parsed) and what it prints;
returns the exit code. Free of Typer: :mod:`brb.cli.state` and
:mod:`brb.cli.spend` declare the options for the Typer app, and
:mod:`brb.cli.launch` calls these directly on its fast path. Must not import
aiohttp, anthropic, ollama or pydantic (tests/cli/test_cli_imports.py).
"""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from brb.cli.loading import load_light, now, open_store, parse_for
from brb.errors import UsageError
from brb.status import DAEMON_ALIVE_S

if TYPE_CHECKING:
    from brb.adapters.ledger import GroupBy

BY = ("day", "model", "provider", "session")


def status(
    *,
    json_out: bool = False,
    check: bool = False,
    watch: bool = False,
    config: Path | None = None,
    db: Path | None = None,
) -> int:
    """What brb is doing now: mode, breaker, spend, queue, daemon."""
    from brb import status as status_mod

    cfg = load_light(config, quiet=json_out or check)
    with open_store(db, cfg) as store:
        if watch:
            from brb.cli.watch import watch_status

            watch_status(store, cfg)
            return 0
        snap = status_mod.snapshot(store, cfg, now())
    if json_out:
        print(json.dumps(snap, indent=2))
    elif not check:
        print(render_panel(snap))
    return status_mod.check_exit_code(snap) if check else 0


def press(
    *,
    for_: str | None = None,
    reason: str | None = None,
    json_out: bool = False,
    config: Path | None = None,
    db: Path | None = None,
) -> int:
    """Press the button: divert every eligible request to the cloud."""
    from brb import control

    cfg = load_light(config, quiet=json_out)
    at = now()
    until = parse_for(for_, at)
    with open_store(db, cfg) as store:
        result = control.press(store, now=at, source="cli", reason=reason, until=until)
        _report(store, cfg, result.changed, json_out)
    return 0


def release(
    *,
    hold: bool = False,
    for_: str | None = None,
    reason: str | None = None,
    json_out: bool = False,
    config: Path | None = None,
    db: Path | None = None,
) -> int:
    """Release the button: back to auto (or, with --hold, divert nothing)."""
    from brb import control

    cfg = load_light(config, quiet=json_out)
    at = now()
    if for_ is not None and not hold:
        raise UsageError("--for only applies with --hold (a release to auto has no expiry)")
    until = parse_for(for_, at)
    with open_store(db, cfg) as store:
        result = control.release(store, now=at, source="cli", reason=reason, hold=hold, until=until)
        _report(store, cfg, result.changed, json_out)
    return 0


def spend(
    *,
    days: int | None = None,
    since: str | None = None,
    by: str = "day",
    json_out: bool = False,
    csv_out: bool = False,
    config: Path | None = None,
    db: Path | None = None,
) -> int:
    """Cloud spend from the ledger (settled requests)."""
    from brb.core.budget import budget_day
    from brb.status import money

    if by not in BY:
        raise UsageError(f"--by must be day, model, provider or session, not {by!r}")
    if days is not None and since is not None:
        raise UsageError("give --days or --since, not both")
    if json_out and csv_out:
        raise UsageError("give --json or --csv, not both")
    cfg = load_light(config, quiet=json_out or csv_out)
    today = budget_day(now(), cfg.tz)
    if since is not None:
        try:
            first = date.fromisoformat(since)
        except ValueError:
            raise UsageError(f"--since: {since!r} is not a date like 2026-11-25") from None
    else:
        first = today - timedelta(days=(days or 7) - 1)
    with open_store(db, cfg) as store:
        report = store.ledger.spend(since_day=first, until_day=today, by=cast("GroupBy", by))

    if json_out:
        out = {
            "since": first.isoformat(),
            "until": today.isoformat(),
            "by": by,
            "total_usd": money(report["total_usd"]),
            "requests": report["requests"],
            "reserved_usd": money(report["reserved_usd"]),
            "reserved_requests": report["reserved_requests"],
            "rows": [
                {
                    **r,
                    "cost_usd": money(r["cost_usd"]),
                    "providers": {name: money(usd) for name, usd in r["providers"].items()},
                }
                for r in report["rows"]
            ],
        }
        print(json.dumps(out, indent=2))
        return 0
    if csv_out:
        import csv

        w = csv.writer(sys.stdout)
        w.writerow([by, "requests", "cost_usd", "input_tokens", "output_tokens"])
        for r in report["rows"]:
            w.writerow(
                [
                    r[by],
                    r["requests"],
                    f"{r['cost_usd']:.6f}",
                    r["input_tokens"],
                    r["output_tokens"],
                ]
            )
        return 0
    print(f"cloud spend {first} .. {today} ({cfg.timezone}), by {by}")
    width = max([len(str(r[by])) for r in report["rows"]] + [len(by), 5])
    print(f"  {by:<{width}}  {'requests':>8}  {'cost':>12}")
    for r in report["rows"]:
        print(f"  {str(r[by]):<{width}}  {r['requests']:>8}  {_cents(r['cost_usd']):>12}")
    if report["reserved_requests"]:
        # In flight now, or left by a crash until the next start settles them: the budget
        # counts them (remaining_usd), the settled total does not.
        held = f"{report['reserved_requests']:>8}  {_cents(report['reserved_usd']):>12}"
        print(f"  {'reserved':<{width}}  {held}  (not settled yet; the budget counts it)")
    print(f"  {'total':<{width}}  {report['requests']:>8}  {_cents(report['total_usd']):>12}")
    return 0


def _age(seconds: float | None) -> str:
    from brb.core.durations import format_duration

    return "-" if seconds is None else f"{format_duration(seconds)} ago"


def render_panel(s: dict[str, Any]) -> str:
    """A compact human panel of a status snapshot."""
    mode = s["mode"]
    headline = {
        "on": "PRESSED (mode on): diverting every eligible request",
        "off": "HELD OFF (mode off): diverting nothing",
    }.get(
        mode,
        "ACTIVE (auto): diverting overflow"
        if s["breaker"] == "active"
        else "STANDBY (auto): all traffic local",
    )
    lines = [f"brb  {headline}"]
    lines.append(f"  why        {s['reason']}")
    if s["since"]:
        lines.append(f"  since      {s['since']}")
    if s["override_until"]:
        lines.append(f"  until      {s['override_until']} (then back to auto)")
    lines.append(
        f"  spend      ${s['spend_today_usd']:.2f} of ${s['daily_limit_usd']:.2f} today "
        f"({s['budget_day']} {s['timezone']}), ${s['remaining_usd']:.2f} left"
        + (f", ${s['reserved_usd']:.2f} reserved" if s["reserved_usd"] else "")
    )
    lines.append(f"  diverted   {s['diverted_today']} requests today")
    q = s["queue"]
    if q:
        lines.append(
            f"  queue      depth {q['queue_depth']}, in flight {q['in_flight']}, "
            f"wait {q['wait_seconds']:.1f}s ({_age(q['age_seconds'])})"
        )
    else:
        lines.append("  queue      no sample yet")
    d = s["daemon"]
    lines.append(
        f"  daemon     pid {d['pid']} on {d['listen']}, "
        f"heartbeat {_age(d['heartbeat_age_seconds'])}"
        if d
        else "  daemon     never seen (run `brb serve`)"
    )
    if d and d["heartbeat_age_seconds"] > DAEMON_ALIVE_S:
        lines.append(
            "  WARNING    the daemon's heartbeat is stale: it is not running, so the breaker "
            "state above is its last word and nothing is being proxied"
        )
    fleet = s.get("instances") or []
    if len(fleet) > 1:
        for i in fleet:
            lines.append(
                f"  instance   {i['id']}: breaker {i['breaker']}, depth {i['queue_depth']}, "
                f"heartbeat {_age(i['heartbeat_age_s'])}" + (" (STALE)" if i["stale"] else "")
            )
    c = s.get("capacity")
    if c:
        lines.append(f"  capacity   {c['summary']} ({_age(c['age_seconds'])})")
    for b in s["diversion_blocked_by"]:
        lines.append(f"  blocked    {b}")
    return "\n".join(lines)


def _report(store: Any, cfg: Any, changed: bool, json_out: bool) -> None:
    from brb import status as status_mod

    snap = status_mod.snapshot(store, cfg, now())
    snap["changed"] = changed
    if json_out:
        print(json.dumps(snap, indent=2))
        return
    if not changed:
        print("(no change: it was already so; logged)", file=sys.stderr)
    print(render_panel(snap))


def _cents(d: Decimal) -> str:
    return f"${d:.2f}"
