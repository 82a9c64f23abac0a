"""Queue history for a sparkline: the last minutes of samples in even buckets.

Owns turning the store's per-model queue samples (one a second while a model
is busy, one when it goes idle, nothing while it stays idle) into a fixed
number of buckets per model: the deepest queue and the longest wait seen in
each bucket, a bucket with no sample carrying the last value forward (an
idle model is sampled once, so silence means "as before"). Pure: the
samples and ``now`` are parameters; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

T = TypeVar("T")
OTHER = "other"  # the series of the models past the bound


@dataclass(frozen=True, slots=True)
class Point:
    """One queue sample as the history needs it."""

    at: datetime
    model: str
    queue_depth: int
    wait_s: float


@dataclass(frozen=True, slots=True)
class Series:
    """One model's buckets, oldest first; ``None`` before its first sample."""

    queue_depth: tuple[int | None, ...]
    wait_s: tuple[float | None, ...]


def bucket_series(
    points: Iterable[Point],
    *,
    now: datetime,
    window: timedelta,
    buckets: int,
    max_models: int | None = None,
) -> dict[str, Series]:
    """Per model, ``buckets`` even buckets over ``(now - window, now]``.

    A bucket holds the maximum depth and wait of its samples; an empty bucket
    repeats the one before it (or stays ``None`` before the model's first
    sample). Samples outside the window are ignored. With ``max_models``, only
    that many models have their own series (the deepest queues, then the most
    sampled); the rest are folded into one named ``other`` (their maxima)."""
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    if max_models is not None:
        points = _folded(list(points), max_models)
    start = now - window
    width_s = window.total_seconds() / buckets
    depth: dict[str, list[int | None]] = {}
    wait: dict[str, list[float | None]] = {}
    for p in points:
        offset_s = (p.at - start).total_seconds()
        if offset_s <= 0 or p.at > now:
            continue
        i = min(buckets - 1, int(offset_s / width_s))
        d = depth.setdefault(p.model, [None] * buckets)
        w = wait.setdefault(p.model, [None] * buckets)
        d[i] = p.queue_depth if d[i] is None else max(d[i] or 0, p.queue_depth)
        w[i] = p.wait_s if w[i] is None else max(w[i] or 0.0, p.wait_s)
    out = {}
    for model in depth:
        out[model] = Series(tuple(_carried(depth[model])), tuple(_carried(wait[model])))
    return out


def _folded(points: list[Point], max_models: int) -> list[Point]:
    """``points`` with every model past the ``max_models`` kept named ``other``."""
    peak: dict[str, tuple[int, int]] = {}
    for p in points:
        depth, count = peak.get(p.model, (0, 0))
        peak[p.model] = (max(depth, p.queue_depth), count + 1)
    if len(peak) <= max_models:
        return points
    ranked = sorted(peak, key=lambda m: (-peak[m][0], -peak[m][1], m))
    kept = set(ranked[: max(0, max_models - 1)])  # one line of the bound is "other"
    return [p if p.model in kept else replace(p, model=OTHER) for p in points]


def _carried(values: list[T | None]) -> list[T | None]:
    last: T | None = None
    out: list[T | None] = []
    for v in values:
        if v is not None:
            last = v
        out.append(last)
    return out
