"""Prometheus metrics for ``GET /metrics``.

Owns every metric brb exports: their names (``brb_`` prefix, base units --
seconds, US dollars -- and ``_total`` on counters), their help text, and
the bounded label values. Everything lives on a private
:class:`~prometheus_client.CollectorRegistry` so two daemons in one process
(tests) never collide and nothing from the global registry leaks in.

Labels stay low-cardinality: a backend is ``ollama`` or ``anthropic``, an
outcome one of :data:`OUTCOMES`, a notifier one of :data:`NOTIFIERS`; any
other value is folded into ``other``. No session, request or model labels.

The daemon calls the :class:`Metrics` methods on its hot path: each is a
counter increment or a gauge set, nothing more; the two every answered
request moves (``request_done``) are plain numbers, exposed at scrape time by
:mod:`brb.daemon.request_metrics`. Must not read the store or the clock; the
daemon pushes values in.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Info,
    generate_latest,
)

from brb import __version__
from brb.core.budget import BudgetSnapshot
from brb.daemon.request_metrics import RequestTally

BACKENDS = ("ollama", "anthropic")
# ok: answered; error: failed and nothing else served it; fallback: a cloud
# failure served locally instead; rejected: refused before dispatch (4xx,
# too large); cancelled: the client went away first.
OUTCOMES = ("ok", "error", "fallback", "rejected", "cancelled")
NOTIFIERS = ("slack", "pagerduty", "webhook", "statuspage")
DELIVERY_OUTCOMES = ("ok", "retry", "failed")
MODES = ("auto", "on", "off")
PROVIDER_STATES = ("closed", "open", "half_open")
OTHER = "other"
# Provider error statuses worth their own series; the rest fold into 4xx/5xx.
_STATUSES = frozenset({400, 401, 403, 404, 413, 429, 500, 502, 503, 504, 529})
# LLM requests run from a fraction of a second to minutes.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)


def _bounded(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else OTHER


def status_class(status: int | None) -> str:
    """A provider error's ``status`` label: a known code, ``4xx``/``5xx``, or
    ``network`` when no HTTP answer came back (timeout, refused, reset)."""
    if status is None:
        return "network"
    if status in _STATUSES:
        return str(status)
    return f"{status // 100}xx" if 100 <= status < 600 else OTHER


class Metrics:
    """brb's metrics on their own registry; cheap methods for the hot path."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        # the per-request pair: plain numbers, exposed at scrape time (see request_metrics)
        tally = RequestTally(BACKENDS, OUTCOMES, DURATION_BUCKETS)
        r.register(tally)
        self.request_done: Callable[[str, str, float], None] = tally.add
        """One request answered: ``(backend, outcome, duration_s)``."""
        self._queue_depth = Gauge(
            "brb_queue_depth", "Local requests waiting for their first byte", registry=r
        )
        self._queue_wait = Gauge(
            "brb_queue_wait_seconds", "Current local wait (arrival to first byte)", registry=r
        )
        self._in_flight = Gauge(
            "brb_in_flight_requests", "Requests being served locally now", registry=r
        )
        self._dropped_writes = Gauge(
            "brb_store_writes_dropped",
            "Store rows and writes dropped (a full buffer or write queue): the store fell behind",
            registry=r,
        )
        self._breaker = Gauge(
            "brb_breaker_active", "1 when the automatic breaker is active", registry=r
        )
        self._transitions = Counter(
            "brb_breaker_transitions",
            "Automatic breaker transitions, by new state",
            ["to"],
            registry=r,
        )
        self._mode = Enum(
            "brb_mode",
            "The operator's override: auto, on (pressed), off (held)",
            states=list(MODES),
            registry=r,
        )
        self._diverting = Gauge(
            "brb_diverting", "1 when eligible traffic goes to the cloud", registry=r
        )
        self._diverted = Counter(
            "brb_diverted_requests", "Requests sent to a cloud provider", registry=r
        )
        self._tokens = Counter(
            "brb_cloud_tokens", "Cloud tokens, by direction", ["direction"], registry=r
        )
        self._spend = Counter(
            "brb_cloud_spend_usd",
            "Settled cloud spend since the daemon started, US dollars",
            registry=r,
        )
        self._budget_limit = Gauge("brb_budget_limit_usd", "Today's cloud budget", registry=r)
        self._budget_spent = Gauge("brb_budget_spent_usd", "Settled spend today", registry=r)
        self._budget_reserved = Gauge(
            "brb_budget_reserved_usd", "Open worst-case reservations today", registry=r
        )
        self._budget_remaining = Gauge(
            "brb_budget_remaining_usd", "Limit minus spent minus reserved", registry=r
        )
        self._budget_exhausted = Gauge(
            "brb_budget_exhausted", "1 when today's budget can't take another request", registry=r
        )
        self._provider_errors = Counter(
            "brb_provider_errors", "Cloud provider failures", ["provider", "status"], registry=r
        )
        self._provider_state = Gauge(
            "brb_provider_state",
            "1 for each provider's current breaker state (closed, open, half_open)",
            ["provider", "state"],
            registry=r,
        )
        self._provider_opened = Counter(
            "brb_provider_opened", "Times a provider's breaker opened", ["provider"], registry=r
        )
        self._provider_requests = Counter(
            "brb_provider_requests",
            "Diverted requests answered (settled) by each provider",
            ["provider"],
            registry=r,
        )
        self._provider_spend = Counter(
            "brb_provider_spend_usd", "Settled spend by provider, US dollars", ["provider"],
            registry=r,
        )  # fmt: skip
        self._providers: tuple[str, ...] = ()
        self._upstream_up = Gauge(
            "brb_upstream_up", "1 while an Ollama upstream of the pool is healthy", ["upstream"],
            registry=r,
        )  # fmt: skip
        self._upstream_depth = Gauge(
            "brb_upstream_queue_depth", "Requests waiting in brb for each upstream", ["upstream"],
            registry=r,
        )  # fmt: skip
        self._upstream_in_flight = Gauge(
            "brb_upstream_in_flight", "Requests brb has sent each upstream", ["upstream"],
            registry=r,
        )  # fmt: skip
        self._upstream_wait = Gauge(
            "brb_upstream_predicted_wait_seconds",
            "When a request sent to each upstream now would start",
            ["upstream"],
            registry=r,
        )
        self._alerts = Counter(
            "brb_alert_deliveries", "Alert delivery attempts", ["notifier", "outcome"], registry=r
        )
        self._build = Info("brb_build", "brb's version", registry=r)
        self._build.info({"version": __version__, "python": platform.python_version()})

        # Series that exist from the first scrape, at zero: rate() needs them.
        for to in ("active", "standby"):
            self._transitions.labels(to)
        for direction in ("input", "output"):
            self._tokens.labels(direction)
        for notifier in NOTIFIERS:
            for outcome in DELIVERY_OUTCOMES:
                self._alerts.labels(notifier, outcome)
        self._mode.state("auto")

    # --- hot path ----------------------------------------------------------------

    def count_dropped_writes(self, read: Callable[[], int]) -> None:
        """Read the store writer's drop count at every scrape."""
        self._dropped_writes.set_function(read)

    def queue(self, depth: int, wait_s: float, in_flight: int | None = None) -> None:
        self._queue_depth.set(depth)
        self._queue_wait.set(wait_s)
        if in_flight is not None:
            self._in_flight.set(in_flight)

    def breaker(self, is_active: bool) -> None:
        self._breaker.set(1 if is_active else 0)

    def breaker_transition(self, kind: str) -> None:
        """``kind`` is the breaker's transition: ``activated`` or ``deactivated``."""
        is_active = kind == "activated"
        self._transitions.labels("active" if is_active else "standby").inc()
        self.breaker(is_active)

    def mode(self, mode: str, is_diverting: bool) -> None:
        self._mode.state(mode if mode in MODES else "auto")
        self._diverting.set(1 if is_diverting else 0)

    def diverted(self) -> None:
        self._diverted.inc()

    def cloud_usage(self, input_tokens: int, output_tokens: int, cost_usd: Decimal) -> None:
        """A settled cloud request: its tokens and what it cost."""
        self._tokens.labels("input").inc(max(0, input_tokens))
        self._tokens.labels("output").inc(max(0, output_tokens))
        if cost_usd > 0:
            self._spend.inc(float(cost_usd))

    def budget(self, snap: BudgetSnapshot) -> None:
        self._budget_limit.set(float(snap.limit_usd))
        self._budget_spent.set(float(snap.settled_usd))
        self._budget_reserved.set(float(snap.reserved_usd))
        self._budget_remaining.set(float(snap.remaining_usd))
        self._budget_exhausted.set(1 if snap.is_exhausted else 0)

    def providers(self, names: list[str]) -> None:
        """The chain's provider names (config-bounded label values), all closed at start."""
        self._providers = tuple(names)
        for name in names:
            self.provider_state(name, "closed")
            self._provider_opened.labels(name)
            self._provider_requests.labels(name)
            self._provider_spend.labels(name)

    def _provider(self, name: str) -> str:
        return _bounded(name, self._providers + BACKENDS)

    def provider_state(self, provider: str, state: str) -> None:
        name = self._provider(provider)
        for s in PROVIDER_STATES:
            self._provider_state.labels(name, s).set(1 if s == state else 0)
        if state == "open":
            self._provider_opened.labels(name).inc()

    def provider_settled(self, provider: str, cost_usd: Decimal) -> None:
        name = self._provider(provider)
        self._provider_requests.labels(name).inc()
        if cost_usd > 0:
            self._provider_spend.labels(name).inc(float(cost_usd))

    def provider_error(self, provider: str, status: int | None) -> None:
        self._provider_errors.labels(self._provider(provider), status_class(status)).inc()

    def upstreams(self, reports: list[dict[str, Any]]) -> None:
        """Each upstream of the pool as status reports it (names come from the config)."""
        for u in reports:
            name = str(u["name"])
            self._upstream_up.labels(name).set(1 if u["healthy"] else 0)
            self._upstream_depth.labels(name).set(float(u["queue_depth"]))
            self._upstream_in_flight.labels(name).set(float(u["in_flight"]))
            self._upstream_wait.labels(name).set(float(u["predicted_wait_s"]))

    def alert_delivery(self, notifier: str, outcome: str) -> None:
        self._alerts.labels(
            _bounded(notifier, NOTIFIERS), _bounded(outcome, DELIVERY_OUTCOMES)
        ).inc()

    # --- exposition ----------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The body and Content-Type for ``GET /metrics``."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
