"""What brb tells the on-call engineer, as values: the alerts and their "once" rules.

Owns the :class:`Alert` value, one builder per situation (activated,
deactivated, budget percentage reached, budget exhausted, button unplugged,
daily rollover) and the rule that says how often each may fire; the
provider alerts and their error-rate tracker are in
:mod:`brb.core.provider_alerts`. A manual press is an
activation and its release a deactivation: the same builders, with who, from
where and why.

Each alert carries a ``once_scope`` and a ``once_key``: the daemon fires it
only if ``store.mark_alert_once(once_scope, once_key, at)`` says it is the
first time. Incident alerts are scoped to the incident (scope ``incident``,
key ``activated:<incident id>``), day alerts to the budget day (scope
``2026-03-08``, key ``budget:80``), so a restart, a repeated call or a flapping
caller can never cause a storm.

Must not: do I/O, log, read the clock or know any notifier's wire format
(the adapters in :mod:`brb.adapters.notifiers` turn an :class:`Alert` into
requests). Time is always a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from brb.core.durations import format_duration

INCIDENT_SCOPE = "incident"
# Sources that mean "brb itself decided"; anything else (cli, http, button...) is a person.
AUTOMATIC_SOURCES = frozenset({"", "breaker", "brb", "expiry", "scheduler"})
EXHAUSTED_KEY = "budget:exhausted"

FieldValue = str | int | float | None


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertKind(StrEnum):
    ACTIVATED = "activated"
    DEACTIVATED = "deactivated"
    BUDGET_PERCENT = "budget_percent"
    BUDGET_EXHAUSTED = "budget_exhausted"
    PROVIDER_ERRORS = "provider_errors"
    PROVIDER_OPENED = "provider_opened"
    PROVIDER_CLOSED = "provider_closed"
    ROLLOVER = "rollover"
    BUTTON = "button"
    UPSTREAM_DOWN = "upstream_down"
    UPSTREAM_UP = "upstream_up"
    STORE_UNAVAILABLE = "store_unavailable"
    SCALE_HOOK_FAILED = "scale_hook_failed"


class Action(StrEnum):
    """What an incident-tracking notifier (PagerDuty) does with the alert."""

    TRIGGER = "trigger"  # open the incident named by ``Alert.incident``
    RESOLVE = "resolve"  # close it (same ``incident``)
    NOTIFY = "notify"  # tell people, track nothing


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    severity: Severity
    title: str
    text: str
    at: datetime
    once_scope: str
    once_key: str
    action: Action = Action.NOTIFY
    incident: str | None = None  # shared by an incident's trigger and its resolve
    fields: Mapping[str, FieldValue] = field(default_factory=dict)

    @property
    def is_manual(self) -> bool:
        return str(self.fields.get("source") or "") not in AUTOMATIC_SOURCES

    def as_json(self) -> dict[str, object]:
        """The alert as plain JSON (the generic webhook's body)."""
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "title": self.title,
            "text": self.text,
            "at": self.at.isoformat(),
            "action": self.action.value,
            "incident": self.incident,
            "dedup": f"{self.once_scope}/{self.once_key}",
            "manual": self.is_manual,
            "fields": dict(self.fields),
        }


# --- formatting -----------------------------------------------------------------


def format_usd(amount: Decimal | float) -> str:
    return f"${Decimal(str(amount)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def _who(who: str, source: str) -> str:
    return f"{who or 'someone'} ({source})" if source else (who or "someone")


def _money(amount: Decimal | float) -> float:
    return float(Decimal(str(amount)).quantize(Decimal("0.000001")))


# --- builders --------------------------------------------------------------------


def activated(
    at: datetime,
    *,
    incident_id: str,
    reason: str,
    queue_depth: int | None,
    wait_s: float | None,
    source: str,
    who: str,
) -> Alert:
    """The button went on: by the breaker (reason = which threshold) or by a
    person (source/who/why). Opens the incident."""
    manual = source not in AUTOMATIC_SOURCES
    load = []
    if queue_depth is not None:
        load.append(f"queue depth {queue_depth}")
    if wait_s is not None:
        load.append(f"wait {wait_s:.1f}s")
    load_text = ", ".join(load) or "load unknown"
    if manual:
        title = f"brb pressed by {_who(who, source)}: overflow goes to the cloud"
        text = (
            f"Pressed by {_who(who, source)}. Why: {reason or 'no reason given'}. Now: {load_text}."
        )
    else:
        title = f"brb activated: {reason}"
        text = (
            f"The local queue is over its threshold ({reason}); overflow goes to the "
            f"backup AI provider. Now: {load_text}."
        )
    return Alert(
        kind=AlertKind.ACTIVATED,
        severity=Severity.WARNING if manual else Severity.CRITICAL,
        title=title,
        text=text,
        at=at,
        once_scope=INCIDENT_SCOPE,
        once_key=f"activated:{incident_id}",
        action=Action.TRIGGER,
        incident=incident_key(incident_id),
        fields={
            "incident_id": incident_id,
            "reason": reason,
            "queue_depth": queue_depth,
            "wait_s": None if wait_s is None else round(wait_s, 3),
            "source": source,
            "who": who,
        },
    )


def deactivated(
    at: datetime,
    *,
    incident_id: str,
    duration_s: float,
    diverted: int,
    cost_usd: Decimal | float,
    source: str,
    who: str,
    reason: str = "",
) -> Alert:
    """The button went off (load calmed, or a person released it). Resolves
    the incident its activation opened."""
    manual = source not in AUTOMATIC_SOURCES
    summary = (
        f"after {format_duration(duration_s)}: {diverted:,} requests diverted, "
        f"{format_usd(cost_usd)}"
    )
    if manual:
        title = f"brb released by {_who(who, source)} {summary}"
        text = f"Released by {_who(who, source)}. Why: {reason or 'no reason given'}."
    else:
        title = f"brb back to standby {summary}"
        text = f"The local queue is back under its thresholds. {reason}".strip()
    return Alert(
        kind=AlertKind.DEACTIVATED,
        severity=Severity.INFO,
        title=title,
        text=text,
        at=at,
        once_scope=INCIDENT_SCOPE,
        once_key=f"deactivated:{incident_id}",
        action=Action.RESOLVE,
        incident=incident_key(incident_id),
        fields={
            "incident_id": incident_id,
            "duration_s": round(duration_s, 3),
            "diverted": diverted,
            "cost_usd": _money(cost_usd),
            "source": source,
            "who": who,
            "reason": reason,
        },
    )


def budget_percent(
    at: datetime,
    *,
    day: str,
    percent: float,
    spent_usd: Decimal | float,
    limit_usd: Decimal | float,
) -> Alert:
    """Spend reached one of ``budget.alert_at_percent`` (once per day each)."""
    return Alert(
        kind=AlertKind.BUDGET_PERCENT,
        severity=Severity.WARNING,
        title=f"brb cloud budget {percent:g}% used: {format_usd(spent_usd)} of "
        f"{format_usd(limit_usd)} on {day}",
        text="Diversion continues until the budget is exhausted, then traffic queues locally.",
        at=at,
        once_scope=day,
        once_key=f"budget:{percent:g}",
        fields={
            "day": day,
            "percent": percent,
            "spent_usd": _money(spent_usd),
            "limit_usd": _money(limit_usd),
        },
    )


def budget_exhausted(
    at: datetime, *, day: str, spent_usd: Decimal | float, limit_usd: Decimal | float
) -> Alert:
    """No more cloud money today: diversion stops, traffic queues locally.
    Opens an incident that the next rollover resolves."""
    return Alert(
        kind=AlertKind.BUDGET_EXHAUSTED,
        severity=Severity.CRITICAL,
        title=f"brb cloud budget exhausted: {format_usd(spent_usd)} of "
        f"{format_usd(limit_usd)} on {day}",
        text="Diversion has stopped; traffic queues locally until the budget resets at "
        "local midnight (or the limit is raised).",
        at=at,
        once_scope=day,
        once_key=EXHAUSTED_KEY,
        action=Action.TRIGGER,
        incident=exhausted_incident(day),
        fields={"day": day, "spent_usd": _money(spent_usd), "limit_usd": _money(limit_usd)},
    )


def upstream_incident(upstream: str) -> str:
    return f"brb-upstream-{upstream}"


def upstream_down(at: datetime, *, day: str, upstream: str, url: str) -> Alert:
    """An Ollama upstream of the pool refused, timed out or failed a probe."""
    return Alert(
        kind=AlertKind.UPSTREAM_DOWN,
        severity=Severity.WARNING,
        title=f"brb: Ollama upstream {upstream} is down",
        text=f"{url} refused a connection, timed out or failed a probe. Its requests go "
        "to the other upstreams (or the cloud); brb probes it and takes it back when it "
        "answers.",
        at=at,
        once_scope=day,
        once_key=f"upstream_down:{upstream}:{at.isoformat(timespec='seconds')}",
        action=Action.TRIGGER,
        incident=upstream_incident(upstream),
        fields={"upstream": upstream, "url": url},
    )


def upstream_up(at: datetime, *, day: str, upstream: str, url: str) -> Alert:
    """A down upstream answered a probe: it takes requests again."""
    return Alert(
        kind=AlertKind.UPSTREAM_UP,
        severity=Severity.INFO,
        title=f"brb: Ollama upstream {upstream} answers again",
        text=f"{url} answered a probe; it takes requests again.",
        at=at,
        once_scope=day,
        once_key=f"upstream_up:{upstream}:{at.isoformat(timespec='seconds')}",
        action=Action.RESOLVE,
        incident=upstream_incident(upstream),
        fields={"upstream": upstream, "url": url},
    )


def store_unavailable(at: datetime, *, day: str, store: str, error: str) -> Alert:
    """The database failed a reservation: diverted requests stay local (once per outage)."""
    return Alert(
        kind=AlertKind.STORE_UNAVAILABLE,
        severity=Severity.WARNING,
        title="brb: the database can't take reservations; diverted requests stay local",
        text=f"{store}: {error[:300]}. Requests are still served, locally; diversion resumes "
        "(and brb logs it) once the database takes a reservation again. Check the disk and "
        "what holds the database's lock.",
        at=at,
        once_scope=day,
        once_key=f"store_unavailable:{at.isoformat(timespec='seconds')}",
        fields={"store": store, "error": error[:300]},
    )


def button(at: datetime, *, event_kind: str, event_id: int, device: str, detail: str) -> Alert:
    """The physical button was unplugged (or came back): once per outage event."""
    unplugged = event_kind == "button_unplugged"
    return Alert(
        kind=AlertKind.BUTTON,
        severity=Severity.WARNING if unplugged else Severity.INFO,
        title="brb: the physical button is unplugged or unreadable"
        if unplugged
        else "brb: the physical button is back",
        text=(
            f"Device {device or '?'}: {detail[:300]}. `brb press` still works from a shell; "
            "the listener retries by itself."
            if unplugged
            else f"Device {device or '?'} answers again."
        ),
        at=at,
        once_scope="button",
        once_key=f"{event_kind}:{event_id}",
        fields={"device": device, "event": event_kind},
    )


def scale_hook_failed(at: datetime, *, day: str, target: str, error: str) -> Alert:
    """The scale hook (ops' own tooling) could not be told that more slots are needed."""
    return Alert(
        kind=AlertKind.SCALE_HOOK_FAILED,
        severity=Severity.WARNING,
        title=f"brb: the scale hook failed ({target})",
        text=f"{error[:300]}. The breaker has been active a long time and the hook was not "
        "told; traffic is not affected. Check the hook, or add local capacity by hand.",
        at=at,
        once_scope=day,
        once_key=f"scale_hook_failed:{at.isoformat(timespec='seconds')}",
        fields={"target": target},
    )


def rollover(
    at: datetime,
    *,
    new_day: str,
    previous_day: str,
    previous_spend_usd: Decimal | float,
    resolve_exhausted: bool = False,
) -> Alert:
    """A new budget day began. With ``resolve_exhausted`` it also closes the
    previous day's budget-exhausted incident."""
    return Alert(
        kind=AlertKind.ROLLOVER,
        severity=Severity.INFO,
        title=f"brb budget reset for {new_day} ({previous_day} spent "
        f"{format_usd(previous_spend_usd)})",
        text="A new budget day began; diversion is allowed again if needed.",
        at=at,
        once_scope=new_day,
        once_key=f"rollover:{new_day}",
        action=Action.RESOLVE if resolve_exhausted else Action.NOTIFY,
        incident=exhausted_incident(previous_day) if resolve_exhausted else None,
        fields={
            "new_day": new_day,
            "previous_day": previous_day,
            "previous_spend_usd": _money(previous_spend_usd),
        },
    )


def incident_key(incident_id: str) -> str:
    """The incident name an activation opens and its deactivation resolves."""
    return f"incident:{incident_id}"


def exhausted_incident(day: str) -> str:
    return f"budget-exhausted:{day}"
