"""A provider's breaker opening pages once, its closing resolves that page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from brb.core.alerts import Action, AlertKind
from brb.core.durations import format_duration
from brb.core.provider_alerts import provider_closed, provider_opened

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_opened_triggers_and_closed_resolves_the_same_incident() -> None:
    opened = provider_opened(
        T0, day="2026-11-29", provider="anthropic", failures=3, resting_s=30,
        last_error="anthropic answered 529 overloaded_error",
    )  # fmt: skip
    closed = provider_closed(
        T0 + timedelta(seconds=95), day="2026-11-29", provider="anthropic", down_s=95
    )
    assert (opened.kind, opened.action) == (AlertKind.PROVIDER_OPENED, Action.TRIGGER)
    assert (closed.kind, closed.action) == (AlertKind.PROVIDER_CLOSED, Action.RESOLVE)
    assert opened.incident == closed.incident == "brb-provider-anthropic"
    assert (
        "3 in a row" in opened.title and format_duration(30) in opened.text and "529" in opened.text
    )
    assert f"after {format_duration(95)}" in closed.title
    assert opened.once_key != closed.once_key  # each fires once, neither per failure
