"""brb.core.durations: what operators type after --for."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brb.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10m", 600),
        ("90s", 90),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1d", 86400),
        ("1.5h", 5400),
        ("500ms", 0.5),
        ("45", 45),
        (" 10M ", 600),
        ("1h 30m", 5400),
        ("2.5", 2.5),
    ],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty duration"),
        ("10x", "can't read duration '10x'"),
        ("m10", "can't read"),
        ("10m5", "can't read"),
        ("ten minutes", "can't read"),
        ("0s", "must be positive"),
        ("-5", "must be positive"),
        ("0", "must be positive"),
    ],
)
def test_parse_refuses_with_a_hint(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as exc:
        parse_duration(text)
    if message != "must be positive":
        assert "10m" in str(exc.value)  # says what would work


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3725, "1h2m5s"),
        (60, "1m"),
        (86400, "1d"),
        (90061, "1d1h1m1s"),
        (1, "1s"),
        (0.5, "0.50s"),
        (0, "0.00s"),
        (-3, "0.00s"),  # a clock stepped back is no time at all
        (59.6, "1m"),
    ],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=1, max_value=10 * 86400))
def test_format_parses_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == timedelta(seconds=seconds)
