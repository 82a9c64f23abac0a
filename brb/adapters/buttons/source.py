"""The seam between one button device and the listener.

Owns the :class:`ButtonSource` protocol every button kind implements and
:class:`QueuedSource`, the asyncio queue that carries edges (and the news
that the device went away) from a device reader -- a coroutine on the loop or
a library's callback thread -- to the listener. Must not interpret edges
(that is :mod:`brb.core.gesture`) or act on them (that is the listener).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from brb.core.gesture import Edge, Signal
from brb.errors import ButtonError

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class ButtonSource(Protocol):
    """One physical button. ``open`` again after a :class:`ButtonError` to reconnect."""

    kind: str

    def describe(self) -> str:
        """What device this is, for people: ``gpio pin 17``."""
        ...

    async def open(self) -> None:
        """Find and claim the device; :class:`ButtonError` if it isn't there."""
        ...

    async def next_edge(self, timeout_s: float | None) -> Edge | None:
        """The next edge, ``None`` after ``timeout_s``; :class:`ButtonError` once
        the device has gone away."""
        ...

    async def close(self) -> None:
        """Let go of the device (safe to call twice, or without ``open``)."""
        ...


class QueuedSource:
    """Edges and failures queued by a device reader, read by the listener.

    Subclasses claim the device in ``open`` (calling :meth:`_start_queue`
    first) and feed the queue with :meth:`_emit` / :meth:`_fail` from the
    loop, or their ``_threadsafe`` twins from a library's thread.
    """

    kind = "button"

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Edge | ButtonError] | None = None
        self._reader: asyncio.Task[None] | None = None

    def _start_queue(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()

    async def _stop_queue(self) -> None:
        await cancel_task(self._reader)
        self._reader = None
        self._queue = None

    def _start_reader(self, reader: Coroutine[Any, Any, None]) -> None:
        """Run ``reader`` on the loop; however it ends, the listener hears of it."""
        self._reader = asyncio.create_task(self._guard(reader), name=f"brb-{self.kind}-reader")

    async def _guard(self, reader: Coroutine[Any, Any, None]) -> None:
        try:
            await reader
        except ButtonError as err:
            self._fail(err)
        except Exception as err:  # anything a device library raises means the device is unusable
            log.debug("%s reader failed", self.describe(), exc_info=True)
            self._fail(ButtonError(f"{self.describe()} failed: {err}"))
        else:
            self._fail(ButtonError(f"{self.describe()} stopped sending"))

    def _put(self, item: Edge | ButtonError) -> None:
        if self._queue is not None:
            self._queue.put_nowait(item)

    def _emit(self, signal: Signal) -> None:
        self._put(Edge(signal, self._clock()))

    def _fail(self, error: ButtonError) -> None:
        self._put(error)

    def _put_threadsafe(self, item: Edge | ButtonError) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # The loop may close between the check and the call while shutting down;
        # an edge that arrives then has nowhere to go and is dropped on purpose.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._put, item)

    def _emit_threadsafe(self, signal: Signal) -> None:
        # Stamp the edge on the callback's thread: the loop may be busy.
        self._put_threadsafe(Edge(signal, self._clock()))

    def _fail_threadsafe(self, error: ButtonError) -> None:
        self._put_threadsafe(error)

    async def next_edge(self, timeout_s: float | None) -> Edge | None:
        if self._queue is None:
            raise ButtonError(f"{self.describe()} is not open")
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout_s)
        except TimeoutError:
            return None
        if isinstance(item, ButtonError):
            raise item
        return item

    def describe(self) -> str:
        return self.kind


async def cancel_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a reader task and wait for it; its own failure is already queued."""
    if task is None or task.done():
        return
    task.cancel()
    # asyncio.wait, not ``await task``: the child's CancelledError must not be
    # confused with (or swallow) a cancellation of the caller.
    await asyncio.wait({task})
