"""Keeps SQLite off the event loop: one writer thread, batched logs.

Owns the daemon's writes to the store. Every write runs on a single
background thread (SQLite serialises writers anyway), so the event loop
never waits on a disk sync or another process's lock. Request-log rows and
queue samples are buffered in memory and flushed about once a second; a
reservation, which must be on disk before a diverted request leaves, is
awaited. On shutdown everything buffered is flushed. The buffers are
bounded (``MAX_BUFFERED_ROWS`` each): when the store can't keep up, the
oldest rows are dropped, counted (``dropped``, ``brb_store_writes_dropped``
in /metrics) and said in the log, never silently. So is the queue of writes
handed to the thread and not yet done (``MAX_PENDING_WRITES``): past it, a
new fire-and-forget write is dropped, counted the same way (a batch of rows
counts its rows) and said once per burst (when it starts, and how many when
the store has caught up). Money writes (:meth:`StoreWriter.submit_money`: a
settle, a release) are never dropped: each follows a reservation awaited
through this same thread, so they are bounded by the diversions in flight.
While the store is failing (a write raised a StoreError less than
``STORE_RETRY_S`` ago) every write fails at once instead of waiting out
SQLite's busy timeout behind the last one, so nothing queues for minutes
behind a locked file: a reservation fails (the request stays local), a
fire-and-forget write is dropped and counted (said once per outage), and a
money write waits for its next try.
One the store refuses (locked, full) is tried again every ``MONEY_RETRY_S``,
up to ``MONEY_TRIES`` times, and at once on shutdown; after that the
reservation stands (over-counted, never under-counted) until the next start
settles it at its worst case.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from brb.adapters.store import Store
from brb.adapters.store_samples import QueueSample
from brb.core.request_log import RequestRow
from brb.errors import StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BUFFERED_ROWS = 10_000  # per buffer: about 10 s of a very busy daemon's log
# Writes handed to the thread and not done yet; a healthy store keeps a handful.
MAX_PENDING_WRITES = 1_000
# A settle or release the store refused is tried again (a lock held for a while, a
# disk being cleared): for 5 to 15 minutes (each try may wait SQLite's 10 s busy timeout).
MONEY_RETRY_S = 5.0
MONEY_TRIES = 60
# After a write fails, how long every write fails at once (see the module docstring).
STORE_RETRY_S = 5.0


class StoreSkipped(StoreError):
    """Not tried: the store failed a write moments ago."""


class StoreWriter:
    def __init__(
        self,
        store: Store,
        *,
        max_pending: int = MAX_PENDING_WRITES,
        money_retry_s: float = MONEY_RETRY_S,
        money_tries: int = MONEY_TRIES,
        store_retry_s: float = STORE_RETRY_S,
    ) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brb-store")
        self._requests: deque[RequestRow] = deque()
        self._samples: deque[QueueSample] = deque()
        self.dropped = 0  # rows and writes dropped because a buffer or the queue was full
        self._pending: set[asyncio.Future[Any]] = set()
        self._max_pending = max_pending
        self._burst_dropped = 0  # dropped since the queue last had room
        self._money_retry_s = money_retry_s
        self._money_tries = money_tries
        self._retries: dict[int, tuple[asyncio.TimerHandle, Callable[[], Any], int]] = {}
        self._retry_ids = itertools.count()
        self._closing = False
        self._down_until = 0.0  # monotonic: a write failed; until then, fail at once
        self._skipped = 0  # fire-and-forget writes skipped in this outage
        self._last_error = ""
        self._store_retry_s = store_retry_s

    def is_store_down(self) -> bool:
        """A write failed moments ago: writes fail at once for now."""
        return time.monotonic() < self._down_until

    def _guarded(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """On the writer thread: ``fn``, unless the store is failing (then at once)."""
        if self.is_store_down():
            raise StoreSkipped(f"not tried, a write failed moments ago: {self._last_error}")
        try:
            return fn(*args, **kwargs)
        except StoreError as exc:
            self._last_error = str(exc)
            self._down_until = time.monotonic() + self._store_retry_s
            raise

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the writer thread and wait for its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: self._guarded(fn, *args, **kwargs))

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Fire and forget (errors are logged, never raised into a request); dropped
        (counted, logged once per burst) when ``max_pending`` writes are already waiting."""
        self._submit_counted(1, fn, *args, **kwargs)

    def submit_money(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Fire and forget, never dropped, tried again if the store refuses it: a settle or
        a release (see the module docstring). ``fn`` must be idempotent."""
        self._start_money(functools.partial(self._guarded, fn, *args, **kwargs), 1)

    def _start_money(self, write: Callable[[], Any], attempt: int) -> None:
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._pool, write)
        self._pending.add(fut)
        fut.add_done_callback(lambda f: self._money_done(f, write, attempt))

    def _money_done(self, fut: asyncio.Future[Any], write: Callable[[], Any], attempt: int) -> None:
        exc = None if fut.cancelled() else fut.exception()
        if not isinstance(exc, StoreError):
            self._done(fut)
            return
        self._pending.discard(fut)
        if self._closing or attempt >= self._money_tries:
            log.error("a settlement could not be written after %d tries (%s): its "
                      "reservation stands until the next start settles it at its worst case",
                      attempt, exc)  # fmt: skip
            return
        level = (
            logging.WARNING if attempt == 1 and not isinstance(exc, StoreSkipped) else logging.DEBUG
        )
        log.log(level, "a settlement could not be written (%s): trying again every %.0fs",
                exc, self._money_retry_s)  # fmt: skip
        key = next(self._retry_ids)
        handle = asyncio.get_running_loop().call_later(self._money_retry_s, self._retry_money, key)
        self._retries[key] = (handle, write, attempt + 1)

    def _retry_money(self, key: int) -> None:
        _, write, attempt = self._retries.pop(key)
        self._start_money(write, attempt)

    def _submit_counted(self, rows: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if len(self._pending) < self._max_pending:
            self._start(rows, fn, *args, **kwargs)
            return
        if not self._burst_dropped:
            log.warning(
                "the store is not keeping up: %d writes are waiting, new ones are dropped "
                "until it catches up (brb_store_writes_dropped counts them)", len(self._pending),
            )  # fmt: skip
        self._burst_dropped += rows
        self.dropped += rows

    def _start(self, rows: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._pool, lambda: self._guarded(fn, *args, **kwargs))
        self._pending.add(fut)
        fut.add_done_callback(lambda f: self._done(f, rows))

    def _done(self, fut: asyncio.Future[Any], rows: int = 0) -> None:
        self._pending.discard(fut)
        exc = None if fut.cancelled() else fut.exception()
        if isinstance(exc, StoreSkipped):
            if not self._skipped:
                log.warning("the brb database is failing: writes are dropped (and counted in "
                            "brb_store_writes_dropped) until it answers again")  # fmt: skip
            self._skipped += rows
            self.dropped += rows
        elif exc is not None:
            log.error("store write failed: %s", exc)
        elif self._skipped and not fut.cancelled():
            log.warning("the brb database answers again: %d row(s) or write(s) were "
                        "dropped while it was failing", self._skipped)  # fmt: skip
            self._skipped = 0
        if self._burst_dropped and len(self._pending) <= self._max_pending // 2:
            log.warning(
                "the store caught up: %d row(s) or write(s) were dropped while it was behind",
                self._burst_dropped,
            )
            self._burst_dropped = 0

    def log_request(self, row: RequestRow) -> None:
        self._buffer(self._requests, row, "request-log row")

    def add_sample(self, sample: QueueSample) -> None:
        self._buffer(self._samples, sample, "queue sample")

    def _buffer(self, buffer: deque[Any], item: Any, what: str) -> None:
        if len(buffer) >= MAX_BUFFERED_ROWS:
            buffer.popleft()
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning(
                    "the store is not keeping up: %d buffered row(s) dropped so far "
                    "(the oldest %s just now)", self.dropped, what,
                )  # fmt: skip
        buffer.append(item)

    def flush(self) -> None:
        """Hand buffered rows to the writer thread."""
        if self._requests:
            rows, self._requests = list(self._requests), deque()
            self._submit_counted(len(rows), self.store.log_requests, rows)
        if self._samples:
            samples, self._samples = list(self._samples), deque()
            self._submit_counted(len(samples), self.store.add_queue_samples, samples)

    async def drain(self) -> None:
        """Flush and wait for every pending write (shutdown); a settlement waiting to be
        tried again is tried once more now."""
        self.flush()
        self._closing = True
        for key in list(self._retries):
            self._retries[key][0].cancel()
            self._retry_money(key)
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
