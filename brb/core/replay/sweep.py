"""Replay sweeps: ``--set KEY=V1,V2`` into one settings dict per run.

Owns reading ``KEY=VALUE[,VALUE...]`` (each value read by the caller's
reader: YAML for the CLI, so ``30`` is a number and ``[a, b]`` a list;
commas inside brackets don't split), the cartesian product of the keys'
values, laying one run's settings onto a config's plain data, and a run's
label. Must not validate a config (the caller parses the data as it parses a
config file) nor do I/O.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from brb.errors import UsageError

# Reads one value's text; raises ValueError when it can't.
ValueReader = Callable[[str], Any]


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


def apply_settings(data: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a config's plain ``data`` with each dotted key of ``settings`` set."""
    out = copy.deepcopy(dict(data))
    for key, value in settings.items():
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            child = node.get(part) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                raise UsageError(f"--set {key}: {part!r} is not a config section")
            node = child
        node[leaf] = value
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
    return str(value)
