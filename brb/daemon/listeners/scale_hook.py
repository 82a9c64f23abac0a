"""The scale hook: tells ops' tooling when the breaker has been active too long.

Owns when ``scale_hook`` is called: once per activation of the breaker, at
the first tick after it has been active ``scale_hook_after_seconds`` (by the
tick's own time, the daemon's clock), and the JSON it gets: how many extra
slots (per model, as a new Ollama server adds them) the queue waiting now
would need to start within the wait threshold
(:func:`brb.core.scale_need.extra_slots_for_queue`), the capacity advice's
figure from the recorded traffic when there is one, the pool, the queue
depth, the wait and since when. A press is not the breaker: it never calls
the hook. Delivery is :mod:`brb.adapters.scale_hook`'s, in a task of its
own: a hook that fails or hangs is logged, recorded as a ``scale_hook``
event and alerted (:class:`ScaleHookCalled` with its error), and never
touches a request. No secrets in the payload: URLs lose their credentials,
no keys or tokens are read here. brb never buys machines itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from brb.adapters import scale_hook
from brb.capacity_config import ScaleHook
from brb.config import BrbConfig
from brb.core.breaker import Phase
from brb.core.redaction import redact_url
from brb.core.scale_need import QueueNow, extra_slots_for_queue
from brb.daemon.events import BreakerMoved, EventSink, ScaleHookCalled, Ticked
from brb.daemon.store_writer import StoreWriter

log = logging.getLogger(__name__)
PAYLOAD_VERSION = 1


class ScaleHookListener:
    def __init__(
        self,
        cfg: BrbConfig,
        hook: ScaleHook,
        *,
        writer: StoreWriter,
        sink: EventSink,
        pool: Callable[[], Sequence[Mapping[str, Any]]],
        advice: Callable[[], Mapping[str, Any] | None] = lambda: None,
    ) -> None:
        """``pool``: the members as status reports them (name, url, healthy, ...);
        ``advice``: the latest capacity advice (JSON), if any."""
        self._cfg = cfg
        self._hook = hook
        self._after_s = cfg.scale_hook_after_seconds
        self._writer = writer
        self._sink = sink
        self._pool = pool
        self._advice = advice
        self._parallel = {spec.name: spec.parallel for spec in cfg.upstream_pool()}
        self._since: datetime | None = None  # when the current activation began
        self._reason = ""
        self._called = False  # for the current activation
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(BreakerMoved, self._moved)
        sink.subscribe(Ticked, self._tick)

    def _moved(self, e: BreakerMoved) -> None:
        self._since = e.at if e.kind == "activated" else None
        self._reason = e.reason
        self._called = False

    def _tick(self, e: Ticked) -> None:
        if e.phase is not Phase.ACTIVE:
            self._since, self._called = None, False
            return
        if self._since is None:  # active before this listener heard the edge
            self._since = e.at
        if self._called or (e.at - self._since).total_seconds() < self._after_s:
            return
        self._called = True
        payload = self.payload(e)
        task = asyncio.get_running_loop().create_task(self._call(e.at, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def payload(self, e: Ticked) -> dict[str, Any]:
        """What the hook gets (documented in docs/capacity.md)."""
        assert self._since is not None
        cap = self._cfg.capacity.max_extra_slots
        now_needed = extra_slots_for_queue(
            (QueueNow(v.waiting, v.slots, v.service_ewma_s) for v in e.views.values()),
            self._cfg.thresholds.wait_time_seconds,
            max_extra_slots=cap,
        )
        advice = self._advice()
        advised = None if advice is None else advice.get("extra_slots_needed", 0)
        from_traffic = cap if advice is not None and advised is None else (advised or 0)
        members = self._pool()
        return {
            "event": "brb.scale_hook",
            "version": PAYLOAD_VERSION,
            "at": e.at.isoformat(),
            "active_since": self._since.isoformat(),
            "active_seconds": round((e.at - self._since).total_seconds(), 3),
            "reason": self._reason,
            "extra_slots_needed": max(now_needed, from_traffic),
            "extra_slots_for_queue_now": now_needed,
            "extra_slots_from_recorded_traffic": None if advice is None else advised,
            "max_extra_slots": cap,
            "slots": sum(self._parallel.values()),
            "queue_depth": e.observation.queue_depth,
            "wait_seconds": round(e.observation.wait_seconds, 3),
            "wait_threshold_seconds": self._cfg.thresholds.wait_time_seconds,
            "pool": [
                {
                    "name": m.get("name"),
                    "url": redact_url(str(m.get("url", ""))),
                    "parallel": self._parallel.get(str(m.get("name")), 1),
                    "healthy": m.get("healthy"),
                }
                for m in members
            ],
            "advice": None
            if advice is None
            else {k: advice.get(k) for k in ("window_days", "button_cost_usd", "summary")},
        }

    async def _call(self, at: datetime, payload: dict[str, Any]) -> None:
        target = scale_hook.describe(self._hook)
        needed = int(payload["extra_slots_needed"])
        error: str | None = None
        try:
            await scale_hook.deliver(self._hook, payload)
        except scale_hook.ScaleHookFailed as exc:
            error = str(exc)
        except Exception as exc:  # a hook bug must not take the daemon with it
            error = f"scale hook {target}: {type(exc).__name__}: {exc}"
        if error is None:
            log.info("scale hook %s told: %d more slot(s) needed", target, needed)
        else:
            log.warning("%s (the traffic is not affected)", error)
        store = self._writer.store
        self._writer.submit(
            store.add_event,
            "scale_hook",
            at=at,
            source="daemon",
            who=target,
            reason=error or f"{needed} more slot(s) needed",
            detail={"extra_slots_needed": needed, "ok": error is None},
        )
        self._sink.publish(ScaleHookCalled(at, target, needed, error))

    async def aclose(self) -> None:
        """At shutdown: let a call in flight finish (each is bounded by its timeout)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self._hook.timeout_seconds + 1)
