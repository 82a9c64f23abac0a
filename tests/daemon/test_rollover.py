"""The daily rollover under frozen time: local midnights, DST days, downtime."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import lock_waiters
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from freezegun import freeze_time

from brb.adapters.ledger import Usage
from brb.adapters.store import Store
from brb.config import BrbConfig
from brb.daemon.events import EventSink, RolledOver
from brb.daemon.rollover import Rollover, RolloverWatch


def config(tz: str) -> BrbConfig:
    return BrbConfig.model_validate({"timezone": tz, "budget": {"daily_limit_usd": "50"}})


def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))  # type: ignore[misc]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "brb.db") as s:
        yield s


def spend(store: Store, day: date, at: datetime, usd: str) -> None:
    assert store.ledger.reserve(
        f"r-{at.isoformat()}", day=day, amount_usd=Decimal("1"), limit_usd=Decimal("50"), at=at
    )
    store.ledger.settle(f"r-{at.isoformat()}", cost_usd=Decimal(usd), usage=Usage(), at=at)


def into(seen: list[Any], tag: str | None = None) -> EventSink:
    """A sink whose RolledOver events land in ``seen`` (as ``tag``, if given)."""
    sink = EventSink()
    sink.subscribe(RolledOver, seen.append if tag is None else lambda e: seen.append(tag))
    return sink


def rollover_events(store: Store) -> list[dict[str, str]]:
    return [e.detail for e in store.events(kinds=["rollover"])]


def test_midnight_in_a_non_utc_timezone(store: Store) -> None:
    tz = "Asia/Tokyo"  # UTC+9: local midnight is 15:00 UTC the day before
    seen: list[RolledOver] = []
    watch = RolloverWatch(config(tz), store, into(seen))
    spend(store, date(2026, 11, 24), local(tz, 2026, 11, 24, 20, 0), "12.34")

    async def minutes(n: int, frozen: object) -> list[Rollover | None]:
        out = []
        for _ in range(n):
            out.append(await watch.run())
            frozen.tick(timedelta(minutes=1))  # type: ignore[attr-defined]
        return out

    with freeze_time(local(tz, 2026, 11, 24, 23, 57, 30), real_asyncio=True) as frozen:
        results = asyncio.run(minutes(6, frozen))

    assert [r is not None for r in results] == [False, False, False, True, False, False]
    (r,) = seen
    assert r.day == date(2026, 11, 25) and r.previous_day == date(2026, 11, 24)
    assert r.at == datetime(2026, 11, 24, 15, 0, 30, tzinfo=UTC)  # still the 24th in UTC
    assert r.previous_spend_usd == Decimal("12.34")
    assert r.budget.settled_usd == 0 and not r.budget.is_exhausted
    assert rollover_events(store) == [
        {"day": "2026-11-25", "previous_day": "2026-11-24", "previous_spend_usd": 12.34}
    ]


@pytest.mark.parametrize(
    ("tz", "dst_day", "hours"),
    [
        ("America/New_York", date(2026, 3, 8), 23),  # 02:00 -> 03:00
        ("America/New_York", date(2026, 11, 1), 25),  # 02:00 -> 01:00
        ("Europe/London", date(2026, 3, 29), 23),  # 01:00 -> 02:00
        ("Europe/London", date(2026, 10, 25), 25),  # 02:00 -> 01:00
    ],
)
def test_every_midnight_of_a_dst_day_is_seen_once(
    store: Store, tz: str, dst_day: date, hours: int
) -> None:
    """The every-minute job over 30 real hours: the DST day's midnight and the
    next one each give exactly one rollover, in the first minute of the day."""
    watch = RolloverWatch(config(tz), store)
    before = dst_day - timedelta(days=1)
    start = local(tz, before.year, before.month, before.day, 22, 0, 20)

    async def every_minute(frozen: object) -> list[Rollover]:
        out = []
        for _ in range(30 * 60):
            r = await watch.run()
            if r is not None:
                out.append(r)
            frozen.tick(timedelta(minutes=1))  # type: ignore[attr-defined]
        return out

    with freeze_time(start, real_asyncio=True) as frozen:
        found = asyncio.run(every_minute(frozen))

    assert [r.day for r in found] == [dst_day, dst_day + timedelta(days=1)]
    for r in found:
        at_local = r.at.astimezone(ZoneInfo(tz))
        assert (at_local.date(), at_local.hour, at_local.minute) == (r.day, 0, 0)
    assert found[1].at - found[0].at == timedelta(hours=hours)
    assert len(rollover_events(store)) == 2


def test_a_daemon_down_over_midnight_records_the_reset_once_at_start(store: Store) -> None:
    tz = "Europe/London"
    with freeze_time(local(tz, 2026, 11, 23, 9, 0), real_asyncio=True) as frozen:
        first = RolloverWatch(config(tz), store)
        store.add_event("daemon_start", at=datetime.now(UTC), source="daemon")
        assert asyncio.run(first.run()) is None  # a fresh install: nothing to reset
        frozen.move_to(local(tz, 2026, 11, 24, 0, 0, 10))
        assert asyncio.run(first.run()) is not None  # the 24th, seen live
        spend(store, date(2026, 11, 24), datetime.now(UTC), "7.50")
        store.add_event("daemon_stop", at=local(tz, 2026, 11, 24, 18, 0), source="daemon")

        # Down from the 24th 18:00 until the 27th 08:00, three midnights missed.
        frozen.move_to(local(tz, 2026, 11, 27, 8, 0))
        store.add_event("daemon_start", at=datetime.now(UTC), source="daemon")
        seen: list[RolledOver] = []
        restarted = RolloverWatch(config(tz), store, into(seen))
        asyncio.run(restarted.run())
        frozen.tick(timedelta(minutes=1))
        asyncio.run(restarted.run())
        # and a second restart later the same day records nothing
        frozen.move_to(local(tz, 2026, 11, 27, 15, 0))
        assert asyncio.run(RolloverWatch(config(tz), store, into(seen)).run()) is None

    (r,) = seen
    assert (r.day, r.previous_day, r.previous_spend_usd) == (
        date(2026, 11, 27),
        date(2026, 11, 24),
        Decimal("7.5"),
    )
    assert [e["day"] for e in rollover_events(store)] == ["2026-11-24", "2026-11-27"]


def test_down_over_midnight_before_any_rollover_was_ever_recorded(store: Store) -> None:
    tz = "America/New_York"
    store.add_event("daemon_start", at=local(tz, 2026, 11, 23, 22, 0), source="daemon")
    with freeze_time(local(tz, 2026, 11, 24, 6, 0), real_asyncio=True):
        store.add_event("daemon_start", at=datetime.now(UTC), source="daemon")  # today's start
        r = asyncio.run(RolloverWatch(config(tz), store).run())
    assert r is not None and (r.day, r.previous_day) == (date(2026, 11, 24), date(2026, 11, 23))


def test_no_double_rollover_within_a_day_even_from_two_processes(store: Store) -> None:
    tz = "Europe/London"
    store.add_event("daemon_start", at=local(tz, 2026, 11, 24, 12, 0), source="daemon")
    calls: list[str] = []
    a = RolloverWatch(config(tz), store, into(calls, "a"))
    b = RolloverWatch(config(tz), store, into(calls, "b"))
    with freeze_time(local(tz, 2026, 11, 25, 0, 0, 5), real_asyncio=True) as frozen:
        for _ in range(3 * 60):
            asyncio.run(a.run())
            asyncio.run(b.run())
            frozen.tick(timedelta(minutes=1))
    assert calls == ["a"]
    assert len(rollover_events(store)) == 1


def test_a_clock_stepping_back_over_midnight_is_not_a_rollover(store: Store) -> None:
    tz = "UTC"
    watch = RolloverWatch(config(tz), store)
    with freeze_time(datetime(2026, 11, 25, 0, 0, 30, tzinfo=UTC), real_asyncio=True) as frozen:
        asyncio.run(watch.run())
        frozen.move_to(datetime(2026, 11, 24, 23, 59, 50, tzinfo=UTC))
        assert asyncio.run(watch.run()) is None
    assert rollover_events(store) == []


def test_the_scheduler_runs_it_at_start_and_every_minute(store: Store) -> None:
    tz = "Europe/London"
    store.add_event("daemon_stop", at=local(tz, 2026, 10, 24, 23, 0), source="daemon")

    async def main() -> tuple[RolledOver, IntervalTrigger]:
        got: asyncio.Future[RolledOver] = asyncio.get_running_loop().create_future()
        sink = EventSink()
        sink.subscribe(RolledOver, got.set_result)
        scheduler = AsyncIOScheduler(timezone=UTC)
        job = RolloverWatch(config(tz), store, sink).start(scheduler)
        scheduler.start()
        try:
            return await asyncio.wait_for(got, 5), job.trigger
        finally:
            scheduler.shutdown(wait=False)

    # The morning of the 2026 autumn change, after a night down.
    with freeze_time(local(tz, 2026, 10, 25, 7, 30), real_asyncio=True):
        r, trigger = asyncio.run(main())
    assert (r.day, r.previous_day) == (date(2026, 10, 25), date(2026, 10, 24))
    assert r.budget.limit_usd == Decimal("50") and r.budget.settled_usd == 0
    assert trigger.interval == timedelta(minutes=1)
    assert len(rollover_events(store)) == 1


def test_a_rollover_waiting_on_a_locked_database_leaves_the_loop_free(
    store: Store, tmp_path: Path
) -> None:
    """The job's store write waits on SQLite's lock on a worker thread (issue 16, point
    11): the loop keeps running other work meanwhile, and the rollover lands once the
    lock goes."""
    tz = "UTC"
    store.add_event("daemon_start", at=local(tz, 2026, 11, 23, 22, 0), source="daemon")
    now = local(tz, 2026, 11, 24, 0, 0, 5)  # a new day: the rollover has a write to make
    locker = sqlite3.connect(str(tmp_path / "brb.db"), isolation_level=None)

    async def main() -> tuple[threading.Thread | None, int, Rollover | None]:
        locker.execute("BEGIN EXCLUSIVE")  # the write lock, as another process would hold it
        job = asyncio.create_task(RolloverWatch(config(tz), store).run(now))
        ticks = 0  # this coroutine runs on the loop while the job waits on the lock
        waiter = None
        while waiter is None and not job.done() and ticks < 800:  # about 8 s at most
            await asyncio.sleep(0.01)
            ticks += 1
            waiter = lock_waiters.waiting_on_the_lock("rollover.py", "record")
        assert not job.done()
        locker.execute("ROLLBACK")
        return waiter, ticks, await job

    try:
        waiter, ticks, r = asyncio.run(main())
    finally:
        locker.close()
    assert waiter is not None and waiter is not threading.main_thread()  # the loop's
    assert ticks >= 1
    assert r is not None and r.day == date(2026, 11, 24)
    assert [e["day"] for e in rollover_events(store)] == ["2026-11-24"]
