"""The pruner: keeps ``retention_days`` of queue samples and request log.

Owns when pruning runs: once the daemon has started, then at each budget-day
rollover. The delete itself is the store's, on the writer thread (never on
the event loop). The ledger and the events are history and stay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from brb.daemon.events import DaemonStarted, EventSink, RolledOver
from brb.daemon.store_writer import StoreWriter


class Pruner:
    def __init__(
        self, retention_days: int, writer: StoreWriter, clock: Callable[[], datetime]
    ) -> None:
        self._keep = timedelta(days=retention_days)
        self._writer = writer
        self._clock = clock

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(DaemonStarted, self.prune)
        sink.subscribe(RolledOver, self.prune)

    def prune(self, _event: object = None) -> None:
        self._writer.submit(self._writer.store.prune, before=self._clock() - self._keep)
