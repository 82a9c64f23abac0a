"""Provider health for the status endpoint: last success, last error, recent errors.

Owns, per provider, when it last answered, when and how it last failed and
its failures in the last minute, learnt from :class:`Settled` and
:class:`ProviderFailed`. Must not decide whether a provider is tried (the
cloud leg's backoff does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from brb.daemon.events import EventSink, ProviderFailed, Settled

RECENT_S = 60.0


@dataclass(slots=True)
class _Health:
    last_ok_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    recent_errors: list[datetime] = field(default_factory=list)


class ProviderHealth:
    def __init__(self) -> None:
        self._by_name: dict[str, _Health] = {}

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(Settled, self.settled)
        sink.subscribe(ProviderFailed, self.failed)

    def settled(self, e: Settled) -> None:
        self._by_name.setdefault(e.provider, _Health()).last_ok_at = e.at

    def failed(self, e: ProviderFailed) -> None:
        h = self._by_name.setdefault(e.provider, _Health())
        h.last_error_at = e.at
        h.last_error = e.message[:300]
        h.recent_errors.append(e.at)

    def report(self, names: list[str], now: datetime) -> list[dict[str, Any]]:
        """Per provider: healthy, errors in the last minute, last success and error."""
        out = []
        for name in names:
            h = self._by_name.setdefault(name, _Health())
            h.recent_errors = [t for t in h.recent_errors if (now - t).total_seconds() < RECENT_S]
            recent = h.recent_errors
            out.append(
                {
                    "name": name,
                    "healthy": not recent
                    or (h.last_ok_at is not None and h.last_ok_at > recent[-1]),
                    "errors_last_minute": len(recent),
                    "last_ok_at": h.last_ok_at.isoformat() if h.last_ok_at else None,
                    "last_error_at": h.last_error_at.isoformat() if h.last_error_at else None,
                    "last_error": h.last_error,
                }
            )
        return out
