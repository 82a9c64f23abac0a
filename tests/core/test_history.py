"""Queue history buckets for the dashboard's sparkline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from brb.core.history import Point, Series, bucket_series

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=60)


def at(seconds_ago: float) -> datetime:
    return NOW - timedelta(seconds=seconds_ago)


def test_each_bucket_keeps_its_deepest_queue_and_longest_wait() -> None:
    points = [
        Point(at(55), "a", 1, 0.5),
        Point(at(52), "a", 4, 0.2),  # same 10 s bucket: the max of each, not of one sample
        Point(at(5), "a", 2, 3.0),
    ]
    got = bucket_series(points, now=NOW, window=WINDOW, buckets=6)
    assert got == {
        "a": Series((4, 4, 4, 4, 4, 2), (0.5, 0.5, 0.5, 0.5, 0.5, 3.0)),
    }


def test_silence_repeats_the_last_value_and_nothing_before_the_first_sample() -> None:
    points = [Point(at(35), "idle", 0, 0.0)]  # an idle model is sampled once
    got = bucket_series(points, now=NOW, window=WINDOW, buckets=6)
    assert got["idle"].queue_depth == (None, None, 0, 0, 0, 0)  # 25 s into the window


def test_models_are_kept_apart_and_samples_outside_the_window_ignored() -> None:
    points = [
        Point(at(61), "a", 9, 9.0),  # before the window
        Point(at(-1), "a", 9, 9.0),  # after now
        Point(at(1), "a", 1, 0.1),
        Point(at(1), "b", 3, 0.3),
    ]
    got = bucket_series(points, now=NOW, window=WINDOW, buckets=2)
    assert got == {"a": Series((None, 1), (None, 0.1)), "b": Series((None, 3), (None, 0.3))}


def test_a_sample_at_now_lands_in_the_last_bucket() -> None:
    got = bucket_series([Point(NOW, "a", 2, 1.0)], now=NOW, window=WINDOW, buckets=3)
    assert got["a"].queue_depth == (None, None, 2)


def test_no_buckets_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        bucket_series([], now=NOW, window=WINDOW, buckets=0)


def test_models_past_the_bound_are_folded_into_other() -> None:
    """A client sending endless model names gets one line, not one per name."""
    points = [Point(at(55), "deep", 7, 1.0), Point(at(45), "busy", 2, 0.5)]
    points += [Point(at(25), "busy", 1, 0.1)]
    points += [Point(at(15 + i % 10), f"noise-{i}", i % 3, i / 1000) for i in range(1000)]
    got = bucket_series(points, now=NOW, window=WINDOW, buckets=6, max_models=3)
    assert set(got) == {"deep", "busy", "other"}  # the deepest, then the most sampled
    assert got["deep"].queue_depth == (7, 7, 7, 7, 7, 7)
    assert got["other"].queue_depth == (None, None, None, 2, 2, 2)  # their maxima
    assert max(w for w in got["other"].wait_s if w is not None) == pytest.approx(0.999)


def test_models_within_the_bound_are_not_folded() -> None:
    points = [Point(at(5), f"m{i}", 1, 0.0) for i in range(3)]
    got = bucket_series(points, now=NOW, window=WINDOW, buckets=6, max_models=3)
    assert set(got) == {"m0", "m1", "m2"}
