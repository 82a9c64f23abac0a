"""``brb replay``: what the button would have done to a trace, and what it would have cost.

Owns the command line of the replay: reading the trace (a JSONL file or the
daemon's request log), expanding ``--set`` into one config per run (the
cartesian product, each validated like a config file), turning a config into
simulator parameters, and printing. The simulation, the oracle and the
figures live in :mod:`brb.core.replay`; the picture in :mod:`brb.replay_plot`.
Must not import the HTTP stack or provider SDKs; heavy imports stay inside
the command.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brb.cli.context import ConfigOpt, DbOpt, JsonOpt, load_config
from brb.errors import UsageError

if TYPE_CHECKING:
    from brb.config import BrbConfig
    from brb.core.replay import SimParams, TraceRecord

# Request-log backends that mean "served by the local server", whose
# service_s is a local service time (anything else was the cloud's).
LOCAL_BACKENDS = frozenset({"ollama", "local"})


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
                help="Parallel local slots per model, OLLAMA_NUM_PARALLEL "
                "(default: the config's upstream_parallel, 1)",
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
        from brb.core.replay import EPOCH, oracle, simulate, summarize
        from brb.core.replay.report import render_runs

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

        runs = []
        for settings, run_cfg in expand_settings(cfg, sets or []):
            params = params_from_config(
                run_cfg,
                records,
                slots=slots or run_cfg.upstream_parallel,
                tokens_per_second=tokens_per_second,
                cloud_latency_s=cloud_latency,
                start=clock_start,
            )
            result = simulate(records, params)
            hindsight = oracle(records, params) if with_oracle else None
            runs.append((settings, result, summarize(result, settings=settings, oracle=hindsight)))

        if plot is not None:
            from brb.replay_plot import plot_runs

            plot_runs([(_label(s), r) for s, r, _ in runs], plot, title=f"brb replay: {source}")
        if json_out:
            import json

            objects = [summary for _, _, summary in runs]
            print(json.dumps(objects[0] if len(objects) == 1 else objects, indent=2))
            return
        print(
            render_runs(
                [(_label(s), summary) for s, _, summary in runs],
                source=source,
                params=runs[0][1].params,
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


def records_from_log(rows: Iterable[Mapping[str, Any]]) -> tuple[datetime, list[TraceRecord]]:
    """Request-log rows (the ``requests`` table) -> (time of the first, trace records).

    ``service_s`` is kept only for requests the local server served; a
    diverted request's local service time is unknown, so it comes from its
    output tokens and ``--tokens-per-second``.
    """
    from brb.core.replay import TraceRecord

    items = []
    for row in rows:
        at = row["at"]
        when = datetime.fromisoformat(at) if isinstance(at, str) else at
        is_local = row["backend"] in LOCAL_BACKENDS
        items.append((when, row, is_local))
    if not items:
        raise UsageError("the request log has no requests in that window")
    items.sort(key=lambda item: item[0])
    first = items[0][0]
    records = [
        TraceRecord(
            arrival_offset_s=(when - first).total_seconds(),
            model=row["model"] or "unknown",
            session=row["session"] or "",
            prompt_tokens=int(row["prompt_tokens"] or 0),
            output_tokens=int(row["output_tokens"] or 0),
            service_s=float(row["service_s"])
            if is_local and row["service_s"] is not None
            else None,
        )
        for when, row, is_local in items
    ]
    return first, records


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


# --- settings ---------------------------------------------------------------------


def parse_sets(sets: Sequence[str]) -> list[tuple[str, list[Any]]]:
    """``["thresholds.queue_depth=30,50", "policy=all"]`` -> keys and their
    values, each value read as YAML (so ``30`` is a number, ``[a, b]`` a list)."""
    import yaml

    out: list[tuple[str, list[Any]]] = []
    for item in sets:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or not raw.strip():
            raise UsageError(
                f"--set {item!r}: use KEY=VALUE[,VALUE...], e.g. thresholds.queue_depth=30,50,100"
            )
        if any(k == key for k, _ in out):
            raise UsageError(f"--set {key} given twice: list its values once, comma-separated")
        values = []
        for part in _split_top_level(raw):
            try:
                values.append(yaml.safe_load(part))
            except yaml.YAMLError:
                raise UsageError(f"--set {key}: can't read the value {part!r}") from None
        out.append((key, values))
    return out


def _split_top_level(raw: str) -> list[str]:
    """Split on commas outside brackets: ``a,[b,c]`` -> ``a``, ``[b,c]``."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in raw:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    if any(not p for p in parts):
        raise UsageError(f"--set: empty value in {raw!r}")
    return parts


def expand_settings(cfg: BrbConfig, sets: Sequence[str]) -> list[tuple[dict[str, Any], BrbConfig]]:
    """Every combination of the ``--set`` values applied to ``cfg``, each
    validated as a config file would be (a bad key or value: exit 2)."""
    from brb.config import TOP_KEY, parse

    keys = parse_sets(sets)
    combos = itertools.product(*(values for _, values in keys)) if keys else [()]
    out = []
    for combo in combos:
        settings = {key: value for (key, _), value in zip(keys, combo, strict=True)}
        data = cfg.model_dump(mode="json")
        for key, value in settings.items():
            *parents, leaf = key.split(".")
            node = data
            for part in parents:
                child = node.get(part) if isinstance(node, dict) else None
                if not isinstance(child, dict):
                    raise UsageError(f"--set {key}: {part!r} is not a config section")
                node = child
            node[leaf] = value
        out.append((settings, parse({TOP_KEY: data}, source=f"--set {_label(settings)}")))
    return out


def params_from_config(
    cfg: BrbConfig,
    records: Sequence[TraceRecord],
    *,
    slots: int = 1,
    tokens_per_second: float = 30.0,
    cloud_latency_s: float = 2.0,
    start: datetime | None = None,
) -> SimParams:
    """The simulator's parameters for ``cfg`` (the models of ``records``
    resolve to their cloud model through ``models.map``)."""
    from brb.core.policy import Policy
    from brb.core.replay import EPOCH, SimParams

    return SimParams(
        thresholds=cfg.breaker_thresholds(),
        policy=Policy(cfg.policy),
        is_enabled=cfg.enabled,
        excluded_sessions=tuple(cfg.excluded_sessions),
        slots=slots,
        tokens_per_second=tokens_per_second,
        cloud_latency_s=cloud_latency_s,
        cloud_model=cfg.models.anthropic_model,
        cloud_model_by_local={m: cfg.models.cloud_model_for(m) for m in {r.model for r in records}},
        price_overrides=cfg.price_overrides(),
        max_tokens=cfg.models.max_tokens,
        daily_limit_usd=cfg.budget.daily_limit_usd,
        alert_at_percent=tuple(cfg.budget.alert_at_percent),
        tz=cfg.tz,
        start=start or EPOCH,
        waiting_room=cfg.waiting_room.enabled,
        first_content_s=cfg.waiting_room.first_content_seconds,
    )


def _label(settings: Mapping[str, Any]) -> str:
    if not settings:
        return "config"
    return " ".join(f"{k}={_show(v)}" for k, v in settings.items())


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(_show(v) for v in value) + "]"
    return str(value)
