"""The daily cloud budget: which day it is, what is left, when to alert.

Owns the money rules that don't need a database: the budget day is the
calendar day in the configured timezone; what remains is the limit minus
settled spend minus open reservations; each alert percentage fires once per
day when spend first crosses it. Must not read the clock or the store: the
store does the atomic reserve/settle, this module does the arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal


def budget_day(now: datetime, tz: tzinfo) -> date:
    """The calendar day, in the budget's timezone, that ``now`` falls on."""
    if now.tzinfo is None:
        raise ValueError("budget_day needs a timezone-aware datetime")
    return now.astimezone(tz).date()


@dataclass(frozen=True, slots=True)
class BudgetSnapshot:
    day: date
    limit_usd: Decimal
    settled_usd: Decimal
    reserved_usd: Decimal

    @property
    def committed_usd(self) -> Decimal:
        return self.settled_usd + self.reserved_usd

    @property
    def remaining_usd(self) -> Decimal:
        return max(Decimal(0), self.limit_usd - self.committed_usd)

    @property
    def is_exhausted(self) -> bool:
        """True when not even a cent can be reserved any more."""
        return self.limit_usd - self.committed_usd < Decimal("0.01")

    def can_reserve(self, amount_usd: Decimal) -> bool:
        return self.committed_usd + amount_usd <= self.limit_usd

    @property
    def percent_used(self) -> float:
        if self.limit_usd <= 0:
            return 100.0
        return float(self.settled_usd / self.limit_usd * 100)


def crossed_alerts(
    spent_usd: Decimal,
    limit_usd: Decimal,
    alert_percents: Iterable[float],
    already_fired: Iterable[float],
) -> list[float]:
    """The alert percentages that ``spent_usd`` has reached and that have not
    fired yet today, lowest first."""
    fired = set(already_fired)
    if limit_usd <= 0:
        return []
    used = spent_usd / limit_usd * 100
    return sorted(p for p in set(alert_percents) if p not in fired and used >= Decimal(str(p)))
