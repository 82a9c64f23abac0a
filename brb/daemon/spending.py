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

A reservation the store can't take (locked, full, unreachable) raises a
StoreError: the request stays local (``store_unavailable``), never a 500.
The first failure of an outage logs once and publishes
:class:`~brb.daemon.events.StoreUnavailable` (one alert, not one per
request); for a few seconds after a failed write every reservation fails at
once (the store writer's rule), so no request waits out SQLite's busy
timeout behind another. A reservation whose request was cancelled while
waiting is released right after it (the writer runs its calls in order).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from brb.config import BrbConfig
from brb.core import pricing
from brb.core.alerts import EXHAUSTED_KEY
from brb.core.budget import budget_day, crossed_alerts
from brb.core.pricing import Usage
from brb.daemon.events import BudgetCrossed, EventSink, StoreUnavailable
from brb.daemon.store_writer import StoreWriter
from brb.errors import StoreError

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
        self._down_since: float | None = None  # monotonic: this outage's first failure

    def is_store_down(self) -> bool:
        """The store failed a write moments ago: don't try (nor wait) again yet."""
        return self.writer.is_store_down()

    async def reserve(self, request_id: str, worst_usd: Decimal, **row: str) -> bool:
        """Reserve the worst case on today's budget; False: it doesn't fit, stay local.
        Raises StoreError when the store can't take it (stay local: ``store_unavailable``)."""
        at = self.clock()
        day = budget_day(at, self.cfg.tz)
        call = asyncio.ensure_future(
            self.writer.call(
                self.writer.store.ledger.reserve,
                request_id,
                day=day,
                amount_usd=worst_usd,
                limit_usd=self.cfg.budget.daily_limit_usd,
                at=at,
                **row,
            )  # fmt: skip
        )
        call.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved
        try:
            ok = await asyncio.shield(call)
        except StoreError as exc:
            self._store_failed(exc)
            raise
        except asyncio.CancelledError:  # the client left while it was on its way
            self.release(request_id, "client_gone")  # right after it: a no-op if it failed
            raise
        if self._down_since is not None:
            log.warning("the brb database takes reservations again (after %.0fs): diverting",
                        time.monotonic() - self._down_since)  # fmt: skip
            self._down_since = None
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

        self.writer.submit_money(write)
        return cost

    def release(self, request_id: str, outcome: str) -> None:
        """The provider failed before charging: give the reservation back."""
        self.writer.submit_money(
            self.writer.store.ledger.release, request_id, at=self.clock(), outcome=outcome
        )

    def _store_failed(self, exc: StoreError) -> None:
        """Diversions stay local for a while; the first failure of an outage says so
        once (a log line, an event, so one alert)."""
        now = time.monotonic()
        if self._down_since is not None:
            log.debug("reservation refused by the store (still down): %s", exc)
            return
        self._down_since = now
        log.warning(
            "can't reserve (%s): diverted requests stay local (store_unavailable) until the "
            "brb database takes reservations again", exc,
        )  # fmt: skip
        self.sink.publish(StoreUnavailable(self.clock(), self.writer.store.label, str(exc)))

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
