"""When the daemon recomputes the capacity advice: a refresh after its first tick,
then at most every ``capacity.refresh_seconds`` by the ticks' own time, not while
no request has been answered (unless the last one is an hour old), one at a time,
in a worker process whose result reaches the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from brb.adapters.store import Store
from brb.config import parse
from brb.core.breaker import Mode, Observation, Phase
from brb.core.request_log import RequestRow
from brb.daemon.events import EventSink, RequestDone, Ticked
from brb.daemon.listeners.capacity import CapacityAdvisor
from brb.daemon.store_writer import StoreWriter

T0 = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
ROW = RequestRow(T0 - timedelta(hours=1), "2026-11-27", "/api/chat", "llama3", "", "ollama",
                 "standby", 200, wait_s=0.0, service_s=1.0)  # fmt: skip


def tick(at: datetime) -> Ticked:
    return Ticked(at, {}, Observation(0, 0.0), Phase.STANDBY, Mode.AUTO, False)


def test_recomputes_on_schedule_and_skips_when_idle(tmp_path: Path) -> None:
    db = tmp_path / "brb.db"
    with Store.open(db) as store:
        store.log_requests([ROW])
    cfg = parse({"big_red_button": {"capacity": {"refresh_seconds": 300}}})

    async def main() -> list[int]:
        sink = EventSink()
        sink.bind(asyncio.get_running_loop())
        writer = StoreWriter(Store.open(db))
        advisor = CapacityAdvisor(cfg, db, writer)
        advisor.subscribe(sink)
        seen = []

        async def at(seconds: float) -> None:
            sink.publish(tick(T0 + timedelta(seconds=seconds)))
            for _ in range(1200):  # a worker process on a loaded machine: up to 120 s
                if advisor._task is None:  # noqa: SLF001 - the one in flight, if any
                    break
                await asyncio.sleep(0.1)
            seen.append(advisor.runs)

        await at(0)  # the first tick: due a refresh later
        await at(299)
        await at(300)  # computed
        await at(400)  # too soon
        await at(600)  # due, but nothing answered since: skipped
        sink.publish(RequestDone(ROW))
        await at(700)  # not due yet (the skipped one counted as a refresh)
        await at(900)  # due and something new: computed
        await at(1200 + 3600)  # idle, but the last is an hour old: computed
        await advisor.aclose()
        await writer.drain()
        writer.close()
        return seen

    assert asyncio.run(main()) == [0, 0, 1, 1, 1, 1, 2, 3]
    with Store.open(db) as store:
        found = store.capacity_advice()
    assert found is not None
    at, advice = found
    assert at == T0 + timedelta(seconds=4800) and advice["requests"] == 1


def test_the_worker_reads_back_the_config_it_was_given() -> None:
    from brb.config import TOP_KEY
    from brb.daemon.listeners.capacity import job_config

    cfg = parse({"big_red_button": {
        "upstreams": [{"name": "gpu-a", "url": "http://127.0.0.1:1", "parallel": 2},
                      {"name": "gpu-b", "url": "http://127.0.0.1:2", "parallel": 1}],
        "pricing": {"m": {"input_per_mtok": 1, "output_per_mtok": 2}},
        "capacity": {"window_days": 3},
    }})  # fmt: skip
    assert parse({TOP_KEY: job_config(cfg)}) == cfg
