"""The replay's cloud side: what a diverted request reserves, what it settles, what it notes.

Owns the money of the replay's diversions, as the daemon's cloud leg does it:
the worst case reserved on the budget day before a request leaves (never less
than the tokens it evidently got), its real cost settled when it completes,
the budget alerts and exhaustion that puts on the timeline, and the spend
series. The money rules are :class:`~brb.core.replay.budget_book.BudgetBook`'s
(:mod:`brb.core.budget`'s, the daemon's). Must not decide routing or read the
clock: the simulator passes the simulated time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from brb.core.pricing import ModelPrice, cost_usd, worst_case_usd
from brb.core.replay.budget_book import BudgetBook
from brb.core.replay.run import SimParams
from brb.core.replay.trace import TraceRecord

# Puts an entry on the run's timeline: (simulated seconds, kind, reason).
Note = Callable[[float, str, str], None]


class CloudSide:
    """The budget book, the reservations of the requests out in the cloud, the spend."""

    def __init__(self, params: SimParams, note: Note) -> None:
        self.p = params
        self.note = note
        self.book = BudgetBook(params.daily_limit_usd, params.tz, params.alert_at_percent)
        self.reserved: dict[int, tuple[date, Decimal]] = {}
        self.spend_series: list[tuple[float, Decimal]] = [(0.0, Decimal(0))]

    def reserve(
        self, t: float, now: datetime, index: int, rec: TraceRecord, price: ModelPrice
    ) -> bool:
        """Reserve request ``index``'s worst case; False when the day's budget can't."""
        # The client evidently allowed as many tokens as it got: never reserve less.
        worst = worst_case_usd(
            price,
            input_tokens=rec.prompt_tokens,
            max_tokens=max(self.p.max_tokens, rec.output_tokens),
        )
        day = self.book.reserve(now, worst)
        if day is None:
            day = self.book.day_of(now)
            if self.book.mark_exhausted(day):
                left = self.book.snapshot(day).remaining_usd
                self.note(
                    t,
                    "budget_exhausted",
                    f"${left:.2f} left of ${self.p.daily_limit_usd:.2f} can't cover a "
                    f"${worst:.4f} worst case: diversion stops ({day})",
                )
            return False
        self.reserved[index] = (day, worst)
        if self.book.snapshot(day).is_exhausted and self.book.mark_exhausted(day):
            self.note(
                t,
                "budget_exhausted",
                f"${self.p.daily_limit_usd:.2f} daily budget fully committed ({day})",
            )
        return True

    def settle(self, t: float, index: int, rec: TraceRecord, price: ModelPrice) -> Decimal:
        """Request ``index`` came back from the cloud at ``t``: its real cost."""
        cost = cost_usd(price, input_tokens=rec.prompt_tokens, output_tokens=rec.output_tokens)
        day, reserved = self.reserved.pop(index)
        for percent in self.book.settle(day, reserved, cost):
            self.note(
                t,
                "budget_alert",
                f"{percent:g}% of the ${self.p.daily_limit_usd:.2f} daily budget spent ({day})",
            )
        self.spend_series.append((t, self.book.settled_usd))
        return cost

    @property
    def settled_usd(self) -> Decimal:
        return self.book.settled_usd
