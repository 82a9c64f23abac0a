"""Where the daemon's happenings fan out: alerts, metrics, systemd, rollover.

Owns the bridge from what the request path and the breaker report (a
diverting edge, a settled cost, a provider failure, a budget crossing) to
the alerter, the Prometheus metrics and sd_notify, and the incident being
tracked (its id, requests diverted and dollars) for the deactivation alert.
Every call here is cheap and never raises into a request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from brb.config import BrbConfig
from brb.core.breaker import Observation
from brb.core.budget import budget_day
from brb.core.policy import Decision
from brb.core.queueing import QueueView
from brb.daemon import sdnotify
from brb.daemon.alerting import Alerter
from brb.daemon.metrics import Metrics
from brb.daemon.store_writer import StoreWriter
from brb.errors import ProviderError

if TYPE_CHECKING:
    from brb.daemon.app import Daemon

log = logging.getLogger(__name__)


class Hooks:
    def __init__(self, cfg: BrbConfig, writer: StoreWriter, clock: Callable[[], datetime]) -> None:
        self.cfg = cfg
        self.writer = writer
        self.clock = clock
        self.metrics = Metrics()
        self.alerter: Alerter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._incident: dict[str, Any] | None = None
        self._watchdog_s = sdnotify.watchdog_interval_s()
        self._last_watchdog = 0.0
        self._rollover: Any = None
        self._scheduler: Any = None
        self._button_seen_at = clock()
        self._providers: dict[str, dict[str, Any]] = {}

    # --- life ----------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.alerter = Alerter(
            self.cfg, self.writer.store, clock=self.clock, on_attempt=self._delivery
        )
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        from brb.daemon.rollover import RolloverWatch

        self._scheduler = AsyncIOScheduler(timezone=self.cfg.tz)
        self._rollover = RolloverWatch(self.cfg, self.writer.store, self._rolled_over)
        self._rollover.start(self._scheduler)
        self._scheduler.start()
        self.prune()
        if self._watchdog_s:
            self._loop.create_task(self._watchdog_loop(), name="brb-watchdog")

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        if self.alerter is not None:
            await self.alerter.aclose()

    def ready(self, address: str) -> None:
        sdnotify.ready()
        sdnotify.status(f"listening on {address}, standby")

    def stopping(self) -> None:
        sdnotify.stopping()

    async def _watchdog_loop(self) -> None:
        # From the event loop itself: a wedged loop stops the pings and systemd restarts us.
        while True:
            sdnotify.watchdog()
            await asyncio.sleep(self._watchdog_s or 10.0)

    def _delivery(self, attempt: Any) -> None:
        if attempt.final or attempt.ok:
            self.metrics.alert_delivery(attempt.notifier, "ok" if attempt.ok else "failed")

    def prune(self) -> None:
        """Keep ``retention_days`` of samples and request log (at start, then daily)."""
        before = self.clock() - timedelta(days=self.cfg.retention_days)
        self.writer.submit(self.writer.store.prune, before=before)

    def _rolled_over(self, rollover: Any) -> None:
        self.prune()
        if self.alerter is not None:
            self.alerter.rollover(
                self.clock(),
                new_day=str(rollover.day),
                previous_day=str(rollover.previous_day),
                previous_spend_usd=rollover.previous_spend_usd,
            )

    # --- the breaker and the operator ------------------------------------------------

    @staticmethod
    def _incident_id(start: datetime) -> str:
        return start.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")

    def resume_incident(self, start: datetime) -> None:
        """A daemon started while pressed: the incident began before it, under the
        same id, so its release resolves the page the earlier daemon opened."""
        self._incident = {"id": self._incident_id(start), "start": start, "diverted": 0,
                          "cost": Decimal(0)}  # fmt: skip

    def diverting_started(
        self, at: datetime, *, reason: str, obs: Observation | None, source: str, who: str
    ) -> None:
        incident_id = self._incident_id(at)
        self._incident = {"id": incident_id, "start": at, "diverted": 0, "cost": Decimal(0)}
        sdnotify.status(f"ACTIVE: {reason}")
        if self.alerter is not None:
            self.alerter.activated(
                at,
                reason=reason,
                queue_depth=obs.queue_depth if obs else 0,
                wait_s=obs.wait_seconds if obs else 0.0,
                source=source,
                who=who,
                incident_id=incident_id,
            )

    def diverting_stopped(self, at: datetime, *, reason: str, source: str, who: str) -> None:
        inc = self._incident or {"id": "unknown", "start": at, "diverted": 0, "cost": Decimal(0)}
        self._incident = None
        sdnotify.status("standby")
        if self.alerter is not None:
            self.alerter.deactivated(
                at,
                duration_s=(at - inc["start"]).total_seconds(),
                diverted=inc["diverted"],
                cost_usd=inc["cost"],
                source=source,
                who=who,
                incident_id=inc["id"],
                reason=reason,
            )

    def breaker_transition(self, kind: str) -> None:
        self.metrics.breaker_transition(kind)

    # --- the request path -------------------------------------------------------------

    def routed(self, path: str, decision: Decision) -> None:
        if decision.divert:
            self.metrics.diverted()

    def request_done(self, backend: str, outcome: str, duration_s: float) -> None:
        self.metrics.request_done(backend, outcome, duration_s)

    def settled(
        self,
        at: datetime,
        *,
        provider: str,
        cost_usd: Decimal,
        input_tokens: int,
        output_tokens: int,
        latency_s: float,
    ) -> None:
        self._provider(provider)["last_ok_at"] = at
        if self._incident is not None:
            self._incident["diverted"] += 1
            self._incident["cost"] += cost_usd
        self.metrics.cloud_usage(input_tokens, output_tokens, cost_usd)

    def _provider(self, name: str) -> dict[str, Any]:
        return self._providers.setdefault(
            name,
            {
                "name": name,
                "last_ok_at": None,
                "last_error_at": None,
                "last_error": None,
                "recent_errors": [],
            },
        )

    def provider_health(self, names: list[str]) -> list[dict[str, Any]]:
        """Per provider: last success, last error, errors in the last minute."""
        now = self.clock()
        out = []
        for p in (self._provider(n) for n in names):
            recent = [t for t in p["recent_errors"] if (now - t).total_seconds() < 60]
            p["recent_errors"] = recent
            out.append(
                {
                    "name": p["name"],
                    "healthy": not recent
                    or (p["last_ok_at"] is not None and p["last_ok_at"] > recent[-1]),
                    "errors_last_minute": len(recent),
                    "last_ok_at": p["last_ok_at"].isoformat() if p["last_ok_at"] else None,
                    "last_error_at": p["last_error_at"].isoformat() if p["last_error_at"] else None,
                    "last_error": p["last_error"],
                }
            )
        return out

    def provider_failed(self, at: datetime, provider: str, error: ProviderError) -> None:
        p = self._provider(provider)
        p["last_error_at"] = at
        p["last_error"] = str(error)[:300]
        p["recent_errors"].append(at)
        self.metrics.provider_error(provider, error.status)
        if self.alerter is not None:
            self.alerter.provider_error(at, provider=provider, error=str(error))

    def budget_crossed(
        self,
        at: datetime,
        *,
        day: str,
        percents: list[float],
        spent_usd: Decimal,
        limit_usd: Decimal,
        exhausted: bool,
    ) -> None:
        """Called on the store writer thread: hop to the event loop."""
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(
            self._budget_crossed, at, day, percents, spent_usd, limit_usd, exhausted
        )

    def _budget_crossed(
        self,
        at: datetime,
        day: str,
        percents: list[float],
        spent: Decimal,
        limit: Decimal,
        exhausted: bool,
    ) -> None:
        if self.alerter is None:
            return
        for p in percents:
            self.alerter.budget_percent(at, day=day, percent=p, spent_usd=spent, limit_usd=limit)
        if exhausted:
            self.alerter.budget_exhausted(at, day=day, spent_usd=spent, limit_usd=limit)

    # --- the 1 s tick -----------------------------------------------------------------

    def _button_events(self, daemon: Daemon) -> None:
        """The button listener is another process: pick up its unplug/replug events."""
        events = daemon.reader.events(
            kinds=["button_unplugged", "button_replugged"], since=self._button_seen_at
        )
        for e in events:
            self._button_seen_at = max(self._button_seen_at, e.at + timedelta(microseconds=1))
            if self.alerter is not None:
                self.alerter.button(
                    e.at,
                    event_kind=e.kind,
                    event_id=e.id,
                    device=str(e.detail.get("device", "")),
                    detail=str(e.detail.get("error", e.reason)),
                )

    def tick(self, daemon: Daemon, views: dict[str, QueueView]) -> None:
        self._button_events(daemon)
        obs = daemon.live.last_observation
        self.metrics.queue(
            obs.queue_depth,
            obs.wait_seconds,
            sum(v.waiting + len(v.in_service_elapsed_s) for v in views.values()),
        )
        self.metrics.breaker(daemon.live.phase.value == "active")
        self.metrics.mode(daemon.live.mode.value, daemon.live.is_diverting)
        day = budget_day(self.clock(), self.cfg.tz)
        self.writer.submit(
            lambda: self.metrics.budget(
                self.writer.store.ledger.snapshot(day, self.cfg.budget.daily_limit_usd)
            )
        )
