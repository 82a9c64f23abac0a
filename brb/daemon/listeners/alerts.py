"""The alerts listener: which events become which alerts.

Owns the :class:`~brb.daemon.alerting.Alerter` (its delivery workers and its
aiohttp session: :meth:`AlertsListener.aclose` at shutdown) and the mapping
from events to alert calls: an incident opened or closed, a provider
failure, a budget percent or exhaustion, a rollover, a button unplug or
replug, an Ollama upstream down or back up, the store failing a reservation,
a scale hook that failed. Each delivery attempt comes back as an
:class:`AlertAttempted` event.

In a fleet (PostgreSQL) a breaker trip pages once for the fleet: the incident
alerts are keyed by the fleet's incident (the shared breaker row, read on the
store writer's thread just after this instance's own breaker write), so the
instances that trip later claim an activation already sent, and an instance
that lets go while another is still active sends no resolve: the last one
does. With SQLite nothing of this applies.
Must not decide when any of those happen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from brb.adapters.notifiers.delivery import DeliveryAttempt
from brb.config import BrbConfig
from brb.core.breaker import BreakerState, Phase
from brb.daemon.alerting import Alerter
from brb.daemon.events import (
    AlertAttempted,
    BudgetCrossed,
    ButtonEvent,
    EventSink,
    IncidentClosed,
    IncidentOpened,
    ProviderClosed,
    ProviderFailed,
    ProviderOpened,
    RolledOver,
    ScaleHookCalled,
    StoreUnavailable,
    UpstreamDown,
    UpstreamUp,
)
from brb.daemon.listeners.incidents import incident_id
from brb.daemon.store_writer import StoreWriter
from brb.errors import BrbError

log = logging.getLogger(__name__)
BREAKER_SOURCE = "breaker"  # the source of a diverting edge the breaker made


class AlertsListener:
    def __init__(
        self, cfg: BrbConfig, writer: StoreWriter, clock: Callable[[], datetime], sink: EventSink
    ) -> None:
        self._sink = sink
        self._writer = writer
        self._fleet = writer.store.kind == "postgresql"
        self._fleet_start: datetime | None = None  # the fleet incident this instance is in
        self._fleet_lock = asyncio.Lock()  # an opening's page is decided before its closing's
        self._tasks: set[asyncio.Task[None]] = set()
        self.alerter = Alerter(cfg, writer.store, clock=clock, on_attempt=self._attempted)

    def _attempted(self, attempt: DeliveryAttempt) -> None:
        self._sink.publish(AlertAttempted(attempt))

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(IncidentOpened, self.incident_opened)
        sink.subscribe(IncidentClosed, self.incident_closed)
        sink.subscribe(ProviderFailed, self.provider_failed)
        sink.subscribe(ProviderOpened, self.provider_opened)
        sink.subscribe(ProviderClosed, self.provider_closed)
        sink.subscribe(BudgetCrossed, self.budget_crossed)
        sink.subscribe(RolledOver, self.rolled_over)
        sink.subscribe(ButtonEvent, self.button)
        sink.subscribe(UpstreamDown, self.upstream_down)
        sink.subscribe(UpstreamUp, self.upstream_up)
        sink.subscribe(StoreUnavailable, self.store_unavailable)
        sink.subscribe(ScaleHookCalled, self.scale_hook_called)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        await self.alerter.aclose()

    def incident_opened(self, e: IncidentOpened) -> None:
        if self._fleet and e.source == BREAKER_SOURCE:
            self._spawn(self._fleet_opened(e))
            return
        self._activated(e, e.incident_id)

    def incident_closed(self, e: IncidentClosed) -> None:
        if self._fleet and e.source == BREAKER_SOURCE:
            self._spawn(self._fleet_closed(e))
            return
        self._deactivated(e, e.incident_id, e.duration_s)

    # --- the fleet's one pager -------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work, name="brb-alerts-fleet")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _shared_breaker(self) -> BreakerState | None:
        """The fleet's breaker, read after this instance's own write (the writer's
        one thread runs its calls in order); None if the store can't say."""
        try:
            return await self._writer.call(self._writer.store.read_breaker)
        except (BrbError, RuntimeError) as exc:  # the store away, or the writer closed
            log.warning("alerts: can't read the fleet's breaker (%s); paging anyway", exc)
            return None

    async def _fleet_opened(self, e: IncidentOpened) -> None:
        async with self._fleet_lock:
            shared = await self._shared_breaker()
            if shared is not None and shared.phase is Phase.ACTIVE and shared.since is not None:
                self._fleet_start = shared.since  # the first instance's trip: its page
            else:  # can't tell: a duplicate beats a lost page
                self._fleet_start = e.at
            self._activated(e, incident_id(self._fleet_start))

    async def _fleet_closed(self, e: IncidentClosed) -> None:
        async with self._fleet_lock:
            start = self._fleet_start
            self._fleet_start = None
            fleet_id = incident_id(start) if start is not None else e.incident_id
            shared = await self._shared_breaker()
            if (
                shared is not None
                and shared.phase is Phase.ACTIVE
                and shared.since is not None
                and incident_id(shared.since) == fleet_id
            ):
                log.info("alerts: another instance is still active; the last one resolves")
                return
            duration_s = (e.at - start).total_seconds() if start is not None else e.duration_s
            self._deactivated(e, fleet_id, duration_s)

    # --- one alert per event -------------------------------------------------

    def _activated(self, e: IncidentOpened, incident: str) -> None:
        self.alerter.activated(
            e.at,
            reason=e.reason,
            queue_depth=e.observation.queue_depth,
            wait_s=e.observation.wait_seconds,
            source=e.source,
            who=e.who,
            incident_id=incident,
        )

    def _deactivated(self, e: IncidentClosed, incident: str, duration_s: float) -> None:
        self.alerter.deactivated(
            e.at,
            duration_s=duration_s,
            diverted=e.diverted,
            cost_usd=e.cost_usd,
            source=e.source,
            who=e.who,
            incident_id=incident,
            reason=e.reason,
        )

    def provider_failed(self, e: ProviderFailed) -> None:
        self.alerter.provider_error(e.at, provider=e.provider, error=e.message)

    def provider_opened(self, e: ProviderOpened) -> None:
        if e.reopened:  # a failed probe: the same outage, already paged
            return
        self.alerter.provider_opened(
            e.at, provider=e.provider, failures=e.failures, resting_s=e.resting_s,
            last_error=e.last_error or "",
        )  # fmt: skip

    def provider_closed(self, e: ProviderClosed) -> None:
        self.alerter.provider_closed(e.at, provider=e.provider)

    def upstream_down(self, e: UpstreamDown) -> None:
        self.alerter.upstream_down(e.at, upstream=e.upstream, url=e.url)

    def upstream_up(self, e: UpstreamUp) -> None:
        self.alerter.upstream_up(e.at, upstream=e.upstream, url=e.url)

    def store_unavailable(self, e: StoreUnavailable) -> None:
        self.alerter.store_unavailable(e.at, store=e.store, error=e.error)

    def scale_hook_called(self, e: ScaleHookCalled) -> None:
        if e.error is not None:
            self.alerter.scale_hook_failed(e.at, target=e.target, error=e.error)

    def budget_crossed(self, e: BudgetCrossed) -> None:
        for p in e.percents:
            self.alerter.budget_percent(
                e.at, day=e.day, percent=p, spent_usd=e.spent_usd, limit_usd=e.limit_usd
            )
        if e.exhausted:
            self.alerter.budget_exhausted(
                e.at, day=e.day, spent_usd=e.spent_usd, limit_usd=e.limit_usd
            )

    def rolled_over(self, e: RolledOver) -> None:
        self.alerter.rollover(
            e.at,
            new_day=str(e.day),
            previous_day=str(e.previous_day),
            previous_spend_usd=e.previous_spend_usd,
        )

    def button(self, e: ButtonEvent) -> None:
        self.alerter.button(
            e.at, event_kind=e.kind, event_id=e.event_id, device=e.device, detail=e.detail
        )
