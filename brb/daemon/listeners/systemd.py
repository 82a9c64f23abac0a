"""The systemd listener: READY once listening, STATUS on each edge, the
watchdog from the event loop, STOPPING when a stop begins.

Owns when each sd_notify message goes out (the protocol is
:mod:`brb.daemon.sdnotify`'s) and the watchdog task: it pings from the event
loop itself, so a wedged loop stops the pings and systemd restarts brb.
Outside systemd every message is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib

from brb.daemon import sdnotify
from brb.daemon.events import (
    DaemonReady,
    DaemonStarted,
    DaemonStopping,
    DivertingStarted,
    DivertingStopped,
    EventSink,
)


class SystemdListener:
    def __init__(self) -> None:
        self._watchdog_s = sdnotify.watchdog_interval_s()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(DaemonStarted, self.started)
        sink.subscribe(DaemonReady, self.ready)
        sink.subscribe(DaemonStopping, self.stopping)
        sink.subscribe(DivertingStarted, self.diverting_started)
        sink.subscribe(DivertingStopped, self.diverting_stopped)

    def started(self, e: DaemonStarted) -> None:
        if self._watchdog_s and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._watchdog_loop(self._watchdog_s), name="brb-watchdog"
            )

    def ready(self, e: DaemonReady) -> None:
        sdnotify.ready()
        sdnotify.status(f"listening on {e.address}, standby")

    def stopping(self, e: DaemonStopping) -> None:
        sdnotify.stopping()

    def diverting_started(self, e: DivertingStarted) -> None:
        sdnotify.status(f"ACTIVE: {e.reason}")

    def diverting_stopped(self, e: DivertingStopped) -> None:
        sdnotify.status("standby")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @staticmethod
    async def _watchdog_loop(every_s: float) -> None:
        while True:
            sdnotify.watchdog()
            await asyncio.sleep(every_s)
