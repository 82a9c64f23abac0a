"""Incidents replayed from events and charges: pure, table-driven, no clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from brb.core.incidents import Charge, in_window, incidents, summarize, with_queue_depth

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass(frozen=True)
class Ev:
    at: datetime
    kind: str
    source: str = "breaker"
    who: str = "brb"
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def activated(m: float, depth: int = 73, reason: str = "queue depth 73 > 50") -> Ev:
    return Ev(t(m), "activated", reason=reason, detail={"queue_depth": depth, "wait_seconds": 3.0})


def deactivated(m: float) -> Ev:
    return Ev(t(m), "deactivated", reason="calm", detail={"active_seconds": 1})


def lever(
    m: float,
    kind: str,
    to_mode: str,
    who: str = "alice",
    reason: str = "",
    until: datetime | None = None,
    source: str = "cli",
) -> Ev:
    detail = {
        "from_mode": "?",
        "to_mode": to_mode,
        "changed": True,
        "until": until.isoformat() if until else None,
    }
    return Ev(t(m), kind, source=source, who=who, reason=reason, detail=detail)


def charges(*pairs: tuple[float, str]) -> list[Charge]:
    return [Charge(t(m), Decimal(usd)) for m, usd in pairs]


def test_a_breaker_activation_is_one_incident_with_its_charges() -> None:
    evs = [activated(0), Ev(t(1), "budget_alert", detail={"percent": 80}), deactivated(30)]
    found = incidents(evs, charges((-1, "9"), (0, "0.10"), (29.9, "0.25"), (30, "5")), now=t(60))
    assert len(found) == 1
    inc = found[0]
    assert (inc.start, inc.end) == (t(0), t(30))
    assert inc.duration_seconds == 1800 and inc.time_to_normal_seconds == 1800
    assert inc.trigger == "queue depth 73 > 50" and inc.trigger_kind == "breaker"
    assert inc.queue_depth == 73
    assert inc.requests_diverted == 2 and inc.cost_usd == Decimal("0.35")
    assert inc.ended_by == "load back under the thresholds"


def test_a_press_names_who_where_and_why_and_its_release_ends_it() -> None:
    evs = [lever(0, "press", "on", reason="launch day"), lever(10, "release", "auto", who="bob")]
    (inc,) = incidents(evs, [], now=t(20))
    assert inc.trigger == "pressed by alice via cli: launch day"
    assert inc.trigger_kind == "press" and inc.queue_depth is None
    assert inc.end == t(10) and inc.ended_by == "released by bob via cli"


def test_press_during_an_activation_extends_the_same_incident() -> None:
    # breaker on at 0, pressed at 5, breaker calms at 10, release at 20: one incident 0..20
    evs = [activated(0), lever(5, "press", "on"), deactivated(10), lever(20, "release", "auto")]
    (inc,) = incidents(evs, charges((15, "1.00")), now=t(30))
    assert (inc.start, inc.end) == (t(0), t(20))
    assert inc.trigger_kind == "breaker" and inc.cost_usd == Decimal("1.00")


def test_a_hold_ends_an_incident_and_its_release_starts_one_if_the_breaker_is_active() -> None:
    evs = [
        activated(0),
        lever(5, "hold", "off", who="carol", reason="cloud outage"),
        lever(15, "release", "auto", who="dave"),
        deactivated(25),
    ]
    first, second = incidents(evs, [], now=t(30))
    assert (first.start, first.end) == (t(0), t(5))
    assert first.ended_by == "held off by carol via cli: cloud outage"
    assert (second.start, second.end) == (t(15), t(25))
    assert second.trigger == (
        "hold released by dave via cli while the breaker was active (queue depth 73 > 50)"
    )
    assert second.queue_depth == 73


def test_a_press_with_until_ends_by_itself_without_an_expiry_event() -> None:
    evs = [lever(0, "press", "on", until=t(10)), activated(20), deactivated(40)]
    first, second = incidents(evs, [], now=t(60))
    assert (first.end, first.ended_by) == (t(10), "press expired")
    assert (second.start, second.end) == (t(20), t(40))


def test_an_expired_hold_hands_back_to_an_active_breaker() -> None:
    evs = [
        lever(0, "hold", "off", until=t(10)),
        activated(5, reason="wait 75.00s > 60s"),
        Ev(t(10), "override_expired"),
        deactivated(30),
    ]
    (inc,) = incidents(evs, [], now=t(60))
    assert (inc.start, inc.end, inc.trigger_kind) == (t(10), t(30), "expiry")
    assert "wait 75.00s > 60s" in inc.trigger


def test_noop_events_change_nothing() -> None:
    evs = [
        lever(0, "press", "on"),
        Ev(t(1), "press_noop", detail={"changed": False}),
        Ev(t(2), "release_noop"),
        lever(5, "release", "auto"),
    ]
    (inc,) = incidents(evs, [], now=t(10))
    assert (inc.start, inc.end) == (t(0), t(5))


def test_an_ongoing_incident_has_no_end_and_no_time_to_normal() -> None:
    (inc,) = incidents([activated(0)], charges((5, "2"), (50, "3")), now=t(45))
    assert inc.is_ongoing and inc.end is None and inc.ended_by is None
    assert inc.duration_seconds == 45 * 60 and inc.time_to_normal_seconds is None
    assert inc.cost_usd == Decimal("5")


@pytest.mark.parametrize(
    ("evs", "count"),
    [
        ([], 0),
        ([deactivated(0)], 0),
        ([lever(0, "release", "auto")], 0),
        ([activated(0), deactivated(5), activated(10), deactivated(15)], 2),
        ([lever(0, "hold", "off"), activated(1), deactivated(2)], 0),
    ],
)
def test_incident_counts(evs: list[Ev], count: int) -> None:
    assert len(incidents(evs, [], now=t(100))) == count


def test_window_and_queue_depth_fill() -> None:
    found = incidents([activated(0), deactivated(5), lever(10, "press", "on")], [], now=t(20))
    assert in_window(found, t(6)) == [found[1]]
    assert with_queue_depth(found[1], 12).queue_depth == 12
    assert with_queue_depth(found[0], 12).queue_depth == 73


def test_summary_means_and_monthly_projection() -> None:
    evs = [activated(0), deactivated(10), activated(100), deactivated(130)]
    money = charges((1, "3.00"), (101, "1.00"), (200, "2.00"))  # the last one is outside both
    found = incidents(evs, money, now=t(1440))
    s = summarize(found, money, since=t(0), now=t(1440))  # a one-day window
    assert s.count == 2 and s.ongoing == 0 and s.requests_diverted == 2
    assert s.total_cost_usd == Decimal("4") and s.mean_cost_usd == Decimal("2")
    assert s.mean_time_to_normal_seconds == (600 + 1800) / 2
    assert s.window_spend_usd == Decimal("6")
    assert s.monthly_spend_usd == Decimal("182.63")  # $6/day x 30.4375
    assert s.projection_line().startswith("at the last 1 days' rate: $182.63/month in cloud spend")
    assert "another GPU" in s.projection_line()


def test_summary_of_nothing() -> None:
    s = summarize([], [], since=t(0), now=t(60 * 24 * 30))
    assert s.count == 0 and s.mean_cost_usd is None and s.mean_time_to_normal_seconds is None
    assert s.monthly_spend_usd == Decimal("0.00")
