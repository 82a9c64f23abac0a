"""The daemon's background beats: the 1 s tick, the store poll, the heartbeat.

Owns the loops that run beside the requests: every second, step the breaker
with the monitor's views, write a queue sample per model (an idle model once,
not every second), flush the buffered logs and publish :class:`Ticked` and
the day's :class:`BudgetSeen`; a few times a second, look for a press or
release made by another process; every two seconds, the heartbeat (the
address it names is learnt from :class:`DaemonReady`), which also refreshes
this instance's row in the fleet's list (its breaker and queue depth). Must not decide
anything: the breaker and the listeners do.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime

from brb import __version__
from brb.adapters.store_instances import Instance
from brb.adapters.store_samples import QueueSample
from brb.config import BrbConfig
from brb.core.budget import budget_day
from brb.core.queueing import QueueView, observe
from brb.daemon.events import BudgetSeen, DaemonReady, EventSink, Ticked
from brb.daemon.live_state import LiveState
from brb.daemon.pool import UpstreamPool
from brb.daemon.pool_room import PoolRoom
from brb.daemon.queue_monitor import QueueMonitor
from brb.daemon.store_writer import StoreWriter

log = logging.getLogger(__name__)

TICK_S = 1.0
POLL_S = 0.2
HEARTBEAT_S = 2.0


class Ticks:
    def __init__(
        self,
        cfg: BrbConfig,
        *,
        monitor: QueueMonitor,
        live: LiveState,
        writer: StoreWriter,
        sink: EventSink,
        clock: Callable[[], datetime],
        started_at: datetime,
        room: PoolRoom | None = None,
        instance_id: str | None = None,
        pool: UpstreamPool | None = None,
    ) -> None:
        self._cfg = cfg
        self._pool = pool
        self._instance_id = instance_id
        self._monitor = monitor
        self._room = room
        self._live = live
        self._writer = writer
        self._sink = sink
        self._clock = clock
        self._started_at = started_at
        self._address = cfg.listen  # until the bound one is known
        self._idle_sampled: dict[str, bool] = {}

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(DaemonReady, self._ready)

    def _ready(self, e: DaemonReady) -> None:
        self._address = e.address
        self.heartbeat()

    def heartbeat(self) -> None:
        at = self._clock()
        self._writer.submit(
            self._writer.store.write_heartbeat,
            at=at,
            pid=os.getpid(),
            version=__version__,
            listen=self._address,
            started_at=self._started_at,
            upstreams=self._pool.reports if self._pool is not None else (),
        )
        if self._instance_id is not None:
            live = self._live
            self._writer.submit(
                self._writer.store.write_instance,
                Instance(
                    self._instance_id,
                    socket.gethostname(),
                    os.getpid(),
                    __version__,
                    self._address,
                    self._started_at,
                    at,
                    HEARTBEAT_S,
                    live.phase.value,
                    live.last_observation.queue_depth,
                    live.is_diverting,
                ),  # fmt: skip
            )

    def leave(self) -> None:
        """A clean stop: this instance leaves the fleet's list."""
        if self._instance_id is not None:
            self._writer.submit(self._writer.store.remove_instance, self._instance_id)

    async def poll_loop(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                self._live.poll()
            except Exception:
                log.exception("polling the store failed")

    async def tick_loop(self) -> None:
        beats = 0.0
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.tick()
                beats += TICK_S
                if beats >= HEARTBEAT_S:
                    beats = 0.0
                    self.heartbeat()
            except Exception:
                log.exception("the 1 s tick failed")

    def tick(self) -> None:
        mono = time.monotonic()
        views = self._monitor.views(mono)  # once per tick, shared below
        live, now = self._live, self._clock()
        live.observe(self._room.observation(mono) if self._room else observe(views.values()), now)
        if self._pool is not None:
            self._pool.refresh()  # what status shows of each upstream, a second old at most
        self._sample(views, now)
        self._writer.flush()
        self._sink.publish(
            Ticked(now, views, live.last_observation, live.phase, live.mode, live.is_diverting)
        )
        day, limit = budget_day(now, self._cfg.tz), self._cfg.budget.daily_limit_usd
        store, sink = self._writer.store, self._sink
        self._writer.submit(
            lambda: sink.publish(BudgetSeen(now, store.ledger.snapshot(day, limit)))
        )

    def _sample(self, views: dict[str, QueueView], now: datetime) -> None:
        """A queue sample per model a second; an idle model is sampled once, not every second."""
        if len(self._idle_sampled) > len(views):  # models the monitor forgot (bounded)
            self._idle_sampled = {m: s for m, s in self._idle_sampled.items() if m in views}
        for model, v in views.items():
            in_flight = v.waiting + len(v.in_service_elapsed_s)
            if in_flight == 0 and self._idle_sampled.get(model):
                continue
            self._idle_sampled[model] = in_flight == 0
            self._writer.add_sample(
                QueueSample(
                    now,
                    model,
                    v.waiting,
                    in_flight,
                    max(v.oldest_wait_s, v.predicted_wait_s()),
                    v.service_ewma_s,
                )
            )
