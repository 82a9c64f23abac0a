"""Reservations from several processes at once never overspend, and lose no row,
on an SQLite file and on PostgreSQL (processes standing in for a fleet's instances).

Six spawned processes x 40 reservations race for a $1.00 day; each accepted
reservation is then settled (for at most what was reserved), released, or
left open, as the daemon would. Afterwards the ledger must show:

* reserved + settled within the limit, for the final sums AND for every
  prefix of the rows in insertion order (amounts only ever shrink after a
  reservation, so each prefix bounds what the day held when that row went in);
* exactly one row per accepted reservation, none for a refused one;
* every attempt accounted for, with the status its process left it in.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from brb.adapters.ledger import Usage, to_micro
from brb.adapters.store import Store

PROCESSES = 6
PER_PROCESS = 40
LIMIT = Decimal("1.00")
DAY = date(2026, 11, 25)


@dataclass
class Outcome:
    refused: list[str] = field(default_factory=list)
    settled: dict[str, Decimal] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)
    reserved: dict[str, Decimal] = field(default_factory=dict)


def worker(args: tuple[str, int, float]) -> Outcome:
    path, seed, start_at = args
    rng = random.Random(seed)
    out = Outcome()
    with Store.open(path) as store:
        while time.time() < start_at:  # start together: maximum contention
            time.sleep(0.001)
        for i in range(PER_PROCESS):
            rid = f"p{seed}-{i}"
            amount = Decimal(rng.randint(20_000, 150_000)) / 1_000_000
            ok = store.ledger.reserve(
                rid,
                day=DAY,
                amount_usd=amount,
                limit_usd=LIMIT,
                at=datetime.now(UTC),
                cloud_model="claude-sonnet-5-5",
            )
            if not ok:
                out.refused.append(rid)
                continue
            fate = rng.random()
            if fate < 0.4:
                cost = (amount * Decimal(rng.randint(10, 100)) / 100).quantize(Decimal("0.000001"))
                store.ledger.settle(rid, cost_usd=cost, usage=Usage(100, 50), at=datetime.now(UTC))
                out.settled[rid] = cost
            elif fate < 0.7:
                store.ledger.release(rid, at=datetime.now(UTC), outcome="provider_error")
                out.released.append(rid)
            else:
                out.reserved[rid] = amount
    return out


def test_concurrent_reservations_never_exceed_the_limit(store_location: str) -> None:
    Store.open(store_location).close()  # create and migrate once, before the race
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 1.5  # after every process has imported brb
    with ctx.Pool(PROCESSES) as pool:
        outcomes = pool.map(worker, [(store_location, k, start_at) for k in range(PROCESSES)])

    settled = {k: v for o in outcomes for k, v in o.settled.items()}
    released = {rid for o in outcomes for rid in o.released}
    left_open = {k: v for o in outcomes for k, v in o.reserved.items()}
    refused = {rid for o in outcomes for rid in o.refused}
    accepted = set(settled) | released | set(left_open)

    attempts = PROCESSES * PER_PROCESS
    assert attempts >= 200
    assert len(accepted) + len(refused) == attempts
    assert len(refused) > attempts / 2  # the limit really was contended

    with Store.open(store_location) as store:
        rows = store.query(
            "SELECT id, request_id, status, reserved_micro_usd, cost_micro_usd "
            "FROM ledger ORDER BY id"
        )
        snap = store.ledger.snapshot(DAY, LIMIT)

    # One row per accepted reservation, none for a refused one, each as its process left it.
    ids = [r["request_id"] for r in rows]
    assert len(ids) == len(set(ids)) == len(accepted)
    assert set(ids) == accepted and not refused & set(ids)
    status = {r["request_id"]: r["status"] for r in rows}
    assert {k for k, s in status.items() if s == "settled"} == set(settled)
    assert {k for k, s in status.items() if s == "released"} == released
    assert {k for k, s in status.items() if s == "reserved"} == set(left_open)
    for r in rows:
        if r["status"] == "settled":
            assert r["cost_micro_usd"] == to_micro(settled[r["request_id"]])

    # Never past the limit: the final sums, and every prefix in insertion order.
    limit = to_micro(LIMIT)
    held = 0
    for r in rows:
        held += {
            "settled": r["cost_micro_usd"],
            "reserved": r["reserved_micro_usd"],
            "released": 0,
        }[r["status"]]
        assert held <= limit, f"over the limit after row {r['id']}: {held} > {limit}"
    assert snap.settled_usd == sum(settled.values(), Decimal(0))
    assert snap.reserved_usd == sum(left_open.values(), Decimal(0))
    assert snap.committed_usd <= LIMIT
