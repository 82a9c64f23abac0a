"""brb.core.alerts: the alert values, their once-rules and the provider-error rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from brb.core import alerts, provider_alerts
from brb.core.alerts import Action, AlertKind, Severity
from brb.core.provider_alerts import ErrorRate, count_error

T0 = datetime(2026, 3, 8, 14, 30, tzinfo=UTC)


def test_automatic_activation_opens_the_incident_and_says_why() -> None:
    a = alerts.activated(
        T0,
        incident_id="17",
        reason="queue depth 63 > 50",
        queue_depth=63,
        wait_s=12.345,
        source="breaker",
        who="brb",
    )
    assert (a.kind, a.severity, a.action) == (
        AlertKind.ACTIVATED,
        Severity.CRITICAL,
        Action.TRIGGER,
    )
    assert (a.once_scope, a.once_key, a.incident) == ("incident", "activated:17", "incident:17")
    assert a.title == "brb activated: queue depth 63 > 50"
    assert "queue depth 63, wait 12.3s" in a.text
    assert a.fields["queue_depth"] == 63 and a.fields["wait_s"] == 12.345
    assert not a.is_manual


def test_a_press_is_an_activation_with_who_where_and_why() -> None:
    a = alerts.activated(
        T0,
        incident_id="18",
        reason="load test at 3pm",
        queue_depth=None,
        wait_s=None,
        source="http",
        who="alice",
    )
    assert a.kind is AlertKind.ACTIVATED and a.action is Action.TRIGGER and a.is_manual
    assert a.severity is Severity.WARNING  # a person already knows
    assert a.title == "brb pressed by alice (http): overflow goes to the cloud"
    assert "Why: load test at 3pm" in a.text and "load unknown" in a.text
    assert (a.fields["who"], a.fields["source"]) == ("alice", "http")


@pytest.mark.parametrize(
    ("source", "who", "reason", "title_start", "text_part"),
    [
        (
            "breaker",
            "brb",
            "",
            "brb back to standby after 12m30s: 1,234 requests diverted, $12.35",
            "back under its thresholds",
        ),
        (
            "cli",
            "bob",
            "incident over",
            "brb released by bob (cli) after 12m30s",
            "Why: incident over",
        ),
        ("button", "", "", "brb released by someone (button)", "no reason given"),
    ],
)
def test_deactivation_resolves_the_same_incident(
    source: str, who: str, reason: str, title_start: str, text_part: str
) -> None:
    d = alerts.deactivated(
        T0,
        incident_id="17",
        duration_s=750.2,
        diverted=1234,
        cost_usd=Decimal("12.345"),
        source=source,
        who=who,
        reason=reason,
    )
    activation = alerts.activated(
        T0, incident_id="17", reason="x", queue_depth=1, wait_s=1.0, source=source, who=who
    )
    assert d.action is Action.RESOLVE and d.incident == activation.incident
    assert (d.once_scope, d.once_key) == ("incident", "deactivated:17")
    assert d.title.startswith(title_start)
    assert text_part in d.text
    assert d.fields["cost_usd"] == 12.345 and d.fields["diverted"] == 1234


@pytest.mark.parametrize(
    ("build", "scope", "key", "action", "incident", "severity"),
    [
        (
            lambda: alerts.budget_percent(
                T0, day="2026-03-08", percent=80.0, spent_usd=80, limit_usd=100
            ),
            "2026-03-08",
            "budget:80",
            Action.NOTIFY,
            None,
            Severity.WARNING,
        ),
        (
            lambda: alerts.budget_percent(
                T0, day="2026-03-08", percent=92.5, spent_usd=93, limit_usd=100
            ),
            "2026-03-08",
            "budget:92.5",
            Action.NOTIFY,
            None,
            Severity.WARNING,
        ),
        (
            lambda: alerts.budget_exhausted(
                T0, day="2026-03-08", spent_usd=Decimal("100"), limit_usd=Decimal("100")
            ),
            "2026-03-08",
            "budget:exhausted",
            Action.TRIGGER,
            "budget-exhausted:2026-03-08",
            Severity.CRITICAL,
        ),
        (
            lambda: provider_alerts.provider_errors(
                T0,
                day="2026-03-08",
                provider="anthropic",
                count=6,
                threshold=5,
                episode_start=T0,
                last_error="529",
            ),
            "2026-03-08",
            "provider_errors:anthropic:2026-03-08T14:30:00+00:00",
            Action.NOTIFY,
            None,
            Severity.WARNING,
        ),
        (
            lambda: alerts.rollover(
                T0,
                new_day="2026-03-09",
                previous_day="2026-03-08",
                previous_spend_usd=Decimal("42.5"),
            ),
            "2026-03-09",
            "rollover:2026-03-09",
            Action.NOTIFY,
            None,
            Severity.INFO,
        ),
        (
            lambda: alerts.rollover(
                T0,
                new_day="2026-03-09",
                previous_day="2026-03-08",
                previous_spend_usd=Decimal("100"),
                resolve_exhausted=True,
            ),
            "2026-03-09",
            "rollover:2026-03-09",
            Action.RESOLVE,
            "budget-exhausted:2026-03-08",
            Severity.INFO,
        ),
    ],
)
def test_day_alerts_fire_once_per_budget_day(
    build, scope: str, key: str, action: Action, incident: str | None, severity: Severity
) -> None:
    a = build()
    assert (a.once_scope, a.once_key, a.action, a.incident, a.severity) == (
        scope,
        key,
        action,
        incident,
        severity,
    )


def test_exhaustion_incident_is_the_one_the_next_rollover_resolves() -> None:
    ex = alerts.budget_exhausted(T0, day="2026-03-08", spent_usd=100, limit_usd=100)
    ro = alerts.rollover(
        T0 + timedelta(hours=10),
        new_day="2026-03-09",
        previous_day="2026-03-08",
        previous_spend_usd=100,
        resolve_exhausted=True,
    )
    assert ex.incident == ro.incident


def test_titles_carry_the_money() -> None:
    a = alerts.budget_percent(
        T0, day="2026-03-08", percent=80, spent_usd=Decimal("80.004"), limit_usd=Decimal("100")
    )
    assert a.title == "brb cloud budget 80% used: $80.00 of $100.00 on 2026-03-08"
    r = alerts.rollover(
        T0, new_day="2026-03-09", previous_day="2026-03-08", previous_spend_usd=Decimal("1234.5")
    )
    assert r.title == "brb budget reset for 2026-03-09 (2026-03-08 spent $1,234.50)"


def test_as_json_is_plain_json() -> None:
    import json

    a = alerts.activated(
        T0, incident_id="17", reason="r", queue_depth=3, wait_s=0.5, source="cli", who="alice"
    )
    doc = json.loads(json.dumps(a.as_json()))
    assert doc["kind"] == "activated" and doc["action"] == "trigger"
    assert doc["incident"] == "incident:17" and doc["dedup"] == "incident/activated:17"
    assert doc["at"] == "2026-03-08T14:30:00+00:00" and doc["manual"] is True
    assert doc["fields"]["who"] == "alice"


def _run(offsets_s: list[float], threshold: int) -> list[bool]:
    state = ErrorRate()
    fired = []
    for off in offsets_s:
        state, fire = count_error(state, T0 + timedelta(seconds=off), threshold)
        fired.append(fire)
    return fired


@pytest.mark.parametrize(
    ("offsets", "threshold", "expected"),
    [
        # five in a minute is not "above 5"; the sixth is
        ([0, 1, 2, 3, 4, 5], 5, [False] * 5 + [True]),
        # a steady storm alerts once
        ([i * 0.5 for i in range(30)], 5, [False] * 5 + [True] + [False] * 24),
        # spread out: never more than 5 within any minute
        ([i * 13 for i in range(20)], 5, [False] * 20),
        # burst, quiet for two minutes, burst again: alerts twice
        (
            [0, 1, 2, 3, 4, 5, 200, 201, 202, 203, 204, 205],
            5,
            [False] * 5 + [True] + [False] * 5 + [True],
        ),
        # errors keep trickling in: no second alert until it has calmed down
        ([0, 1, 2, 3, 4, 5, 30, 40, 50, 61, 62, 63, 64, 65], 5, [False] * 5 + [True] + [False] * 8),
        # threshold 1: two errors in a minute alert; one alone re-arms
        ([0, 1, 100, 101], 1, [False, True, False, True]),
    ],
)
def test_provider_error_rate_fires_once_per_episode(
    offsets: list[float], threshold: int, expected: list[bool]
) -> None:
    assert _run(offsets, threshold) == expected


def test_error_rate_keeps_a_bounded_window() -> None:
    state = ErrorRate()
    for i in range(1000):
        state, _ = count_error(state, T0 + timedelta(milliseconds=i), 5)
    assert len(state.recent) == 6
    assert state.alerting_since == T0 + timedelta(milliseconds=5)
