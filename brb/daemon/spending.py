"""The daemon's side of the money rules: reserve, settle, release, report.

Owns a diverted request's reservation lifecycle against the ledger on the
store writer's thread: the worst case is reserved (and awaited: it must be on
disk before the first byte leaves), the real usage settles it, a failure
releases it; after each, the day's spend is checked against the alert
percentages and exhaustion (the day the reservation was taken on: a request
reserved before midnight and settled after it counts on, and alerts for,
the day before), and crossings are published (once) as
:class:`~brb.daemon.events.BudgetCrossed`. A request the
remaining budget can't cover simply stays local.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from brb.config import BrbConfig
from brb.core import pricing
from brb.core.alerts import EXHAUSTED_KEY
from brb.core.budget import budget_day, crossed_alerts
from brb.core.pricing import Usage
from brb.daemon.events import BudgetCrossed, EventSink
from brb.daemon.store_writer import StoreWriter

log = logging.getLogger(__name__)


class Spending:
    def __init__(
        self,
        cfg: BrbConfig,
        writer: StoreWriter,
        clock: Callable[[], datetime],
        sink: EventSink,
    ) -> None:
        self.cfg = cfg
        self.writer = writer
        self.clock = clock
        self.sink = sink

    async def reserve(self, request_id: str, worst_usd: Decimal, **row: str) -> bool:
        """Reserve the worst case on today's budget; False: it doesn't fit, stay local."""
        at = self.clock()
        day = budget_day(at, self.cfg.tz)
        ok = await self.writer.call(
            self.writer.store.ledger.reserve,
            request_id,
            day=day,
            amount_usd=worst_usd,
            limit_usd=self.cfg.budget.daily_limit_usd,
            at=at,
            **row,
        )
        if not ok:
            log.info("budget can't cover $%s for this request: it stays local", worst_usd)
            self.writer.submit(self._check, day, at)
        return bool(ok)

    def settle(
        self,
        request_id: str,
        price: pricing.ModelPrice,
        usage: Usage,
        latency_s: float,
        outcome: str,
    ) -> Decimal:
        """Replace the reservation with the real cost (written off the loop); the cost."""
        at = self.clock()
        cost = pricing.usage_cost_usd(price, usage)

        def write() -> None:
            day = self.writer.store.ledger.settle(
                request_id, cost_usd=cost, usage=usage, at=at, latency_s=latency_s,
                outcome=outcome,
            )  # fmt: skip
            # The cost counts on the day it was reserved on: a request reserved before
            # midnight and settled after it crosses that day's alerts, not the new day's.
            self._check(day or budget_day(at, self.cfg.tz), at)

        self.writer.submit(write)
        return cost

    def release(self, request_id: str, outcome: str) -> None:
        """The provider failed before charging: give the reservation back."""
        self.writer.submit(
            self.writer.store.ledger.release, request_id, at=self.clock(), outcome=outcome
        )

    def _check(self, day: date, at: datetime) -> None:
        """On the writer thread: report alert percentages crossed by settled spend,
        and exhaustion (not even a cent can be reserved), each not yet fired today."""
        store = self.writer.store
        snap = store.ledger.snapshot(day, self.cfg.budget.daily_limit_usd)
        keys = store.alerts_fired(day.isoformat())
        fired = [p for p in self.cfg.budget.alert_at_percent if f"budget:{p:g}" in keys]
        crossed = crossed_alerts(
            snap.settled_usd, snap.limit_usd, self.cfg.budget.alert_at_percent, fired
        )
        exhausted = snap.is_exhausted and EXHAUSTED_KEY not in keys
        if crossed or exhausted:
            self.sink.publish(  # from the writer thread: the sink hops to the loop
                BudgetCrossed(
                    at, day.isoformat(), tuple(crossed), snap.settled_usd, snap.limit_usd, exhausted
                )
            )
