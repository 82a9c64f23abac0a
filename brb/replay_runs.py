"""The replay as one library call: a trace and the ``--set`` sweep -> runs.

Owns binding brb's config to the pure replay (:mod:`brb.core.replay`): each
combination of the sweep (:mod:`brb.core.replay.sweep`) laid onto the config
and validated as a config file would be, the simulator's parameters from a
config, and for each run the simulation, the optional hindsight oracle and
the summary. The CLI (:mod:`brb.cli.replay`) parses arguments, reads the
trace, calls :func:`replay` and prints. Must not print, read files or open
the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from brb.config import TOP_KEY, BrbConfig, parse
from brb.core.policy import Policy
from brb.core.replay import EPOCH, SimParams, SimResult, TraceRecord, oracle, simulate, summarize
from brb.core.replay.run import SimUpstream
from brb.core.replay.sweep import (
    UPSTREAMS,
    apply_settings,
    combinations,
    label,
    parse_pool,
    parse_sets,
    without_single_upstream,
)
from brb.errors import UsageError


@dataclass(frozen=True, slots=True)
class Run:
    settings: dict[str, Any]  # the sweep's values for this run ({} for the config as is)
    label: str
    result: SimResult
    summary: dict[str, Any]


def read_yaml_value(text: str) -> Any:
    """One ``--set`` value, read as YAML (``30`` a number, ``[a, b]`` a list)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


def expand_settings(
    cfg: BrbConfig, sets: Sequence[str], upstreams: Sequence[str] = ()
) -> list[tuple[dict[str, Any], BrbConfig]]:
    """Every combination of the ``--set`` values (and of the ``--upstreams``
    pools, one value of the ``upstreams`` key each) applied to ``cfg``, each
    validated as a config file would be (a bad key or value: a UsageError)."""
    data = without_single_upstream(cfg.model_dump(mode="json"))
    keys = parse_sets(sets, read_yaml_value)
    if upstreams:
        if any(key == UPSTREAMS for key, _ in keys):
            raise UsageError("give the pools to try with --upstreams or --set upstreams, not both")
        keys.append((UPSTREAMS, [parse_pool(text) for text in upstreams]))
    return [
        (
            settings,
            parse({TOP_KEY: apply_settings(data, settings)}, source=f"--set {label(settings)}"),
        )
        for settings in combinations(keys)
    ]


def pool_of(cfg: BrbConfig) -> tuple[SimUpstream, ...]:
    """The config's upstreams (``upstreams``, or ``upstream`` alone) as the simulator's pool."""
    return tuple(SimUpstream(spec.name, spec.parallel) for spec in cfg.upstream_pool())


def params_from_config(
    cfg: BrbConfig,
    records: Sequence[TraceRecord],
    *,
    slots: int = 1,
    tokens_per_second: float = 30.0,
    cloud_latency_s: float = 2.0,
    start: datetime | None = None,
    upstreams: Sequence[SimUpstream] = (),
) -> SimParams:
    """The simulator's parameters for ``cfg`` (the models of ``records``
    resolve to their cloud model through ``models.map``). ``upstreams``: a
    pool to simulate; none: one upstream of ``slots``."""
    return SimParams(
        thresholds=cfg.breaker_thresholds(),
        policy=Policy(cfg.policy),
        is_enabled=cfg.enabled,
        excluded_sessions=tuple(cfg.excluded_sessions),
        slots=slots,
        upstreams=tuple(upstreams),
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
        rules=cfg.rule_set(),
    )


def replay(
    cfg: BrbConfig,
    records: Sequence[TraceRecord],
    *,
    sets: Sequence[str] = (),
    slots: int | None = None,
    tokens_per_second: float = 30.0,
    cloud_latency_s: float = 2.0,
    start: datetime | None = None,
    with_oracle: bool = False,
    upstreams: Sequence[str] = (),
) -> list[Run]:
    """One run per combination of ``sets`` and ``upstreams`` (compact pools,
    ``gpu-1=2,gpu-2=1``; one run: the config as is). Each run simulates its
    config's pool, unless ``slots`` asks for one upstream of that many slots."""
    if slots is not None and (upstreams or any(s.startswith(UPSTREAMS + "=") for s in sets)):
        raise UsageError("--slots is one upstream of that many slots: leave it out to try pools")
    runs = []
    for settings, run_cfg in expand_settings(cfg, sets, upstreams):
        params = params_from_config(
            run_cfg,
            records,
            slots=slots or run_cfg.upstream_parallel,
            tokens_per_second=tokens_per_second,
            cloud_latency_s=cloud_latency_s,
            start=start,
            upstreams=() if slots else pool_of(run_cfg),
        )
        result = simulate(records, params)
        hindsight = oracle(records, params) if with_oracle else None
        summary = summarize(result, settings=settings, oracle=hindsight)
        runs.append(Run(settings, label(settings), result, summary))
    return runs
