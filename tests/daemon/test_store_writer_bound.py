"""The store writer's buffers are bounded: what they drop is counted, logged and
exported in /metrics, never silent."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from daemon_rig import StartRig

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
