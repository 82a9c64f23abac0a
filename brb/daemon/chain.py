"""The provider chain: the configured providers in order, each behind its circuit breaker.

Owns, per provider entry (``providers.<name>``), its adapter, its settings
and the current :class:`~brb.core.provider_breaker.Circuit` value; asking the
breaker whether a request may go (:meth:`ProviderChain.admit`, which hands
out at most one probe while half-open), recording what came of it
(:meth:`ProviderChain.record`, which returns the edge crossed for the cloud
leg to publish), whether any provider could take a request now, and the
per-provider report that ``status`` and ``/metrics`` show. Which failures
are the provider's is decided here (:func:`outcome_of`).

Must not: call providers, convert, or spend (the cloud leg does), or read the
clock (``now`` comes in). Everything runs on the event loop, and admit/record
never await, so a half-open breaker hands out exactly one probe however many
requests arrive at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from brb.config import ProviderSpec
from brb.core.provider_breaker import (
    Admission,
    BreakerSettings,
    Circuit,
    Edge,
    Outcome,
    admit,
    is_admissible,
    peek,
    record,
)
from brb.errors import ProviderError

log = logging.getLogger(__name__)

# A 4xx the request itself caused (bad shape, too large, unprocessable) says nothing
# about the provider's health. 401/403/404 do: the key or model is wrong for everyone.
REQUEST_FAULT_STATUSES = frozenset({400, 413, 422})


class Provider(Protocol):
    """A provider adapter: brb's internal (Anthropic-shaped) params in, answers out."""

    name: str
    api_version: str

    async def create(self, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]: ...

    def stream(self, params: dict[str, Any]) -> Any: ...  # AsyncIterator[dict]


def outcome_of(exc: ProviderError) -> Outcome:
    """Whose fault a failed call was: the provider's, or the request's own."""
    if exc.status in REQUEST_FAULT_STATUSES and not exc.retryable:
        return Outcome.NEUTRAL
    return Outcome.FAILURE


@dataclass(slots=True)
class Link:
    """One provider of the chain and its breaker."""

    spec: ProviderSpec
    provider: Provider
    settings: BreakerSettings
    circuit: Circuit = field(default_factory=Circuit)

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class Ticket:
    """One admitted attempt; recorded exactly once."""

    link: Link
    admission: Admission

    @property
    def is_probe(self) -> bool:
        return self.admission is Admission.PROBE


class ProviderChain:
    def __init__(self, links: Sequence[Link]) -> None:
        self.links = list(links)
        self._by_name = {link.name: link for link in self.links}

    @classmethod
    def of(cls, pairs: Sequence[tuple[ProviderSpec, Provider]]) -> ProviderChain:
        return cls(
            [
                Link(
                    spec,
                    provider,
                    BreakerSettings(
                        failure_threshold=spec.failure_threshold, cooldown_s=spec.cooldown_s
                    ),
                )
                for spec, provider in pairs
            ]
        )

    @property
    def names(self) -> list[str]:
        return [link.name for link in self.links]

    def link(self, name: str) -> Link:
        return self._by_name[name]

    def __iter__(self) -> Iterator[Link]:
        return iter(self.links)

    def __len__(self) -> int:
        return len(self.links)

    def admit(self, link: Link, now: datetime) -> Ticket | None:
        """A ticket if ``link`` may take a request now (None: skip it)."""
        link.circuit, admission, edge = admit(link.circuit, now)
        if admission is Admission.SKIP:
            return None
        if edge is Edge.HALF_OPENED:
            log.info("%s: cooldown over, one request probes it", link.name)
        return Ticket(link, admission)

    def record(
        self,
        ticket: Ticket,
        outcome: Outcome,
        now: datetime,
        *,
        error: ProviderError | None = None,
    ) -> Edge | None:
        """What came of an admitted attempt; the breaker edge crossed, if any."""
        link = ticket.link
        link.circuit, edge = record(
            link.circuit,
            ticket.admission,
            outcome,
            now,
            link.settings,
            retry_after_s=error.retry_after_s if error is not None else None,
            error=str(error)[:300] if error is not None else None,
        )
        if edge is Edge.OPENED:
            log.warning("%s opened after %d failures in a row: skipped until %s",
                        link.name, link.circuit.failures, link.circuit.open_until)  # fmt: skip
        elif edge is Edge.REOPENED:
            log.warning("%s: the probe failed, skipped until %s", link.name,
                        link.circuit.open_until)  # fmt: skip
        elif edge is Edge.CLOSED:
            log.info("%s closed: the probe succeeded", link.name)
        return edge

    def has_candidate(self, now: datetime) -> bool:
        """Could some provider take a request now (closed, or half-open with no probe out)?"""
        return any(is_admissible(link.circuit, now) for link in self.links)

    def report(self, now: datetime) -> dict[str, dict[str, Any]]:
        """``{name: {state, failures, open_until, last_error}}`` in chain order."""
        return {
            link.name: {
                "kind": link.spec.kind,
                "model": link.spec.model,
                "state": peek(link.circuit, now).value,
                "failures": link.circuit.failures,
                "open_until": link.circuit.open_until.isoformat()
                if link.circuit.open_until is not None
                else None,
                "last_error": link.circuit.last_error,
            }
            for link in self.links
        }
