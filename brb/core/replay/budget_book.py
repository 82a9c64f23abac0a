"""The simulated cloud budget: reservations and settlements per budget day.

Owns the in-memory stand-in for the store's ledger during a replay: the
worst case is reserved before a diverted request leaves, the real cost is
settled when it completes, and the money rules (which day, what is left,
which alerts fire) come from :mod:`brb.core.budget`, the code the daemon
uses. Must not decide routing or read the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal

from brb.core.budget import BudgetSnapshot, budget_day, crossed_alerts


@dataclass(slots=True)
class _Day:
    settled_usd: Decimal = Decimal(0)
    reserved_usd: Decimal = Decimal(0)
    alerts_fired: set[float] = field(default_factory=set)
    is_exhausted_reported: bool = False


class BudgetBook:
    __slots__ = ("_days", "alert_at_percent", "limit_usd", "tz")

    def __init__(self, limit_usd: Decimal, tz: tzinfo, alert_at_percent: tuple[float, ...]) -> None:
        self.limit_usd = limit_usd
        self.tz = tz
        self.alert_at_percent = alert_at_percent
        self._days: dict[date, _Day] = {}

    def _day(self, day: date) -> _Day:
        return self._days.setdefault(day, _Day())

    def snapshot(self, day: date) -> BudgetSnapshot:
        d = self._day(day)
        return BudgetSnapshot(day, self.limit_usd, d.settled_usd, d.reserved_usd)

    def day_of(self, now: datetime) -> date:
        return budget_day(now, self.tz)

    def reserve(self, now: datetime, amount_usd: Decimal) -> date | None:
        """Reserve ``amount_usd`` on ``now``'s budget day; the day, or None if
        the remaining budget can't cover it."""
        day = self.day_of(now)
        if not self.snapshot(day).can_reserve(amount_usd):
            return None
        self._day(day).reserved_usd += amount_usd
        return day

    def settle(self, day: date, reserved_usd: Decimal, cost_usd: Decimal) -> list[float]:
        """Turn a reservation into the real cost; the alert percentages that
        this settlement crossed (each fires once a day)."""
        d = self._day(day)
        d.reserved_usd -= reserved_usd
        d.settled_usd += cost_usd
        crossed = crossed_alerts(
            d.settled_usd, self.limit_usd, self.alert_at_percent, d.alerts_fired
        )
        d.alerts_fired.update(crossed)
        return crossed

    def mark_exhausted(self, day: date) -> bool:
        """Record that ``day`` ran out; True the first time only."""
        d = self._day(day)
        if d.is_exhausted_reported:
            return False
        d.is_exhausted_reported = True
        return True

    @property
    def settled_usd(self) -> Decimal:
        return sum((d.settled_usd for d in self._days.values()), Decimal(0))
