"""What the capacity advice costs: a week of traffic replayed whole vs its busy stretches.

Builds a synthetic week (a quiet day, one request every 12 s on average, 2-6 s
each, with an hour's burst every evening, one every 1.5 s; 2 slots, wait
threshold 20 s, the waiting room on), replays it once to stand in for the
recorded log (its waits and diversions mark the busy stretches, as the
daemon's log would), then times :func:`brb.core.capacity.advise` on the whole
week and on the busy stretches only, and prints both answers (they should
agree) and the CPU each took. The daemon runs this in a worker process every
``capacity.refresh_seconds`` while traffic flows; ``brb incidents`` runs it on
the spot.

    python bench/capacity_advice.py [--days 7] [--seed 2]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from brb.core.breaker import Thresholds
from brb.core.capacity import CapacityAdvice, advise, is_busy
from brb.core.replay import SimParams, TraceRecord, simulate

THRESHOLD_S = 20.0
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def week(days: int, seed: int) -> list[TraceRecord]:
    rng = random.Random(seed)
    out, t = [], 0.0
    while t < days * 86400:
        evening = 18 <= (t % 86400) / 3600 < 19
        t += rng.expovariate(1 / 1.5 if evening else 1 / 12.0)
        out.append(TraceRecord(t, "llama3", "", 300, rng.randint(50, 400), rng.uniform(2, 6)))
    return out


def timed(label: str, run: object) -> CapacityAdvice:
    t0 = time.process_time()
    advice = run()  # type: ignore[operator]
    cpu = time.process_time() - t0
    runs = ", ".join(f"+{r.extra_slots}: {r.wait_diverted}" for r in advice.runs)
    print(f"{label:<16} replayed {advice.replayed:>6}  cpu {cpu:7.1f}s  overflow by slots: {runs}")
    return advice


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=2)
    args = ap.parse_args()
    records = week(args.days, args.seed)
    params = SimParams(thresholds=Thresholds(50, THRESHOLD_S), slots=2, waiting_room=True)
    recorded = {o.index: o for o in simulate(records, params).outcomes}
    busy = [
        is_busy(is_local=recorded[i].backend == "local", wait_s=recorded[i].wait_s,
                wait_threshold_s=THRESHOLD_S)
        for i in range(len(records))
    ]  # fmt: skip
    common = {"since": NOW - timedelta(days=args.days), "until": NOW,
              "button_cost_usd": Decimal(0), "recorded_diverted": 0}  # fmt: skip
    print(f"{len(records)} requests over {args.days} days, {sum(busy)} marked busy")
    timed("whole window", lambda: advise(records, params, **common))  # type: ignore[arg-type]
    timed("busy stretches", lambda: advise(records, params, busy=busy, **common))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
