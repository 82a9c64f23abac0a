"""The incident tracker: what one diverting episode did, from start to stop.

Owns the open incident (its id, when it began, requests diverted and their
dollars) and turns the diverting edges into :class:`IncidentOpened` and
:class:`IncidentClosed` events carrying it (the alerts resolve on the id).
A daemon started while pressed resumes the incident under the earlier
daemon's id. Must not send alerts or touch the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from brb.daemon.events import (
    DivertingStarted,
    DivertingStopped,
    EventSink,
    IncidentClosed,
    IncidentOpened,
    Settled,
)


def incident_id(start: datetime) -> str:
    return start.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


@dataclass(frozen=True, slots=True)
class OpenIncident:
    """The incident under way, as others may read it (the dashboard)."""

    id: str
    started_at: datetime
    requests: int
    cost_usd: Decimal


@dataclass(slots=True)
class _Incident:
    id: str
    start: datetime
    diverted: int = 0
    cost_usd: Decimal = Decimal(0)


class IncidentTracker:
    def __init__(self, resumed_since: datetime | None = None) -> None:
        """``resumed_since``: brb was already diverting when this daemon started."""
        self._sink: EventSink | None = None
        self._open: _Incident | None = None
        if resumed_since is not None:
            self._open = _Incident(incident_id(resumed_since), resumed_since)

    def subscribe(self, sink: EventSink) -> None:
        self._sink = sink
        sink.subscribe(DivertingStarted, self.started)
        sink.subscribe(DivertingStopped, self.stopped)
        sink.subscribe(Settled, self.settled)

    @property
    def open_id(self) -> str | None:
        return self._open.id if self._open else None

    def current(self) -> OpenIncident | None:
        inc = self._open
        return None if inc is None else OpenIncident(inc.id, inc.start, inc.diverted, inc.cost_usd)

    def started(self, e: DivertingStarted) -> None:
        self._open = _Incident(incident_id(e.at), e.at)
        if self._sink is not None:
            self._sink.publish(
                IncidentOpened(e.at, self._open.id, e.reason, e.source, e.who, e.observation)
            )

    def stopped(self, e: DivertingStopped) -> None:
        inc = self._open or _Incident("unknown", e.at)
        self._open = None
        if self._sink is not None:
            self._sink.publish(
                IncidentClosed(
                    e.at,
                    inc.id,
                    (e.at - inc.start).total_seconds(),
                    inc.diverted,
                    inc.cost_usd,
                    e.reason,
                    e.source,
                    e.who,
                )
            )

    def settled(self, e: Settled) -> None:
        if self._open is not None:
            self._open.diverted += 1
            self._open.cost_usd += e.cost_usd
