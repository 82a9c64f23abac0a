"""``brb status``, ``brb press``, ``brb release``: the button from a shell.

Work on the database directly, with or without the daemon running (it sees
a change within a second). Must not import aiohttp, anthropic or ollama.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from brb.cli.context import ConfigOpt, DbOpt, JsonOpt, load_light, now, open_store, parse_for
from brb.status import DAEMON_ALIVE_S

ForOpt = Annotated[
    str | None, typer.Option("--for", help="Only for this long: 30s, 10m, 2h, 1h30m")
]
ReasonOpt = Annotated[
    str | None, typer.Option("--reason", "-r", help="Why (goes in the event log)")
]


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
    for b in s["diversion_blocked_by"]:
        lines.append(f"  blocked    {b}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        json_out: JsonOpt = False,
        check: Annotated[
            bool,
            typer.Option(
                "--check", help="Exit 0 nothing diverted, 3 diverting, 4 budget exhausted"
            ),
        ] = False,
        watch: Annotated[
            bool, typer.Option("--watch", help="Live view, refreshed every second")
        ] = False,
        config: ConfigOpt = None,
        db: DbOpt = None,
    ) -> None:
        """What brb is doing now: mode, breaker, spend, queue, daemon."""
        from brb import status as status_mod

        cfg = load_light(config, quiet=json_out or check)
        with open_store(db, cfg) as store:
            if watch:
                from brb.cli.watch import watch_status

                watch_status(store, cfg)
                return
            snap = status_mod.snapshot(store, cfg, now())
        if json_out:
            print(json.dumps(snap, indent=2))
        elif not check:
            print(render_panel(snap))
        if check:
            raise typer.Exit(status_mod.check_exit_code(snap))

    @app.command()
    def press(
        for_: ForOpt = None,
        reason: ReasonOpt = None,
        json_out: JsonOpt = False,
        config: ConfigOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Press the button: divert every eligible request to the cloud."""
        from brb import control

        cfg = load_light(config, quiet=json_out)
        at = now()
        until = parse_for(for_, at)
        with open_store(db, cfg) as store:
            result = control.press(store, now=at, source="cli", reason=reason, until=until)
            _report(store, cfg, result.changed, json_out)

    @app.command()
    def release(
        hold: Annotated[
            bool, typer.Option("--hold", help="Hold off: divert nothing, even if the breaker would")
        ] = False,
        for_: ForOpt = None,
        reason: ReasonOpt = None,
        json_out: JsonOpt = False,
        config: ConfigOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Release the button: back to auto (or, with --hold, divert nothing)."""
        from brb import control
        from brb.errors import UsageError

        cfg = load_light(config, quiet=json_out)
        at = now()
        if for_ is not None and not hold:
            raise UsageError("--for only applies with --hold (a release to auto has no expiry)")
        until = parse_for(for_, at)
        with open_store(db, cfg) as store:
            result = control.release(
                store, now=at, source="cli", reason=reason, hold=hold, until=until
            )
            _report(store, cfg, result.changed, json_out)


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
