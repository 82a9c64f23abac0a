"""Replay sweeps: ``--set KEY=V1,V2`` into one settings dict per run.

Owns reading ``KEY=VALUE[,VALUE...]`` (each value read by the caller's
reader: YAML for the CLI, so ``30`` is a number and ``[a, b]`` a list;
commas inside brackets don't split), the cartesian product of the keys'
values, laying one run's settings onto a config's plain data, a run's
label, and the compact form of a pool (``gpu-1=2,gpu-2=1``: each upstream's
name and parallel slots) that ``--upstreams`` and ``--set upstreams=[...]``
take beside the config's own shape. Must not validate a config (the caller
parses the data as it parses a config file) nor do I/O.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from brb.errors import UsageError

# Reads one value's text; raises ValueError when it can't.
ValueReader = Callable[[str], Any]

# The upstream pool's key, and the value that keeps the config's own pool.
UPSTREAMS = "upstreams"
CONFIG_POOL = "config"
# A compact upstream has no URL; the replay never calls one, but a config entry needs it.
_REPLAY_URL = "http://{name}.replay.invalid:11434"


def parse_sets(sets: Sequence[str], read_value: ValueReader) -> list[tuple[str, list[Any]]]:
    """``["thresholds.queue_depth=30,50", "policy=all"]`` -> keys and their values."""
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
        for part in split_values(raw):
            try:
                values.append(read_value(part))
            except ValueError:
                raise UsageError(f"--set {key}: can't read the value {part!r}") from None
        out.append((key, values))
    return out


def split_values(raw: str) -> list[str]:
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


def combinations(keys: Sequence[tuple[str, Sequence[Any]]]) -> list[dict[str, Any]]:
    """Every combination of the keys' values, one settings dict each (none: ``[{}]``)."""
    if not keys:
        return [{}]
    return [
        {key: value for (key, _), value in zip(keys, combo, strict=True)}
        for combo in itertools.product(*(values for _, values in keys))
    ]


def parse_pool(text: str) -> list[str] | str:
    """``--upstreams gpu-1=2,gpu-2=1`` -> ``["gpu-1=2", "gpu-2=1"]`` (checked);
    ``config`` (the config's own pool) stays as it is."""
    if text.strip() == CONFIG_POOL:
        return CONFIG_POOL
    entries = [part.strip() for part in text.split(",")]
    for entry in entries:
        _upstream_entry(entry, option="--upstreams")
    return entries


def pool_entries(value: Any, *, option: str = "--set upstreams") -> Any:
    """A pool value in the config's shape: compact ``NAME=SLOTS`` strings become
    ``{name, url, parallel}`` entries; entries already in that shape stay."""
    if not isinstance(value, list):
        return value
    return [_upstream_entry(v, option=option) if isinstance(v, str) else v for v in value]


def _upstream_entry(entry: str, *, option: str) -> dict[str, Any]:
    name, sep, slots = entry.partition("=")
    name = name.strip()
    if not sep or not name or not slots.strip().isdigit() or int(slots) < 1:
        raise UsageError(
            f"{option}: can't read {entry!r}: give each upstream as NAME=SLOTS, e.g. "
            "default=1,gpu-2=1 (SLOTS: its OLLAMA_NUM_PARALLEL, at least 1)"
        )
    return {"name": name, "url": _REPLAY_URL.format(name=name), "parallel": int(slots)}


def apply_settings(data: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a config's plain ``data`` with each dotted key of ``settings`` set.

    ``upstreams`` takes the compact form too (``[default=1, gpu-2=1]``), and
    ``config`` keeps the config's own pool. A pool replaces ``upstream`` and
    ``upstream_parallel`` (the config allows one or the other) unless those are
    set too."""
    out = copy.deepcopy(dict(data))
    for key, value in settings.items():
        if key == UPSTREAMS:
            if value == CONFIG_POOL:
                continue
            value = pool_entries(value)
            if value:
                for single in ("upstream", "upstream_parallel"):
                    if single not in settings:
                        out.pop(single, None)
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            child = node.get(part) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                raise UsageError(f"--set {key}: {part!r} is not a config section")
            node = child
        node[leaf] = value
    return out


def without_single_upstream(data: Mapping[str, Any]) -> dict[str, Any]:
    """A config's plain data whose ``upstreams`` pool is set, without the lone
    ``upstream`` keys a dump fills in with their defaults (so it parses again)."""
    out = dict(data)
    if out.get(UPSTREAMS):
        out.pop("upstream", None)
        out.pop("upstream_parallel", None)
    return out


def label(settings: Mapping[str, Any]) -> str:
    """``thresholds.queue_depth=30 policy=all``; ``config`` for no settings."""
    if not settings:
        return "config"
    return " ".join(f"{k}={_show(v)}" for k, v in settings.items())


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(_show(v) for v in value) + "]"
    if isinstance(value, dict) and "name" in value:  # an upstream: its name and slots
        return f"{value['name']}={value.get('parallel', 1)}"
    return str(value)
