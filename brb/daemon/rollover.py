"""The daily rollover: noticing that a new budget day has begun.

Owns detecting the change of budget day (the calendar day in the
configured timezone), recording it once as a ``rollover`` event (detail
``{day, previous_day, previous_spend_usd}``) and publishing it as a
:class:`~brb.daemon.events.RolledOver` event (the alerts listener sends the
rollover alert, the pruner prunes). Must not compute money rules itself
(:mod:`brb.core.budget` does) nor send alerts.

Money never depends on this job: the ledger is keyed by budget day, so
today's spend is right even if nothing runs at midnight. "Clearing the
exhausted state" therefore needs no write: the exhausted state *is* the
budget snapshot of the day (:attr:`BudgetSnapshot.is_exhausted`), and the
new day's snapshot starts with nothing spent; the once-a-day alert keys are
keyed by day too, so they re-arm by themselves. What the rollover does is
hand the daemon the new day's snapshot (:attr:`RolledOver.budget`) so it
drops whatever it cached from yesterday (the exhausted flag, the metrics'
budget gauges) at once, rather than on the next request.

The day last seen is persisted through the store (the last ``rollover``
event; before the first one, the newest event of an earlier day), so a
daemon that was down over midnight records the reset once when it starts,
and a restart within the day records nothing. The job runs every minute and
once at start: ``CronTrigger(hour=0)`` is not used because APScheduler 3.11
skips a midnight on DST change days.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from brb.core.budget import BudgetSnapshot, budget_day
from brb.daemon.events import EventSink, RolledOver

if TYPE_CHECKING:
    from apscheduler.job import Job
    from apscheduler.schedulers.base import BaseScheduler

    from brb.adapters.store import Store
    from brb.config import BrbConfig

log = logging.getLogger(__name__)

EVENT_KIND = "rollover"
JOB_ID = "brb-rollover"
CHECK_EVERY = timedelta(minutes=1)
# alerts_fired key that makes recording a day's rollover happen once, even
# with two processes racing (INSERT OR IGNORE on (day, key)).
_ONCE_KEY = "rollover.recorded"


@dataclass(frozen=True, slots=True)
class Rollover:
    at: datetime
    day: date
    previous_day: date
    previous_spend_usd: Decimal
    budget: BudgetSnapshot  # the new day's: nothing spent yet, unless the day began a while ago

    def detail(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "previous_day": self.previous_day.isoformat(),
            "previous_spend_usd": float(self.previous_spend_usd),
        }


class RolloverWatch:
    """Notices the budget day change; records it once; publishes :class:`RolledOver`."""

    def __init__(self, cfg: BrbConfig, store: Store, sink: EventSink | None = None) -> None:
        self._cfg = cfg
        self._store = store
        self._sink = sink
        self._last_day: date | None = None

    def last_day(self, today: date) -> date:
        """The budget day brb last saw: remembered, else from the store."""
        if self._last_day is None:
            self._last_day = self._day_on_disk(today)
        return self._last_day

    def _day_on_disk(self, today: date) -> date:
        last = self._store.events(kinds=[EVENT_KIND], limit=1, newest_first=True)
        if last:
            try:
                return date.fromisoformat(str(last[0].detail["day"]))
            except (KeyError, ValueError):
                return budget_day(last[0].at, self._cfg.tz)
        # No rollover recorded yet: the newest thing that happened before today
        # began says which day brb last lived through (none: a fresh install).
        tz = self._cfg.tz
        midnight = datetime.combine(today, time(0), tzinfo=tz).astimezone(UTC)
        earlier = self._store.events(until=midnight, limit=1, newest_first=True)
        return budget_day(earlier[0].at, tz) if earlier else today

    def check(self, now: datetime) -> Rollover | None:
        """The rollover due at ``now``, if a new budget day has begun; writes nothing."""
        today = budget_day(now, self._cfg.tz)
        previous = self.last_day(today)
        if today <= previous:  # same day, or the clock stepped back: nothing to do
            return None
        limit = self._cfg.budget.daily_limit_usd
        ledger = self._store.ledger
        return Rollover(
            now,
            today,
            previous,
            ledger.snapshot(previous, limit).settled_usd,
            ledger.snapshot(today, limit),
        )

    def record(self, now: datetime) -> Rollover | None:
        """:meth:`check`, then record the event: at most once per day, across processes."""
        r = self.check(now)
        if r is None:
            return None
        self._last_day = r.day
        if not self._store.mark_alert_once(r.day.isoformat(), _ONCE_KEY, now):
            return None  # another process (an earlier run of this daemon) recorded it
        self._store.add_event(
            EVENT_KIND,
            at=now,
            source="scheduler",
            who="brb",
            reason=f"budget day {r.day} began; {r.previous_day} spent ${r.previous_spend_usd:.2f}",
            detail=r.detail(),
        )
        log.info(
            "budget day %s began (%s spent $%.2f)", r.day, r.previous_day, r.previous_spend_usd
        )
        return r

    async def run(self, now: datetime | None = None) -> Rollover | None:
        """The scheduled job: record a due rollover and publish it. The store work runs
        on a worker thread: the loop never waits on SQLite's busy timeout."""
        r = await asyncio.to_thread(self.record, now if now is not None else datetime.now(UTC))
        if r is not None and self._sink is not None:
            self._sink.publish(
                RolledOver(r.at, r.day, r.previous_day, r.previous_spend_usd, r.budget)
            )
        return r

    def start(self, scheduler: BaseScheduler) -> Job:
        """Run :meth:`run` once as soon as ``scheduler`` runs, then every minute."""
        from apscheduler.triggers.interval import IntervalTrigger

        return scheduler.add_job(
            self.run,
            IntervalTrigger(seconds=CHECK_EVERY.total_seconds(), timezone=UTC),
            id=JOB_ID,
            name="daily budget rollover",
            next_run_time=datetime.now(UTC),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(CHECK_EVERY.total_seconds()),
            replace_existing=True,
        )
