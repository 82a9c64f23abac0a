"""The metrics listener: events in, Prometheus counters and gauges out.

Owns the mapping from daemon events to :class:`~brb.daemon.metrics.Metrics`
calls. Must not read the store or the clock: everything it sets comes in an
event. Its handlers run on the request path: each is a counter or a gauge.
"""

from __future__ import annotations

from brb.daemon.events import (
    AlertAttempted,
    BreakerMoved,
    BudgetSeen,
    EventSink,
    ProviderClosed,
    ProviderFailed,
    ProviderOpened,
    ProviderProbing,
    RequestDone,
    RolledOver,
    Routed,
    Settled,
    Ticked,
)
from brb.daemon.metrics import Metrics


class MetricsListener:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(Routed, self.routed)
        sink.subscribe(RequestDone, self.request_done)
        sink.subscribe(Settled, self.settled)
        sink.subscribe(ProviderFailed, self.provider_failed)
        sink.subscribe(ProviderOpened, self.provider_opened)
        sink.subscribe(ProviderProbing, self.provider_probing)
        sink.subscribe(ProviderClosed, self.provider_closed)
        sink.subscribe(BreakerMoved, self.breaker_moved)
        sink.subscribe(Ticked, self.ticked)
        sink.subscribe(BudgetSeen, self.budget_seen)
        sink.subscribe(RolledOver, self.rolled_over)
        sink.subscribe(AlertAttempted, self.alert_attempted)

    def routed(self, e: Routed) -> None:
        if e.divert:
            self.metrics.diverted()

    def request_done(self, e: RequestDone) -> None:
        self.metrics.request_done(e.row.backend, e.metric_outcome, e.row.latency_s or 0.0)

    def settled(self, e: Settled) -> None:
        self.metrics.cloud_usage(e.usage.input_tokens, e.usage.output_tokens, e.cost_usd)
        self.metrics.provider_settled(e.provider, e.cost_usd)

    def provider_opened(self, e: ProviderOpened) -> None:
        self.metrics.provider_state(e.provider, "open")

    def provider_probing(self, e: ProviderProbing) -> None:
        self.metrics.provider_state(e.provider, "half_open")

    def provider_closed(self, e: ProviderClosed) -> None:
        self.metrics.provider_state(e.provider, "closed")

    def provider_failed(self, e: ProviderFailed) -> None:
        self.metrics.provider_error(e.provider, e.status)

    def breaker_moved(self, e: BreakerMoved) -> None:
        self.metrics.breaker_transition(e.kind)

    def ticked(self, e: Ticked) -> None:
        obs = e.observation
        in_flight = sum(v.waiting + len(v.in_service_elapsed_s) for v in e.views.values())
        self.metrics.queue(obs.queue_depth, obs.wait_seconds, in_flight)
        self.metrics.breaker(e.phase.value == "active")
        self.metrics.mode(e.mode.value, e.is_diverting)

    def budget_seen(self, e: BudgetSeen) -> None:
        self.metrics.budget(e.snapshot)

    def rolled_over(self, e: RolledOver) -> None:
        self.metrics.budget(e.budget)  # drop yesterday's gauges at once

    def alert_attempted(self, e: AlertAttempted) -> None:
        a = e.attempt
        if a.final or a.ok:
            self.metrics.alert_delivery(a.notifier, "ok" if a.ok else "failed")
