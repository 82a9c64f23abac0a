"""A request reserved before local midnight and settled after it counts on the day it
was reserved on: that day's budget alerts fire (dated that day), and the new day's
budget is untouched (issue 16, point 6). Frozen time, the daemon's own Spending,
StoreWriter, event sink and alerts listener, on a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from brb.adapters.store import Store
from brb.config import BrbConfig
from brb.core.alerts import EXHAUSTED_KEY
from brb.core.budget import budget_day
from brb.core.pricing import ModelPrice, Price, Usage
from brb.daemon.events import BudgetCrossed, EventSink
from brb.daemon.listeners.alerts import AlertsListener
from brb.daemon.spending import Spending
from brb.daemon.store_writer import StoreWriter

TZ = "America/New_York"  # the budget day is New York's date, not UTC's
LIMIT = Decimal("100")
# a dollar per output token: the settled cost is exactly the output tokens
DOLLAR_A_TOKEN = ModelPrice("m", Price(*(Decimal(1_000_000),) * 5))
BEFORE = datetime(2026, 3, 9, 23, 59, 59, tzinfo=ZoneInfo(TZ))  # 04:59:59 UTC on the 10th
AFTER = datetime(2026, 3, 10, 0, 0, 1, tzinfo=ZoneInfo(TZ))
RESERVE_DAY, NEXT_DAY = date(2026, 3, 9), date(2026, 3, 10)


def config() -> BrbConfig:
    return BrbConfig.model_validate(
        {
            "timezone": TZ,
            "budget": {"daily_limit_usd": str(LIMIT), "alert_at_percent": [50, 80, 100]},
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "brb.db") as s:
        yield s


def test_a_request_settled_after_midnight_alerts_on_the_day_it_was_reserved(
    store: Store,
) -> None:
    cfg = config()
    assert budget_day(BEFORE, cfg.tz) == RESERVE_DAY and budget_day(AFTER, cfg.tz) == NEXT_DAY
    crossed: list[BudgetCrossed] = []

    async def around_midnight(frozen: object) -> None:
        sink = EventSink()
        sink.bind(asyncio.get_running_loop())
        sink.subscribe(BudgetCrossed, crossed.append)
        writer = StoreWriter(store)
        alerts = AlertsListener(cfg, writer, datetime.now, sink)
        alerts.subscribe(sink)
        spending = Spending(cfg, writer, lambda: datetime.now(ZoneInfo(TZ)), sink)
        try:
            assert await spending.reserve("late", LIMIT, provider="anthropic")
            frozen.move_to(AFTER)  # type: ignore[attr-defined]
            cost = spending.settle("late", DOLLAR_A_TOKEN, Usage(0, 100), 1.0, "ok")
            assert cost == LIMIT
            await writer.drain()
            for _ in range(100):  # the crossing hops from the writer thread to the loop
                if crossed:
                    break
                await asyncio.sleep(0.05)
            await alerts.aclose()  # every alert admitted (marked once) by now
        finally:
            writer.close()

    with freeze_time(BEFORE, real_asyncio=True) as frozen:
        asyncio.run(around_midnight(frozen))

    (event,) = crossed
    assert event.day == RESERVE_DAY.isoformat()  # not the settle day
    assert event.percents == (50.0, 80.0, 100.0) and event.exhausted
    assert event.spent_usd == LIMIT
    # each alert was admitted once, under the reserve day's date
    assert store.alerts_fired(RESERVE_DAY.isoformat()) >= {
        "budget:50",
        "budget:80",
        "budget:100",
        EXHAUSTED_KEY,
    }
    assert not store.alerts_fired(NEXT_DAY.isoformat())
    # the cost is on the reserve day; the new day's budget is untouched
    assert store.ledger.snapshot(RESERVE_DAY, LIMIT).settled_usd == LIMIT
    fresh = store.ledger.snapshot(NEXT_DAY, LIMIT)
    assert (fresh.settled_usd, fresh.reserved_usd, fresh.is_exhausted) == (0, 0, False)
    assert store.ledger.reserve("next", day=NEXT_DAY, amount_usd=LIMIT, limit_usd=LIMIT, at=AFTER)
