"""How the store writes a timestamp: iso() is isoformat() in UTC, to the microsecond,
whatever order the times come in (it keeps the last second it formatted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brb.adapters.database import iso

ZONES = st.sampled_from([UTC, timezone(timedelta(0)), timezone(timedelta(hours=-7, minutes=-30)),
                         ZoneInfo("Europe/Paris"), ZoneInfo("Australia/Lord_Howe")])  # fmt: skip
TIMES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES)


def expected(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


@given(st.lists(TIMES, min_size=1, max_size=20))
def test_any_times_in_any_order(times: list[datetime]) -> None:
    assert [iso(t) for t in times] == [expected(t) for t in times]


@given(TIMES, st.lists(st.integers(-1_500_000, 1_500_000), min_size=1, max_size=20))
def test_times_around_one_second(base: datetime, steps_us: list[int]) -> None:
    """The rows' case: many times within a second or two of each other (its edges too)."""
    times = [base + timedelta(microseconds=s) for s in steps_us]
    times += [t.replace(microsecond=m) for t in times[:3] for m in (0, 999_999)]
    assert [iso(t) for t in times] == [expected(t) for t in times]


def test_the_first_and_last_seconds() -> None:
    first = datetime.min.replace(tzinfo=UTC)
    last = datetime.max.replace(tzinfo=UTC)
    for t in (first, last, last.replace(microsecond=0), first, last):
        assert iso(t) == expected(t)


def test_none_and_naive() -> None:
    assert iso(None) is None
    with pytest.raises(ValueError, match="timezone-aware"):
        iso(datetime(2026, 1, 1))
