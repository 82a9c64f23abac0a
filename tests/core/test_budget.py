"""brb.core.budget: the budget day, what is left, and alerts firing once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from brb.core.budget import BudgetSnapshot, budget_day, crossed_alerts

NY = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("utc", "tz", "day"),
    [
        # 23:30 in New York (EST, UTC-5) is 04:30 UTC the next day: still the 24th there.
        (datetime(2026, 11, 25, 4, 30, tzinfo=UTC), NY, date(2026, 11, 24)),
        (datetime(2026, 11, 25, 4, 59, 59, tzinfo=UTC), NY, date(2026, 11, 24)),
        (datetime(2026, 11, 25, 5, 0, tzinfo=UTC), NY, date(2026, 11, 25)),  # local midnight
        # Summer time (EDT, UTC-4): midnight is an hour earlier in UTC.
        (datetime(2026, 7, 1, 3, 59, tzinfo=UTC), NY, date(2026, 6, 30)),
        (datetime(2026, 7, 1, 4, 0, tzinfo=UTC), NY, date(2026, 7, 1)),
        # The DST change days (2026-03-08 in New York, 2026-03-29 in London).
        (datetime(2026, 3, 8, 4, 59, tzinfo=UTC), NY, date(2026, 3, 7)),
        (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), NY, date(2026, 3, 8)),
        (datetime(2026, 3, 9, 3, 59, tzinfo=UTC), NY, date(2026, 3, 8)),
        (datetime(2026, 3, 9, 4, 0, tzinfo=UTC), NY, date(2026, 3, 9)),
        (datetime(2026, 3, 29, 23, 30, tzinfo=UTC), LONDON, date(2026, 3, 30)),  # BST
        # East of UTC the local day starts before the UTC one.
        (datetime(2026, 11, 25, 15, 30, tzinfo=UTC), TOKYO, date(2026, 11, 26)),
        (datetime(2026, 11, 25, 14, 59, tzinfo=UTC), TOKYO, date(2026, 11, 25)),
        (datetime(2026, 11, 25, 23, 59, tzinfo=UTC), UTC, date(2026, 11, 25)),
    ],
)
def test_budget_day_is_the_local_calendar_day(utc: datetime, tz: ZoneInfo, day: date) -> None:
    assert budget_day(utc, tz) == day
    # The same instant written in another zone is the same budget day.
    assert budget_day(utc.astimezone(TOKYO), tz) == day


def test_budget_day_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        budget_day(datetime(2026, 11, 25, 12, 0), UTC)


def snap(settled: str, reserved: str, limit: str = "10.00") -> BudgetSnapshot:
    return BudgetSnapshot(date(2026, 11, 25), Decimal(limit), Decimal(settled), Decimal(reserved))


def test_snapshot_arithmetic_is_decimal() -> None:
    s = snap("3.10", "0.20")
    assert s.committed_usd == Decimal("3.30")
    assert s.remaining_usd == Decimal("6.70")
    assert isinstance(s.remaining_usd, Decimal)
    assert s.percent_used == pytest.approx(31.0)
    assert not s.is_exhausted
    assert s.can_reserve(Decimal("6.70"))  # exactly to the limit is allowed
    assert not s.can_reserve(Decimal("6.700001"))


@pytest.mark.parametrize(
    ("settled", "reserved", "exhausted", "remaining"),
    [
        ("9.99", "0", False, "0.01"),
        ("9.991", "0", True, "0.009"),  # less than a cent left: nothing can be diverted
        ("9.00", "1.00", True, "0"),  # open reservations count
        ("12.00", "0", True, "0"),  # over (a settle above its reservation): never negative
    ],
)
def test_exhaustion(settled: str, reserved: str, exhausted: bool, remaining: str) -> None:
    s = snap(settled, reserved)
    assert s.is_exhausted is exhausted
    assert s.remaining_usd == Decimal(remaining)


def test_zero_limit_is_exhausted_and_fully_used() -> None:
    s = snap("0", "0", limit="0")
    assert s.is_exhausted and s.percent_used == 100.0


def test_each_alert_fires_once_as_spend_climbs() -> None:
    limit = Decimal("100.00")
    percents = [50.0, 80.0, 100.0]
    fired: list[float] = []
    fired_at: dict[float, str] = {}
    for spent in ["10", "49.99", "50.00", "50.01", "79", "80", "95", "100", "120", "130"]:
        new = crossed_alerts(Decimal(spent), limit, percents, fired)
        for p in new:
            fired_at[p] = spent
        fired.extend(new)
    assert fired == [50.0, 80.0, 100.0]
    assert fired_at == {50.0: "50.00", 80.0: "80", 100.0: "100"}


def test_alerts_jumped_over_fire_together_lowest_first() -> None:
    assert crossed_alerts(Decimal("99"), Decimal("100"), [80, 50, 90], []) == [50, 80, 90]
    assert crossed_alerts(Decimal("99"), Decimal("100"), [80, 50, 90], [50]) == [80, 90]
    assert crossed_alerts(Decimal("99"), Decimal("100"), [80.0, 80], []) == [80]


def test_fractional_percentages_and_no_limit() -> None:
    assert crossed_alerts(Decimal("33.29"), Decimal("100"), [33.3], []) == []
    assert crossed_alerts(Decimal("33.30"), Decimal("100"), [33.3], []) == [33.3]
    assert crossed_alerts(Decimal("5"), Decimal("0"), [80], []) == []
