"""The alerts listener: which events become which alerts.

Owns the :class:`~brb.daemon.alerting.Alerter` (its delivery workers and its
aiohttp session: :meth:`AlertsListener.aclose` at shutdown) and the mapping
from events to alert calls: an incident opened or closed, a provider
failure, a budget percent or exhaustion, a rollover, a button unplug or
replug. Each delivery attempt comes back as an :class:`AlertAttempted` event.
Must not decide when any of those happen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from brb.adapters.notifiers.delivery import DeliveryAttempt
from brb.adapters.store import Store
from brb.config import BrbConfig
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
)


class AlertsListener:
    def __init__(
        self, cfg: BrbConfig, store: Store, clock: Callable[[], datetime], sink: EventSink
    ) -> None:
        self._sink = sink
        self.alerter = Alerter(cfg, store, clock=clock, on_attempt=self._attempted)

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

    async def aclose(self) -> None:
        await self.alerter.aclose()

    def incident_opened(self, e: IncidentOpened) -> None:
        self.alerter.activated(
            e.at,
            reason=e.reason,
            queue_depth=e.observation.queue_depth,
            wait_s=e.observation.wait_seconds,
            source=e.source,
            who=e.who,
            incident_id=e.incident_id,
        )

    def incident_closed(self, e: IncidentClosed) -> None:
        self.alerter.deactivated(
            e.at,
            duration_s=e.duration_s,
            diverted=e.diverted,
            cost_usd=e.cost_usd,
            source=e.source,
            who=e.who,
            incident_id=e.incident_id,
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
