#!/usr/bin/env python3
"""Make the example replay traces in ``examples/`` (fixed seed: same bytes every run).

Usage: python scripts/make_traces.py [OUTDIR]   (default: examples/ next to this script)

* ``black_friday.jsonl`` - a shop's night: a local server at about 15 s per
  request running at 60% load, then a 45-minute burst that, with no
  fallback, queues about 1,000 requests; ``service_s`` as measured (mixed).
* ``ordinary_day.jsonl`` - 24 hours of office traffic on two models, well
  under capacity with a lunchtime spike; no ``service_s`` (output tokens at
  ``--tokens-per-second`` decide); a few ``compliance-*`` sessions.
* ``flapping.jsonl`` - four hours of load hovering around the default wait
  threshold (60 s at 10 s per request): flapping bait for
  ``release_fraction`` and ``min_active_seconds``; equal service times, so
  the oracle is exact.
* ``mixed_documents.jsonl`` - 15 minutes of the mixed shape of
  ``brb.sim.mixed_traffic`` (the one ``bench/overload.py`` runs live): one
  slot, reply lengths lognormal with a long tail, a quarter of the prompts
  documents of 1,000-4,000 tokens, offered load 1.5x capacity; each line
  carries Ollama's own split (``prompt_eval_s``, ``eval_s``, ``load_s``).
  Replay it with ``--set thresholds.wait_time_seconds=1``.
"""

from __future__ import annotations

import json
import math
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from brb.sim.mixed_traffic import MixedShape, mixed_requests

SEED = 20261127


def poisson_arrivals(
    rng: random.Random, rate_at: Callable[[float], float], end_s: float, max_rate: float
) -> Iterator[float]:
    """Arrival times of a Poisson process with a time-varying rate (thinning)."""
    t = 0.0
    while True:
        t += rng.expovariate(max_rate)
        if t >= end_s:
            return
        if rng.random() * max_rate < rate_at(t):
            yield t


def session(rng: random.Random, prefix: str, pool: int, compliance_share: float = 0.0) -> str:
    if rng.random() < compliance_share:
        return f"compliance-{rng.randrange(40):03d}"
    return f"{prefix}-{rng.randrange(pool):05d}"


def tokens(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    return max(low, min(high, round(rng.lognormvariate(math.log(median), sigma))))


def black_friday(rng: random.Random) -> list[dict[str, object]]:
    background = 0.04  # requests/s; capacity is 1/15 = 0.067/s
    burst_start, burst_end, burst_rate = 2 * 3600.0, 2.75 * 3600.0, 0.40
    end = 6 * 3600.0

    def rate(t: float) -> float:
        return background + (burst_rate if burst_start <= t < burst_end else 0.0)

    out = []
    for t in poisson_arrivals(rng, rate, end, background + burst_rate):
        out_tokens = tokens(rng, 420, 0.25, 60, 1024)
        out.append(
            {
                "arrival_offset_s": round(t, 3),
                "model": "llama3.1:8b",
                "session": session(rng, "shop", 20000, 0.02),
                "prompt_tokens": tokens(rng, 1400, 0.5, 50, 16000),
                "output_tokens": out_tokens,
                # about 15 s: generation at ~30 tok/s plus prompt evaluation
                "service_s": round(out_tokens / 30 + rng.uniform(0.5, 1.5), 3),
            }
        )
    return out


def ordinary_day(rng: random.Random) -> list[dict[str, object]]:
    end = 24 * 3600.0

    def rate(t: float) -> float:
        hour = t / 3600
        office = max(0.0, math.sin(math.pi * (hour - 7) / 12)) if 7 <= hour <= 19 else 0.0
        lunch = 0.25 if 12.5 <= hour < 12.5 + 4 / 60 else 0.0  # a 4-minute spike
        return 0.006 + 0.09 * office + lunch

    out = []
    for t in poisson_arrivals(rng, rate, end, 0.36):
        is_code = rng.random() < 0.3
        out.append(
            {
                "arrival_offset_s": round(t, 3),
                "model": "qwen2.5-coder:7b" if is_code else "llama3.1:8b",
                "session": session(rng, "team", 300, 0.05),
                "prompt_tokens": tokens(rng, 2500 if is_code else 900, 0.6, 20, 30000),
                "output_tokens": tokens(rng, 160, 0.5, 5, 1024),
            }
        )
    return out


def flapping(rng: random.Random) -> list[dict[str, object]]:
    service = 10.0  # capacity 0.1/s
    end = 4 * 3600.0

    def rate(t: float) -> float:
        if t < 900:  # warm up to a queue of about five
            return 0.13
        # three minutes over capacity, three under, around the wait threshold
        return 0.125 if int((t - 900) // 180) % 2 == 0 else 0.075

    out = []
    for t in poisson_arrivals(rng, rate, end, 0.13):
        out.append(
            {
                "arrival_offset_s": round(t, 3),
                "model": "llama3.1:8b",
                "session": session(rng, "chat", 5000),
                "prompt_tokens": tokens(rng, 1000, 0.4, 50, 8000),
                "output_tokens": tokens(rng, 300, 0.3, 20, 1024),
                "service_s": service,
            }
        )
    return out


def mixed_documents(rng: random.Random) -> list[dict[str, object]]:
    shape = MixedShape()
    out = []
    for r in mixed_requests(shape, duration_s=900.0, seed=rng.randrange(2**32)):
        out.append(
            {
                "arrival_offset_s": r.arrival_offset_s,
                "model": "llama3.1:8b",
                "session": session(rng, "desk", 3000),
                "prompt_tokens": r.prompt_tokens,
                "output_tokens": r.reply_tokens,
                "prompt_eval_s": round(r.prompt_tokens * shape.prefill_s_per_token, 6),
                "eval_s": round(r.reply_tokens * shape.decode_s_per_token, 6),
                "load_s": shape.load_s,
            }
        )
    return out


def write(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, separators=(",", ":")) + "\n")
    print(f"{path}: {len(rows)} requests, {path.stat().st_size / 1e6:.2f} MB")


def main(argv: list[str]) -> None:
    outdir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "examples"
    outdir.mkdir(parents=True, exist_ok=True)
    for name, make in (
        ("black_friday", black_friday),
        ("ordinary_day", ordinary_day),
        ("flapping", flapping),
        ("mixed_documents", mixed_documents),
    ):
        write(outdir / f"{name}.jsonl", make(random.Random(f"{SEED}-{name}")))


if __name__ == "__main__":
    main(sys.argv)
