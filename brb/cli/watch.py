"""``brb status --watch``: the live terminal view, refreshed every second.

Owns the picture an on-call engineer keeps open: mode and breaker, a
queue-depth sparkline over the last five minutes, the wait, a spend bar
against the day's budget, and the last events. :func:`render` builds it
from plain values (a status snapshot, queue samples, events) so tests can
render it to text with no terminal; :func:`watch_status` is the loop around
it. Reads only; must not import aiohttp, anthropic or ollama.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from brb.adapters.store import Store
    from brb.adapters.store_events import Event
    from brb.adapters.store_samples import QueueSample
    from brb.config_cache import ConfigLike

REFRESH_SECONDS = 1.0
SPARK_WINDOW = timedelta(minutes=5)
SPARK_WIDTH = 50
BAR_WIDTH = 40
EVENT_COUNT = 8
HEARTBEAT_STALE_S = 30.0  # as `brb doctor`: older than this, the daemon is likely down
_LEVELS = "▁▂▃▄▅▆▇█"


def watch_status(
    store: Store,
    cfg: ConfigLike,
    *,
    console: Console | None = None,
    refresh_s: float = REFRESH_SECONDS,
) -> None:
    """Redraw the view every ``refresh_s`` until Ctrl-C (which returns normally)."""
    from rich.live import Live

    out = console or Console()
    limits = (cfg.thresholds.queue_depth, cfg.thresholds.wait_time_seconds)
    try:
        with Live(
            _frame(store, cfg, limits),
            console=out,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
        ) as live:
            while True:
                time.sleep(refresh_s)
                live.update(_frame(store, cfg, limits), refresh=True)
    except KeyboardInterrupt:
        pass


def _frame(store: Store, cfg: ConfigLike, limits: tuple[int, float]) -> RenderableType:
    from brb import status
    from brb.cli.context import now

    at = now()
    snap = status.snapshot(store, cfg, at)
    samples = store.queue_samples(since=at - SPARK_WINDOW)
    events = store.events(limit=EVENT_COUNT, newest_first=True)
    return render(snap, samples, events, queue_threshold=limits[0], wait_threshold_s=limits[1])


# --- the picture -------------------------------------------------------------------


def render(
    snapshot: dict[str, Any],
    samples: Sequence[QueueSample],
    events: Sequence[Event],
    *,
    queue_threshold: int | None = None,
    wait_threshold_s: float | None = None,
) -> RenderableType:
    """The whole view for one instant (``snapshot["now"]``), newest events first."""
    now = datetime.fromisoformat(snapshot["now"])
    tz = ZoneInfo(snapshot.get("timezone") or "UTC")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("mode", _headline(snapshot))
    grid.add_row("why", Text(snapshot["reason"] or "-"))
    grid.add_row("queue", _queue_line(snapshot, samples, now, queue_threshold))
    grid.add_row("wait", _wait_line(snapshot, wait_threshold_s))
    grid.add_row("spend", _spend_bar(snapshot))
    grid.add_row("diverted", Text(f"{snapshot['diverted_today']} requests today"))
    grid.add_row("daemon", _daemon_line(snapshot))
    for blocker in snapshot.get("diversion_blocked_by") or []:
        grid.add_row("blocked", Text(blocker, style="yellow"))
    title = f"brb  {now.astimezone(tz):%Y-%m-%d %H:%M:%S %Z}"
    return Group(
        Panel(grid, title=title, title_align="left", border_style=_colour(snapshot)),
        _events_table(events, tz),
    )


def _colour(s: dict[str, Any]) -> str:
    if s["diverting"]:
        return "red"
    return "yellow" if s["mode"] == "off" else "green"


def _headline(s: dict[str, Any]) -> Text:
    mode, phase = s["mode"], s["breaker"]
    if mode == "on":
        words = "PRESSED (mode on): diverting every eligible request"
    elif mode == "off":
        words = "HELD OFF (mode off): diverting nothing"
    elif phase == "active":
        words = "ACTIVE (auto): diverting overflow"
    else:
        words = "STANDBY (auto): all traffic local"
    text = Text(words, style=f"bold {_colour(s)}")
    text.append(f"   breaker {phase}", style="dim")
    if s.get("override_until"):
        text.append(f", until {s['override_until']}", style="dim")
    return text


def sparkline(values: Sequence[int | None]) -> str:
    """One character per value, scaled to the largest; None (no sample) is a space."""
    top = max((v for v in values if v is not None), default=0)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif top <= 0:
            out.append(_LEVELS[0])
        else:
            out.append(_LEVELS[min(len(_LEVELS) - 1, round(v / top * (len(_LEVELS) - 1)))])
    return "".join(out)


def depth_series(
    samples: Sequence[QueueSample], now: datetime, width: int = SPARK_WIDTH
) -> list[int | None]:
    """Queue depth over the last five minutes in ``width`` buckets: in each,
    the deepest each model got, summed over models (None where no sample)."""
    step = SPARK_WINDOW / width
    start = now - SPARK_WINDOW
    buckets: list[dict[str, int]] = [{} for _ in range(width)]
    for s in samples:
        i = int((s.at - start) / step)
        if 0 <= i < width:
            b = buckets[i]
            b[s.model] = max(b.get(s.model, 0), s.queue_depth)
    return [sum(b.values()) if b else None for b in buckets]


def _queue_line(
    s: dict[str, Any], samples: Sequence[QueueSample], now: datetime, threshold: int | None
) -> Text:
    series = depth_series(samples, now)
    text = Text(sparkline(series), style="cyan")
    q = s.get("queue")
    depth = q["queue_depth"] if q else None
    peak = max((v for v in series if v is not None), default=None)
    text.append(f"  now {'-' if depth is None else depth}")
    if peak is not None:
        text.append(f", 5 min max {peak}")
    if threshold is not None:
        over = depth is not None and depth > threshold
        text.append(f" (activates > {threshold})", style="red" if over else "dim")
    return text


def _wait_line(s: dict[str, Any], threshold: float | None) -> Text:
    q = s.get("queue")
    if not q:
        return Text("no sample yet", style="dim")
    wait = float(q["wait_seconds"])
    text = Text(f"{wait:.1f}s", style="red" if threshold and wait > threshold else "")
    text.append(f", {q['in_flight']} in flight")
    if threshold is not None:
        text.append(f" (activates > {threshold:g}s)", style="dim")
    return text


def _spend_bar(s: dict[str, Any]) -> Text:
    limit = float(s["daily_limit_usd"])
    spent, reserved = float(s["spend_today_usd"]), float(s["reserved_usd"])
    frac = 1.0 if limit <= 0 else min(1.0, spent / limit)
    rfrac = 0.0 if limit <= 0 else min(1.0 - frac, reserved / limit)
    full, held = round(frac * BAR_WIDTH), round(rfrac * BAR_WIDTH)
    style = "red" if s["budget_exhausted"] or frac >= 1 else "yellow" if frac >= 0.8 else "green"
    text = Text("█" * full, style=style)
    text.append("▒" * held, style="magenta")
    text.append("░" * max(0, BAR_WIDTH - full - held), style="dim")
    pct = 100.0 if limit <= 0 else spent / limit * 100
    text.append(f"  ${spent:,.2f} of ${limit:,.2f} ({pct:.0f}%)")
    if reserved:
        text.append(f", ${reserved:,.2f} reserved", style="magenta")
    if s["budget_exhausted"]:
        text.append("  EXHAUSTED", style="bold red")
    return text


def _daemon_line(s: dict[str, Any]) -> Text:
    d = s.get("daemon")
    if not d:
        return Text("never seen (run `brb serve`)", style="yellow")
    age = float(d["heartbeat_age_seconds"])
    stale = age > HEARTBEAT_STALE_S
    return Text(
        f"pid {d['pid']} on {d['listen']}, heartbeat {age:.0f}s ago"
        + ("  (not running?)" if stale else ""),
        style="yellow" if stale else "",
    )


def _events_table(events: Sequence[Event], tz: ZoneInfo) -> Table:
    table = Table(
        title="last events", title_justify="left", expand=True, show_edge=False, pad_edge=False
    )
    table.add_column("time", no_wrap=True, style="dim")
    table.add_column("event", no_wrap=True)
    table.add_column("by", no_wrap=True)
    table.add_column("reason", overflow="ellipsis", no_wrap=True, ratio=1)
    if not events:
        table.add_row("-", "no events yet", "", "")
    for e in events:
        who = f"{e.who}@{e.source}" if e.who and e.source else (e.who or e.source or "")
        style = "red" if e.kind in ("activated", "press", "budget_exhausted") else ""
        table.add_row(f"{e.at.astimezone(tz):%H:%M:%S}", Text(e.kind, style=style), who, e.reason)
    return table
