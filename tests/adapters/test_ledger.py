"""brb.adapters.ledger on both backends (an SQLite file and a real PostgreSQL
database: the ``store`` fixture): reserve, settle, release, and the reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from brb.adapters.ledger import Usage, from_micro, to_micro
from brb.adapters.store import Store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = date(2026, 11, 25)
LIMIT = Decimal("1.00")


def reserve(
    store: Store, rid: str, amount: str, *, day: date = DAY, limit: Decimal = LIMIT, **kw: str
) -> bool:
    return store.ledger.reserve(
        rid, day=day, amount_usd=Decimal(amount), limit_usd=limit, at=T0, **kw
    )


def test_micro_dollars_round_up_and_back() -> None:
    assert to_micro(Decimal("0.0000001")) == 1  # a reservation never under-counts
    assert to_micro(Decimal("1.234567")) == 1_234_567
    assert from_micro(1_234_567) == Decimal("1.234567") and from_micro(None) == Decimal(0)


def test_reserve_up_to_the_limit_and_no_further(store: Store) -> None:
    assert reserve(store, "a", "0.60")
    assert not reserve(store, "b", "0.41")
    assert reserve(store, "c", "0.40")  # exactly to the limit
    assert not reserve(store, "d", "0.000001")
    snap = store.ledger.snapshot(DAY, LIMIT)
    assert snap.reserved_usd == Decimal("1.00") and snap.settled_usd == 0 and snap.is_exhausted
    # A refused reservation leaves no row.
    assert [r["request_id"] for r in store.query("SELECT request_id FROM ledger ORDER BY id")] == [
        "a",
        "c",
    ]


def test_settle_frees_the_difference(store: Store) -> None:
    assert reserve(store, "a", "0.90", cloud_model="claude-sonnet-5-5")
    store.ledger.settle(
        "a",
        cost_usd=Decimal("0.123456"),
        usage=Usage(1000, 200, 10, 20),
        at=T0 + timedelta(seconds=3),
        latency_s=2.5,
    )
    snap = store.ledger.snapshot(DAY, LIMIT)
    assert snap.settled_usd == Decimal("0.123456") and snap.reserved_usd == 0
    assert reserve(store, "b", "0.876544")  # exactly what is left
    assert not reserve(store, "c", "0.000001")
    row = store.query("SELECT * FROM ledger WHERE request_id = 'a'")[0]
    assert (
        row["status"],
        row["input_tokens"],
        row["output_tokens"],
        row["cache_write_tokens"],
        row["cache_read_tokens"],
        row["latency_s"],
        row["outcome"],
    ) == ("settled", 1000, 200, 10, 20, 2.5, "ok")
    assert store.ledger.diverted_count(DAY) == 1


def test_release_gives_it_all_back(store: Store) -> None:
    assert reserve(store, "a", "1.00")
    assert not reserve(store, "b", "0.01")
    store.ledger.release("a", at=T0, outcome="provider_error")
    assert reserve(store, "b", "1.00")
    assert store.ledger.diverted_count(DAY) == 0
    # Releasing a settled row changes nothing.
    store.ledger.settle("b", cost_usd=Decimal("0.5"), usage=Usage(), at=T0)
    store.ledger.release("b", at=T0, outcome="late")
    assert store.ledger.snapshot(DAY, LIMIT).settled_usd == Decimal("0.5")


def test_days_are_separate(store: Store) -> None:
    assert reserve(store, "a", "1.00")
    assert reserve(store, "b", "1.00", day=DAY + timedelta(days=1))
    assert store.ledger.snapshot(DAY + timedelta(days=1), LIMIT).reserved_usd == Decimal(1)


def settle_rows(store: Store, rows: list[tuple[str, date, str, str, str, str]]) -> None:
    for rid, day, model, provider, session, cost in rows:
        assert reserve(
            store,
            rid,
            "0.5",
            day=day,
            limit=Decimal(100),
            cloud_model=model,
            provider=provider,
            session=session,
        )
        store.ledger.settle(rid, cost_usd=Decimal(cost), usage=Usage(10, 5), at=T0)


ROWS = [
    ("r1", DAY, "claude-sonnet-5-5", "anthropic", "s1", "0.004999"),
    ("r2", DAY, "claude-sonnet-5-5", "anthropic", "s2", "0.004999"),
    ("r3", DAY, "claude-haiku-5-5", "anthropic", "s1", "0.000001"),
    ("r4", DAY - timedelta(days=1), "claude-haiku-5-5", "anthropic", "s1", "0.333333"),
]


def test_spend_by_each_key_adds_up(store: Store) -> None:
    settle_rows(store, ROWS)
    assert reserve(store, "open", "0.5", limit=Decimal(100))  # unsettled: not spend
    since = DAY - timedelta(days=6)
    for by in ("day", "model", "provider", "session"):
        report = store.ledger.spend(since_day=since, until_day=DAY, by=by)  # type: ignore[arg-type]
        assert report["total_usd"] == Decimal("0.343332")
        assert sum(r["cost_usd"] for r in report["rows"]) == report["total_usd"]
        assert report["requests"] == 4 == sum(r["requests"] for r in report["rows"])
    by_model = store.ledger.spend(since_day=since, until_day=DAY, by="model")
    assert [(r["model"], r["requests"], r["cost_usd"]) for r in by_model["rows"]] == [
        ("claude-haiku-5-5", 2, Decimal("0.333334")),
        ("claude-sonnet-5-5", 2, Decimal("0.009998")),
    ]
    today = store.ledger.spend(since_day=DAY, until_day=DAY, by="day")
    assert today["total_usd"] == Decimal("0.009999") and today["requests"] == 3


def test_rows_between(store: Store) -> None:
    settle_rows(store, ROWS[:2])
    assert [r["request_id"] for r in store.ledger.rows_between(T0)] == ["r1", "r2"]
    assert store.ledger.rows_between(T0 + timedelta(seconds=1)) == []


def test_reconcile_settles_only_stale_reservations_at_their_worst_case(store: Store) -> None:
    old = T0 - timedelta(hours=2)
    assert store.ledger.reserve(
        "crashed", day=DAY, amount_usd=Decimal("0.30"), limit_usd=LIMIT, at=old, provider="p"
    )
    assert reserve(store, "in-flight", "0.20")  # at T0: may still be running
    assert reserve(store, "done", "0.10")
    store.ledger.settle("done", cost_usd=Decimal("0.01"), usage=Usage(1, 1), at=T0)
    settled = store.ledger.reconcile_stale(older_than=T0 - timedelta(minutes=5), at=T0)
    assert settled == [
        {
            "request_id": "crashed",
            "day": DAY.isoformat(),
            "provider": "p",
            "cost_micro_usd": 300_000,
        }
    ]
    rows = {r["request_id"]: r for r in store.query("SELECT * FROM ledger")}
    assert (rows["crashed"]["status"], rows["crashed"]["cost_micro_usd"]) == ("settled", 300_000)
    assert rows["crashed"]["outcome"] == "reconciled_worst_case"
    assert rows["in-flight"]["status"] == "reserved"
    assert rows["done"]["cost_micro_usd"] == 10_000  # a settled row keeps its real cost
    snap = store.ledger.snapshot(DAY, LIMIT)
    assert (snap.settled_usd, snap.reserved_usd) == (Decimal("0.31"), Decimal("0.20"))
    assert store.ledger.reconcile_stale(older_than=T0, at=T0) == []  # nothing twice
