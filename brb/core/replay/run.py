"""One replay run's inputs and outputs: the parameters, what happened to each request, the timeline.

Owns the values ``brb replay`` passes to the simulator and gets back (their
field names are read by the summary, the oracle and the plots). Must not
simulate anything: :mod:`.simulator` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from brb.core.breaker import Mode, Thresholds
from brb.core.policy import Policy
from brb.core.pricing import DEFAULT_CLOUD_MODEL, ModelPrice
from brb.core.rules import RuleSet

# Black Friday 2026, midnight UTC: the default start of the simulated clock.
EPOCH = datetime(2026, 11, 27, tzinfo=UTC)
# What a lone upstream is called (the config's pool of one, ``upstream`` alone).
DEFAULT_UPSTREAM = "default"


@dataclass(frozen=True, slots=True)
class SimUpstream:
    """One simulated Ollama server of the pool: its name and parallel slots per model."""

    name: str
    parallel: int = 1


@dataclass(frozen=True, slots=True)
class SimParams:
    """Everything a run depends on besides the trace."""

    thresholds: Thresholds = Thresholds(queue_depth=50, wait_seconds=60.0)
    policy: Policy = Policy.OVERFLOW
    is_enabled: bool = True
    mode: Mode = Mode.AUTO
    excluded_sessions: tuple[str, ...] = ()
    slots: int = 1  # per model, on the one upstream when ``upstreams`` is empty
    upstreams: tuple[SimUpstream, ...] = ()  # a pool; empty: one upstream of ``slots``
    tokens_per_second: float = 30.0
    cloud_latency_s: float = 2.0
    cloud_model: str = DEFAULT_CLOUD_MODEL
    cloud_model_by_local: Mapping[str, str] = field(default_factory=dict)
    price_overrides: Mapping[str, ModelPrice] = field(default_factory=dict)
    max_tokens: int = 1024
    daily_limit_usd: Decimal = Decimal("100")
    alert_at_percent: tuple[float, ...] = (80.0,)
    tz: tzinfo = UTC
    start: datetime = EPOCH
    tick_s: float = 1.0
    waiting_room: bool = False
    first_content_s: float | None = None  # the provider's time to first content (cloud latency)
    prefill_tokens_per_second: float | None = None  # for requests without service_s
    rules: RuleSet = RuleSet()  # routing.rules, tried before the policy as the daemon does

    def cloud_model_for(self, local_model: str) -> str:
        return self.cloud_model_by_local.get(local_model, self.cloud_model)

    @property
    def pool(self) -> tuple[SimUpstream, ...]:
        """The simulated upstreams in pool order (``upstreams``, or one of ``slots``)."""
        return self.upstreams or (SimUpstream(DEFAULT_UPSTREAM, self.slots),)

    @property
    def total_slots(self) -> int:
        """Slots per model across the pool (what the oracle and the queue monitor assume)."""
        return sum(u.parallel for u in self.pool)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one request of the trace."""

    index: int
    arrival_s: float
    backend: str  # "local" | "cloud"
    reason: str  # the policy's reason code, or "budget" when the reservation failed
    wait_s: float  # arrival -> first byte (0 for the cloud)
    latency_s: float  # arrival -> last byte
    cost_usd: Decimal
    upstream: str = ""  # the upstream that served it locally ("" for the cloud)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at_s: float
    kind: str  # "activated" | "deactivated" | "budget_alert" | "budget_exhausted"
    reason: str


@dataclass(frozen=True, slots=True)
class UpstreamTally:
    """What one upstream of the pool did over the run."""

    name: str
    parallel: int
    served: int  # requests it served (sent to it and completed)
    busy_s: float  # slot-seconds spent serving them, cold loads included
    cold_loads: int  # models it had to load first


@dataclass(frozen=True, slots=True)
class SimResult:
    params: SimParams
    requests: int
    outcomes: tuple[Outcome, ...]  # completed requests, in trace order
    timeline: tuple[TimelineEntry, ...]
    cost_usd: Decimal
    end_s: float
    peak_queue_depth: int
    depth_series: tuple[tuple[float, int], ...]  # (t, requests waiting) at each change
    phase_series: tuple[tuple[float, bool], ...]  # (t, is_diverting) at each change
    spend_series: tuple[tuple[float, Decimal], ...]  # (t, settled so far) at each change
    upstreams: tuple[UpstreamTally, ...] = ()  # per upstream of the pool, in pool order

    @property
    def local(self) -> int:
        return sum(1 for o in self.outcomes if o.backend == "local")

    @property
    def diverted(self) -> int:
        return sum(1 for o in self.outcomes if o.backend == "cloud")

    @property
    def lost(self) -> int:
        return self.requests - len(self.outcomes)

    @property
    def activations(self) -> int:
        return sum(1 for e in self.timeline if e.kind == "activated")

    def at(self, t: float) -> datetime:
        return self.params.start + timedelta(seconds=t)
