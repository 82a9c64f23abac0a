"""The capacity advisor: keeps the capacity advice fresh, off the event loop.

Owns when the advice is recomputed (``capacity.refresh_seconds`` of the
daemon's clock after its first tick, then at most that often, one computation
at a time, and not while no request has been answered since the last one,
unless that is ``IDLE_REFRESH`` old: the window slides; until the first, ``brb
status`` shows what the last daemon stored), running it (``python -m
brb.capacity_advice``, a worker process of its own: replaying a week of
traffic several times is seconds of CPU that must not hold the event loop or
its GIL), keeping the latest result (:attr:`latest`, which the scale hook
reads) and handing it to the store, where ``brb status`` and the admin status
read it. The worker gets the database location on stdin, never on its command
line (a PostgreSQL URL carries a password); a worker that fails or outlives
``WORKER_TIMEOUT_S`` is logged and, if needed, killed by its pid; the traffic
never waits on it.
Must not compute the advice itself (:mod:`brb.core.capacity` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from brb.config import BrbConfig
from brb.daemon.events import EventSink, RequestDone, Ticked
from brb.daemon.store_writer import StoreWriter

log = logging.getLogger(__name__)
WORKER_TIMEOUT_S = 600.0  # a worker still replaying after this is stopped (and retried later)
WORKER = (sys.executable, "-m", "brb.capacity_advice")
IDLE_REFRESH = timedelta(hours=1)  # with no new traffic, the advice is recomputed this often


def job_config(cfg: BrbConfig) -> dict[str, Any]:
    """The config as the worker re-reads it: only what was set (a full dump names both
    ``upstream`` and ``upstreams``, which a config may not), so it parses to ``cfg``."""
    return cfg.model_dump(mode="json", exclude_unset=True)


class CapacityAdvisor:
    def __init__(self, cfg: BrbConfig, location: str | Path, writer: StoreWriter) -> None:
        self._cfg = cfg
        self._location = str(location)
        self._writer = writer
        self._every = timedelta(seconds=cfg.capacity.refresh_seconds)
        self._due: datetime | None = None  # None: not ticked yet
        self._task: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self.latest: dict[str, Any] | None = None  # the advice's JSON, once computed
        self.latest_at: datetime | None = None
        self.runs = 0  # computations finished (tests wait on it)
        self._answered = 0  # requests answered since the last computation began

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(Ticked, self._tick)
        sink.subscribe(RequestDone, self._answered_one)

    def _answered_one(self, _e: RequestDone) -> None:
        self._answered += 1

    def _tick(self, e: Ticked) -> None:
        if self._due is None:
            self._due = e.at + self._every
        if self._task is not None or e.at < self._due:
            return
        self._due = e.at + self._every
        last = self.latest_at
        if self._answered == 0 and last is not None and e.at - last < IDLE_REFRESH:
            return  # nothing new to replay
        self._answered = 0
        self._task = asyncio.get_running_loop().create_task(
            self._compute(e.at), name="brb-capacity"
        )

    async def _compute(self, at: datetime) -> None:
        job = json.dumps(
            {"location": self._location, "config": job_config(self._cfg), "now": at.isoformat()}
        ).encode()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *WORKER,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(self._proc.communicate(job), WORKER_TIMEOUT_S)
            if self._proc.returncode != 0:
                why = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
                log.warning("capacity advice: the worker failed (exit %s): %s",
                            self._proc.returncode, why[0])  # fmt: skip
                return
            advice = json.loads(out)
        except TimeoutError:
            log.warning("capacity advice: the worker took over %.0fs; stopped, tried again "
                        "in %s", WORKER_TIMEOUT_S, self._every)  # fmt: skip
            self._stop_worker()
            return
        except (OSError, ValueError) as exc:
            log.warning("capacity advice: can't run the worker: %s", exc)
            return
        finally:
            self._task = None
        self.latest, self.latest_at = advice, at
        self.runs += 1
        self._writer.submit(self._writer.store.write_capacity_advice, at, advice)
        log.info("capacity advice: %s", advice.get("summary", ""))

    def _stop_worker(self) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()  # our own child, by its pid

    async def aclose(self) -> None:
        """At shutdown: stop a worker still running, and wait for it."""
        self._stop_worker()
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                await self._proc.wait()
