"""``brb replay``: what the button would have done to a trace, and what it would have cost.

A thin shell: parse the arguments, read the trace (a JSONL file or the
daemon's request log), one call to :func:`brb.replay_runs.replay` (the
sweep, the simulation, the oracle, the summaries), print. The pure replay
lives in :mod:`brb.core.replay`; the picture in :mod:`brb.replay_plot`.
Must not import the HTTP stack or provider SDKs; heavy imports stay inside
the command.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from brb.cli.context import ConfigOpt, DbOpt, JsonOpt, load_config
from brb.errors import UsageError

if TYPE_CHECKING:
    from brb.config import BrbConfig
    from brb.core.replay import TraceRecord


def register(app: typer.Typer) -> None:
    @app.command()
    def replay(
        trace: Annotated[
            Path | None,
            typer.Argument(
                help="JSONL trace, one request a line ('-' for stdin); or use --from-db",
                show_default=False,
            ),
        ] = None,
        from_db: Annotated[
            bool,
            typer.Option("--from-db", help="Replay the daemon's request log instead of a file"),
        ] = False,
        since: Annotated[
            str | None,
            typer.Option(
                "--since",
                help="With --from-db: from this time (2026-11-27, 2026-11-27T18:00, "
                "or 12h for 12 hours ago; default 24h)",
            ),
        ] = None,
        until: Annotated[
            str | None,
            typer.Option("--until", help="With --from-db: up to this time (default now)"),
        ] = None,
        slots: Annotated[
            int | None,
            typer.Option(
                "--slots",
                min=1,
                help="One upstream with this many parallel slots per model, "
                "OLLAMA_NUM_PARALLEL (default: the config's pool, or upstream_parallel)",
                show_default=False,
            ),
        ] = None,
        upstreams: Annotated[
            list[str] | None,
            typer.Option(
                "--upstreams",
                help="A pool of Ollama servers to simulate, NAME=SLOTS,...: e.g. "
                "default=1,gpu-2=1 for a second box of one slot; 'config' for the "
                "config's own pool; repeat to compare pools side by side",
                show_default=False,
            ),
        ] = None,
        tokens_per_second: Annotated[
            float,
            typer.Option(
                "--tokens-per-second",
                min=0.001,
                help="Local generation speed, for requests without service_s",
            ),
        ] = 30.0,
        cloud_latency: Annotated[
            float, typer.Option("--cloud-latency", min=0.0, help="Seconds a diverted request takes")
        ] = 2.0,
        sets: Annotated[
            list[str] | None,
            typer.Option(
                "--set",
                help="KEY=V1,V2,...: a config key and the values to try; several --set "
                "give every combination (e.g. --set thresholds.queue_depth=30,50 --set "
                "policy=overflow,all)",
            ),
        ] = None,
        start: Annotated[
            str | None,
            typer.Option(
                "--start",
                help="Clock time of the trace start (default 2026-11-27T00:00Z; with "
                "--from-db, the first request's time)",
            ),
        ] = None,
        with_oracle: Annotated[
            bool,
            typer.Option("--oracle", help="Also compute the hindsight oracle's fewest diversions"),
        ] = False,
        json_out: JsonOpt = False,
        plot: Annotated[
            Path | None,
            typer.Option(
                "--plot",
                help="Write a PNG of queue, mode, diversions and spend "
                "(needs matplotlib: the 'plot' extra)",
                show_default=False,
            ),
        ] = None,
        config: ConfigOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Simulate a traffic trace through brb's breaker, policy and budget."""
        from brb.core.replay import EPOCH
        from brb.core.replay.report import render_runs
        from brb.replay_runs import replay as run_replay

        cfg = load_config(config, quiet=json_out)
        if from_db == (trace is not None):
            raise UsageError("give a TRACE file or --from-db, not both and not neither")
        if not from_db and (since or until):
            raise UsageError("--since and --until go with --from-db")
        if from_db:
            clock_start, records = _records_from_db(cfg, db, since, until)
            source = f"request log {clock_start:%Y-%m-%d %H:%M}"
        else:
            assert trace is not None
            records, source, clock_start = _read_trace(trace), str(trace), EPOCH
        if start is not None:
            clock_start = _parse_when(start, cfg, now=None, option="--start")

        runs = run_replay(
            cfg,
            records,
            sets=sets or [],
            slots=slots,
            tokens_per_second=tokens_per_second,
            cloud_latency_s=cloud_latency,
            start=clock_start,
            with_oracle=with_oracle,
            upstreams=upstreams or [],
        )

        if plot is not None:
            from brb.replay_plot import plot_runs

            plot_runs([(r.label, r.result) for r in runs], plot, title=f"brb replay: {source}")
        if json_out:
            import json

            objects = [r.summary for r in runs]
            print(json.dumps(objects[0] if len(objects) == 1 else objects, indent=2))
            return
        print(
            render_runs(
                [(r.label, r.summary) for r in runs], source=source, params=runs[0].result.params
            )
        )
        if plot is not None:
            print(f"\nplot written to {plot}")


# --- input ----------------------------------------------------------------------


def _read_trace(path: Path) -> list[TraceRecord]:
    from brb.core.replay import parse_trace

    if str(path) == "-":
        return parse_trace(sys.stdin, source="stdin")
    try:
        with path.open(encoding="utf-8") as f:
            return parse_trace(f, source=str(path))
    except FileNotFoundError:
        raise UsageError(f"trace file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"can't read trace file {path}: {exc}") from None


def _records_from_db(
    cfg: BrbConfig, db: Path | None, since: str | None, until: str | None
) -> tuple[datetime, list[TraceRecord]]:
    from brb.cli.context import now, open_store
    from brb.core.replay.request_log import records_from_log

    at = now()
    first = _parse_when(since or "24h", cfg, now=at, option="--since")
    last = _parse_when(until, cfg, now=at, option="--until") if until else None
    if last is not None and last <= first:
        raise UsageError("--until must be after --since")
    with open_store(db, cfg) as store:
        rows = store.request_log(since=first, until=last)
    if not rows:
        raise UsageError(
            f"no requests in the request log between {first:%Y-%m-%d %H:%M} "
            f"and {(last or at):%Y-%m-%d %H:%M}"
        )
    return records_from_log([dict(r) for r in rows])


def _parse_when(text: str, cfg: BrbConfig, *, now: datetime | None, option: str) -> datetime:
    """A date, a datetime (naive means the config's timezone) or, given
    ``now``, a duration ago like ``12h``."""
    text = text.strip()
    try:
        if "T" in text or " " in text:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return dt if dt.tzinfo else dt.replace(tzinfo=cfg.tz)
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=cfg.tz)
    except ValueError:
        pass
    if now is not None:
        from brb.core.durations import parse_duration

        try:
            return now - parse_duration(text)
        except ValueError:
            pass
    ago = " or a duration ago like 12h" if now is not None else ""
    raise UsageError(
        f"{option}: can't read {text!r}: use a date (2026-11-27), a time (2026-11-27T18:00){ago}"
    )
