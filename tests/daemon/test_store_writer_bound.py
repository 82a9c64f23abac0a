"""The store writer's buffers and its queue of pending writes are bounded: what they
drop is counted, logged (once per burst) and exported in /metrics, never silent; a
money write (settle, release) is never dropped, and one the store refuses is tried
again."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from daemon_rig import StartRig

from brb.adapters.ledger import Usage
from brb.adapters.store import Store
from brb.adapters.store_samples import QueueSample
from brb.daemon import store_writer
from brb.daemon.store_writer import StoreWriter


def sample(i: int) -> QueueSample:
    at = datetime(2026, 11, 25, tzinfo=UTC)
    return QueueSample(at=at, model="m", queue_depth=i, in_flight=0, wait_s=0.0)


def test_a_full_buffer_drops_the_oldest_and_counts_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = StoreWriter(Store.open(tmp_path / "w.db"))
    limit = store_writer.MAX_BUFFERED_ROWS
    for i in range(limit + 25):
        writer.add_sample(sample(i))
    assert writer.dropped == 25
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "dropped" in warnings[0].getMessage()  # at 1 and 10

    async def flush() -> None:
        await writer.drain()

    asyncio.run(flush())
    kept = writer.store.query("SELECT queue_depth FROM queue_samples ORDER BY id")
    assert len(kept) == limit and kept[0]["queue_depth"] == 25  # the oldest went
    writer.close()


def test_metrics_export_the_drop_count(start_brb: StartRig) -> None:
    rig = start_brb()
    text = rig.get("/metrics").text
    assert "brb_store_writes_dropped 0.0" in text


def test_a_full_write_queue_drops_new_writes_but_never_money(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    at = datetime(2026, 11, 25, tzinfo=UTC)
    store = Store.open(tmp_path / "w.db")
    assert store.ledger.reserve("r1", day=date(2026, 11, 25), amount_usd=Decimal("1"),
                                limit_usd=Decimal("10"), at=at)  # fmt: skip
    writer = StoreWriter(store, max_pending=10)
    stuck = threading.Event()

    def event(i: int) -> None:
        writer.submit(store.add_event, "test", at=at, detail={"i": i})

    async def burst() -> None:
        writer.submit(stuck.wait)  # the writer thread is held, as by a locked database
        for i in range(30):  # 9 more fit in the queue, 21 are dropped
            event(i)
        for i in range(5):
            writer.add_sample(sample(i))
        writer.flush()  # a batch of 5 rows, dropped whole
        writer.submit_money(store.ledger.release, "r1", at=at, outcome="test")  # kept
        assert writer.dropped == 21 + 5
        stuck.set()
        await writer.drain()

    caplog.set_level(logging.WARNING, logger="brb.daemon.store_writer")
    asyncio.run(burst())
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said  # once when the burst starts, once when it is over
    assert "dropped" in said[0] and "26 row(s) or write(s) were dropped" in said[1]
    assert len(store.events(kinds=["test"])) == 9
    assert not store.query("SELECT * FROM queue_samples")
    (row,) = store.ledger.rows_between(at)
    assert row["status"] == "released"  # the money write ran, after the queue was full

    async def again() -> None:  # a second burst is said again
        stuck.clear()
        writer.submit(stuck.wait)
        for i in range(12):
            event(i)
        stuck.set()
        await writer.drain()

    caplog.clear()
    asyncio.run(again())
    assert writer.dropped == 26 + 3
    assert len(caplog.records) == 2
    writer.close()


REFUSE_SETTLES = (
    "CREATE TRIGGER test_refuse BEFORE UPDATE ON ledger BEGIN "
    "SELECT RAISE(ABORT, 'the disk is full, say'); END"
)


def other_process(path: Path, sql: str) -> None:
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute(sql)
    finally:
        conn.close()


def test_a_settle_the_store_refuses_is_tried_again_until_it_lands(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    at = datetime(2026, 11, 25, tzinfo=UTC)
    path = tmp_path / "w.db"
    store = Store.open(path)
    assert store.ledger.reserve("r1", day=date(2026, 11, 25), amount_usd=Decimal("1"),
                                limit_usd=Decimal("10"), at=at)  # fmt: skip
    other_process(path, REFUSE_SETTLES)
    writer = StoreWriter(store, money_retry_s=0.05, store_retry_s=0.01)

    def status() -> str:
        return str(store.ledger.rows_between(at)[0]["status"])

    async def settle() -> None:
        writer.submit_money(store.ledger.settle, "r1", cost_usd=Decimal("0.5"),
                            usage=Usage(1, 1), at=at)  # fmt: skip
        for _ in range(400):  # refused a few times, still reserved
            if sum("could not be written" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # more tries, each refused
        assert status() == "reserved"
        other_process(path, "DROP TRIGGER test_refuse")  # the store takes writes again
        for _ in range(400):
            if status() == "settled":
                break
            await asyncio.sleep(0.01)

    caplog.set_level(logging.WARNING, logger="brb.daemon.store_writer")
    asyncio.run(settle())
    assert status() == "settled"
    (said,) = [r.getMessage() for r in caplog.records]  # said once, not per try
    assert "trying again" in said
    writer.close()


def test_a_settle_refused_to_the_end_leaves_the_reservation_standing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    at = datetime(2026, 11, 25, tzinfo=UTC)
    path = tmp_path / "w.db"
    store = Store.open(path)
    assert store.ledger.reserve("r1", day=date(2026, 11, 25), amount_usd=Decimal("1"),
                                limit_usd=Decimal("10"), at=at)  # fmt: skip
    other_process(path, REFUSE_SETTLES)
    writer = StoreWriter(store, money_retry_s=30.0, money_tries=3)

    async def shutdown_while_waiting() -> None:
        writer.submit_money(store.ledger.settle, "r1", cost_usd=Decimal("0.5"),
                            usage=Usage(1, 1), at=at)  # fmt: skip
        for _ in range(400):
            if any("trying again" in r.getMessage() for r in caplog.records):
                break  # refused once, its next try 30 s away
            await asyncio.sleep(0.01)
        await writer.drain()  # tried once more at once, not after 30 s; then given up

    caplog.set_level(logging.WARNING, logger="brb.daemon.store_writer")
    asyncio.run(shutdown_while_waiting())
    (row,) = store.ledger.rows_between(at)
    assert row["status"] == "reserved"  # over-counted, never under-counted
    assert any("reservation stands" in r.getMessage() for r in caplog.records)
    writer.close()


def test_while_the_store_fails_writes_fail_at_once_counted_and_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing queues behind a failing store (each write would wait out SQLite's busy
    timeout): for a moment after a failure, writes are dropped at once and counted."""
    at = datetime(2026, 11, 25, tzinfo=UTC)
    path = tmp_path / "w.db"
    store = Store.open(path)
    other_process(path, "CREATE TRIGGER test_full BEFORE INSERT ON events BEGIN "
                        "SELECT RAISE(ABORT, 'the disk is full, say'); END")  # fmt: skip
    writer = StoreWriter(store, store_retry_s=0.5)

    async def outage() -> None:
        await writer.drain()
        writer.submit(store.add_event, "test", at=at)  # tried: fails (the error is logged)
        await writer.drain()
        for _ in range(5):  # not tried: dropped at once, counted
            writer.submit(store.add_event, "test", at=at)
        await writer.drain()
        assert writer.dropped == 5
        other_process(path, "DROP TRIGGER test_full")
        await asyncio.sleep(0.6)  # past the pause after the failure
        writer.submit(store.add_event, "test", at=at)
        await writer.drain()

    caplog.set_level(logging.WARNING, logger="brb.daemon.store_writer")
    asyncio.run(outage())
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(said) == 2, said  # once when writes start being dropped, once at the end
    assert "5 row(s) or write(s) were dropped" in said[1]
    assert len(store.events(kinds=["test"])) == 1
    writer.close()
