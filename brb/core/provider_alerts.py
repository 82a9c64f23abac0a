"""Alerts about the cloud providers, as values: failing, skipped, back, and the error rate.

Owns the builders for a provider's error burst (more than the per-minute
threshold), its circuit breaker opening and closing, the incident name the
opening triggers and the closing resolves, and the per-provider error-rate
tracker (:class:`ErrorRate`) that decides when a burst fires.

Must not: do I/O, log or read the clock (time is always a parameter), or know
any notifier's wire format. The :class:`~brb.core.alerts.Alert` value and its
"once" rules live in :mod:`brb.core.alerts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from brb.core.alerts import Action, Alert, AlertKind, Severity
from brb.core.durations import format_duration


def provider_errors(
    at: datetime,
    *,
    day: str,
    provider: str,
    count: int,
    threshold: int,
    episode_start: datetime,
    last_error: str,
) -> Alert:
    """More than ``threshold`` provider errors within a minute (once per episode)."""
    return Alert(
        kind=AlertKind.PROVIDER_ERRORS,
        severity=Severity.WARNING,
        title=f"brb: {count} {provider} errors in the last minute (threshold {threshold})",
        text=f"Failed cloud requests fall back to the next provider or the local queue. "
        f"Last error: {last_error[:300]}",
        at=at,
        once_scope=day,
        once_key=f"provider_errors:{provider}:{episode_start.isoformat(timespec='seconds')}",
        fields={
            "provider": provider,
            "count": count,
            "threshold": threshold,
            "last_error": last_error[:300],
        },
    )


def provider_incident(provider: str) -> str:
    return f"brb-provider-{provider}"


def provider_opened(
    at: datetime, *, day: str, provider: str, failures: int, resting_s: float, last_error: str
) -> Alert:
    """A provider's circuit breaker opened: it is skipped until one probe succeeds."""
    return Alert(
        kind=AlertKind.PROVIDER_OPENED,
        severity=Severity.WARNING,
        title=f"brb: provider {provider} is failing ({failures} in a row): skipped for now",
        text=f"Diverted requests go to the next provider, or the local queue. One request "
        f"will probe {provider} again in {format_duration(resting_s)}. "
        f"Last error: {last_error[:300]}",
        at=at,
        once_scope=day,
        once_key=f"provider_opened:{provider}:{at.isoformat(timespec='seconds')}",
        action=Action.TRIGGER,
        incident=provider_incident(provider),
        fields={
            "provider": provider,
            "failures": failures,
            "resting_seconds": round(resting_s, 3),
            "last_error": last_error[:300],
        },
    )


def provider_closed(at: datetime, *, day: str, provider: str, down_s: float | None) -> Alert:
    """A provider whose breaker had opened answered a probe: it is used again."""
    down = f" after {format_duration(down_s)}" if down_s is not None else ""
    return Alert(
        kind=AlertKind.PROVIDER_CLOSED,
        severity=Severity.INFO,
        title=f"brb: provider {provider} answers again{down}",
        text=f"A probe request succeeded; {provider} takes diverted requests again.",
        at=at,
        once_scope=day,
        once_key=f"provider_closed:{provider}:{at.isoformat(timespec='seconds')}",
        action=Action.RESOLVE,
        incident=provider_incident(provider),
        fields={"provider": provider, "down_seconds": None if down_s is None else round(down_s)},
    )


# --- provider error rate ------------------------------------------------------------

WINDOW = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ErrorRate:
    """Errors of one provider in the last minute, and whether an alert is out.

    Fires when the count goes above the threshold; re-arms only once the count
    has calmed to half the threshold or less, so a provider hovering around the
    threshold alerts once, not every minute.
    """

    recent: tuple[datetime, ...] = ()
    alerting_since: datetime | None = None


def count_error(state: ErrorRate, at: datetime, threshold: int) -> tuple[ErrorRate, bool]:
    """Record one error at ``at``; True when this error should fire the alert."""
    before = tuple(t for t in state.recent if at - t < WINDOW)
    since = state.alerting_since
    if since is not None and len(before) <= threshold // 2:
        since = None  # calmed down: the next burst alerts again
    # Only "more than threshold?" matters, so keep at most threshold + 1 times.
    recent = (before + (at,))[-(threshold + 1) :]
    if since is None and len(recent) > threshold:
        return ErrorRate(recent, at), True
    return ErrorRate(recent, since), False
