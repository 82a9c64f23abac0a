"""The simulated Ollama's queue: per-model slots, unbounded waiters, and what it saw.

Owns: one asyncio.Semaphore of `num_parallel` slots per model (what Ollama does since
v0.11.5 for an already-loaded model: no waiter limit, no 503), holding a slot for a
request's service, and the counters and service log that tests and benches read.

Must not: know HTTP or body shapes; `brb.sim.ollama` decides what a request does with
its slot.

Thread note: counters are plain attributes, safe to read from another thread while
the server runs in `serve_in_thread`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """One served request, on the server's monotonic clock (seconds)."""

    path: str
    model: str
    arrived_s: float
    started_s: float
    finished_s: float

    @property
    def wait_s(self) -> float:
        return self.started_s - self.arrived_s

    @property
    def service_s(self) -> float:
        return self.finished_s - self.started_s


class SlotQueue:
    """Per-model slots; `hold` waits for one and keeps it while the request is served."""

    def __init__(self, num_parallel: int = 1, log_size: int = 1000) -> None:
        self.num_parallel = num_parallel
        self.served = 0
        self.in_service = 0
        self.max_in_service = 0
        self.waiting = 0
        self.max_waiting = 0
        self.loaded: set[str] = set()
        self.service_log: deque[ServiceRecord] = deque(maxlen=log_size)
        self._slots: dict[str, asyncio.Semaphore] = {}

    def reset_slots(self) -> None:
        """Forget the semaphores (they belong to one event loop); counters stay."""
        self._slots = {}

    async def hold(
        self,
        path: str,
        model: str,
        arrived_s: float,
        serve: Callable[[float], Awaitable[T]],
    ) -> T:
        """Wait for one of `model`'s slots, then run `serve(wait_s)` while holding it.

        A request cancelled while waiting (its client went away) leaves the queue.
        `num_parallel` applies to models whose slots are made after it is set.
        """
        slots = self._slots.setdefault(model, asyncio.Semaphore(max(1, self.num_parallel)))
        self.waiting += 1
        self.max_waiting = max(self.max_waiting, self.waiting)
        try:
            await slots.acquire()
        finally:
            self.waiting -= 1
        started_s = time.monotonic()
        self.in_service += 1
        self.max_in_service = max(self.max_in_service, self.in_service)
        self.loaded.add(model)
        try:
            result = await serve(started_s - arrived_s)
        finally:
            self.in_service -= 1
            slots.release()
        self.served += 1
        self.service_log.append(ServiceRecord(path, model, arrived_s, started_s, time.monotonic()))
        return result
