"""What a leg (local or cloud) hands back: one result shape for both.

Owns :class:`LegResult` (the response sent, who served it, with which model,
its status, tokens, timings, route reason and outcome) and its one mapping
to a request-log row (:meth:`LegResult.row`), so the front never reads a
provider back from a header or usage from under a response key; and
:class:`CloudRoute`, where a diverted request goes (provider, model, price),
computed once per request and passed along. Must not do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from aiohttp import web

from brb.core.pricing import ModelPrice, Usage
from brb.core.request_log import RequestRow
from brb.core.value_type import value_type

LOCAL_BACKEND = "ollama"  # the request log's and the metrics' name for the local leg


class Leg(StrEnum):
    LOCAL = "local"
    CLOUD = "cloud"


@value_type
class CloudRoute:
    """Where a diverted request would go: the providers to try (in chain order,
    none resting; the first is the provider), the cloud model, its price."""

    providers: tuple[str, ...]
    cloud_model: str
    price: ModelPrice | None  # None: no known price, so it is not diverted

    @property
    def provider(self) -> str | None:
        return self.providers[0] if self.providers else None


@dataclass(frozen=True, slots=True)
class Declined:
    """The cloud leg sent nothing: the request goes local, for this route reason
    (``fallback``; ``not_convertible`` / ``unbounded_cost`` when converting it failed)."""

    reason: str


FALLBACK = Declined("fallback")


@value_type
class LegResult:
    response: web.StreamResponse
    leg: Leg
    backend: str  # "ollama", or the provider that answered (the X-BRB-Provider header)
    upstream: str  # the pool member's name (X-BRB-Upstream), or the provider's name
    model: str  # the model that answered (the cloud model for a diversion; "" passthrough)
    status: int
    reason: str  # the route reason (standby, pressed, overflow, fallback, ...)
    latency_s: float  # arrival at the leg to the last byte
    usage: Usage | None = None  # None: the answer said nothing about tokens
    wait_s: float | None = None  # local: time waiting for an Ollama slot
    service_s: float | None = None  # local: Ollama's own load + prompt + eval time
    outcome: str = "ok"  # ok, error (an error status), error_midstream, client_gone

    def row(self, at: datetime, day: str, endpoint: str, model: str, session: str) -> RequestRow:
        """The request-log row of this result (``model``: what the client asked for)."""
        usage = self.usage
        return RequestRow(
            at,
            day,
            endpoint,
            model,
            session,
            self.backend,
            self.reason,
            self.status,
            self.wait_s,
            self.service_s,
            self.latency_s,
            usage.input_tokens if usage else None,
            usage.output_tokens if usage else None,
            self.outcome,
            self.upstream if self.leg is Leg.LOCAL else None,
        )
