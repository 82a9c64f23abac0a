"""The dashboard's live feed: ``GET /admin/big-red-button/events`` (server-sent events).

Owns fanning one status snapshot out to every open page: a snapshot at least
once a second while anyone listens (computed once, off the event loop, and
sent to all), and sooner when an event on the sink changes the picture (a
diverting edge, a breaker move, an incident, a provider resting or back, a
budget crossing, a new day, the button unplugged): a listener that only
wakes the stream, at most every :data:`MIN_GAP_S`. Each
message is ``event: status`` with the status JSON as its data; ``retry``
tells the browser to reconnect within a second when the daemon goes away. A
slow page gets the newest snapshot, never a growing backlog. At shutdown
every stream ends at once, so open pages never hold up the drain.

Must not: read the token or accept writes; it only shows what status shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from brb.daemon.events import (
    BreakerMoved,
    BudgetCrossed,
    ButtonEvent,
    DivertingStarted,
    DivertingStopped,
    Event,
    EventSink,
    IncidentClosed,
    IncidentOpened,
    ProviderClosed,
    ProviderOpened,
    RolledOver,
)

log = logging.getLogger(__name__)

INTERVAL_S = 1.0
MIN_GAP_S = 0.2  # a storm of events costs at most five snapshots a second
WAKING_EVENTS: tuple[type[Event], ...] = (
    DivertingStarted,
    DivertingStopped,
    BreakerMoved,
    IncidentOpened,
    IncidentClosed,
    ProviderOpened,
    ProviderClosed,
    BudgetCrossed,
    RolledOver,
    ButtonEvent,
)
RETRY_MS = 1000
_END = b""


class StatusStream:
    def __init__(self, snapshot: Callable[[], dict[str, Any]], interval_s: float = INTERVAL_S):
        self._snapshot = snapshot
        self._interval_s = interval_s
        self._clients: set[asyncio.Queue[bytes]] = set()
        self._woken = asyncio.Event()
        self._producer: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def listeners(self) -> int:
        return len(self._clients)

    def subscribe(self, sink: EventSink) -> None:
        for kind in WAKING_EVENTS:
            sink.subscribe(kind, self.wake)

    def wake(self, event: Event | None = None) -> None:
        """Send a fresh snapshot now rather than at the next second (event loop only)."""
        self._woken.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._closing:
            raise web.HTTPServiceUnavailable(text="brb is stopping")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # a proxy in front must not buffer the stream
            }
        )
        await response.prepare(request)
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        self._clients.add(queue)
        if self._producer is None or self._producer.done():
            self._producer = asyncio.create_task(self._produce(), name="brb-dashboard-stream")
        self.wake()  # the new page gets a snapshot at once
        try:
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            while message := await queue.get():  # empty: the daemon is stopping
                await response.write(message)
        except (ConnectionResetError, ConnectionError):
            pass  # the page went away
        finally:
            self._clients.discard(queue)
        return response

    async def close(self, app: web.Application | None = None) -> None:
        """End every stream (aiohttp's on_shutdown, before it waits for handlers)."""
        self._closing = True
        for queue in list(self._clients):
            _replace(queue, _END)
        if self._producer is not None:
            self._producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._producer

    async def _produce(self) -> None:
        loop = asyncio.get_running_loop()
        sent_at = -MIN_GAP_S
        while self._clients and not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._interval_s)
            if (gap := loop.time() - sent_at) < MIN_GAP_S:
                await asyncio.sleep(MIN_GAP_S - gap)
            self._woken.clear()
            sent_at = loop.time()
            try:
                snap = await asyncio.to_thread(self._snapshot)
            except Exception:
                log.exception("the dashboard's status snapshot failed")
                continue
            message = f"event: status\ndata: {json.dumps(snap, separators=(',', ':'))}\n\n"
            encoded = message.encode()
            for queue in list(self._clients):
                _replace(queue, encoded)


def _replace(queue: asyncio.Queue[bytes], message: bytes) -> None:
    """Put ``message``, dropping an unsent older one: a page wants the newest picture."""
    with contextlib.suppress(asyncio.QueueEmpty):
        if queue.full():
            queue.get_nowait()
    queue.put_nowait(message)
