"""Capacity advice as one library call: a store, a config and a time -> the advice.

Owns binding the pure advice (:func:`brb.core.capacity.advise`) to what brb
recorded: the window's request log (read as the replay reads it,
:func:`brb.core.replay.request_log.records_from_log`; its busy stretches
marked from what was recorded, :func:`brb.core.capacity.is_busy`), the simulator's
parameters from the config (:func:`brb.replay_runs.params_from_config`, the
slots being the pool's ``parallel`` summed, as the daemon's queue counts
them) and the settled spend of the window's diversions from the ledger.
``brb incidents`` calls :func:`compute`; the daemon runs :func:`compute_at`
in a worker process (:mod:`brb.daemon.listeners.capacity`), since a week of
traffic replayed several times is seconds of CPU the event loop can't give.
Must not print or write.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from brb.adapters.ledger import from_micro
from brb.adapters.store import Store
from brb.config import BrbConfig
from brb.core.capacity import CapacityAdvice, advise, is_busy
from brb.core.replay.request_log import LOCAL_BACKENDS, records_from_log
from brb.replay_runs import params_from_config


def compute(
    store: Store, cfg: BrbConfig, *, now: datetime, window_days: int | None = None
) -> CapacityAdvice:
    """The advice for the ``window_days`` (default ``capacity.window_days``) before ``now``."""
    since = now - timedelta(days=window_days or cfg.capacity.window_days)
    rows = [dict(r) for r in store.request_log(since=since, until=now)]
    spent = sum(
        (
            from_micro(r["cost_micro_usd"])
            for r in store.ledger.rows_between(since, now)
            if r["status"] == "settled"
        ),
        Decimal(0),
    )
    start, records = records_from_log(rows) if rows else (since, [])
    threshold_s = cfg.thresholds.wait_time_seconds
    # rows come ordered by arrival, as records_from_log orders the records
    busy = [
        is_busy(is_local=r["backend"] in LOCAL_BACKENDS, wait_s=r["wait_s"],
                wait_threshold_s=threshold_s)
        for r in rows
    ]  # fmt: skip
    params = params_from_config(
        cfg, records, slots=sum(spec.parallel for spec in cfg.upstream_pool()), start=start
    )
    return advise(
        records,
        params,
        since=since,
        until=now,
        button_cost_usd=spent,
        recorded_diverted=sum(1 for r in rows if r["backend"] not in LOCAL_BACKENDS),
        max_extra_slots=cfg.capacity.max_extra_slots,
        busy=busy,
    )


def compute_at(location: str | Path, cfg: BrbConfig, now: datetime) -> dict[str, Any]:
    """:func:`compute` on the database at ``location``, as JSON: what a worker process
    hands back (plain values pickle cheaply)."""
    with Store.open(location, create=False) as store:
        return compute(store, cfg, now=now).to_json()


def main() -> int:
    """``python -m brb.capacity_advice``: the daemon's worker. Reads ``{"location",
    "config", "now"}`` as JSON on stdin (the database location may hold a password:
    never on the command line), writes the advice as JSON on stdout."""
    import json
    import sys

    from brb.config import TOP_KEY, parse
    from brb.errors import BrbError

    try:
        job = json.load(sys.stdin)
        cfg = parse({TOP_KEY: job["config"]}, source="the daemon's config")
        advice = compute_at(job["location"], cfg, datetime.fromisoformat(job["now"]))
    except (BrbError, KeyError, ValueError) as exc:
        print(f"brb capacity advice: {exc}", file=sys.stderr)
        return 1
    json.dump(advice, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
