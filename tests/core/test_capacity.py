"""Capacity advice: the window replayed with more slots until the overflow stays
local, and the live queue's extra slots for the scale hook. Hand-computed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from brb.core.breaker import Mode, Thresholds
from brb.core.capacity import advise, busy_stretches, is_busy
from brb.core.replay import SimParams, TraceRecord
from brb.core.scale_need import QueueNow, extra_slots_for_queue

T0 = datetime(2026, 11, 27, tzinfo=UTC)
WEEK = (T0 - timedelta(days=7), T0)


def every(step_s: float, n: int, service_s: float = 1.0) -> list[TraceRecord]:
    return [TraceRecord(i * step_s, "m", "s", 10, 10, service_s) for i in range(n)]


PARAMS = SimParams(thresholds=Thresholds(queue_depth=1000, wait_seconds=2.0,
                                         min_active_seconds=1e9))  # fmt: skip


def test_one_more_slot_keeps_the_overflow_local() -> None:
    # 1 slot, 1 s each, an arrival every 0.5 s: requests 5, 7 and 9 would wait
    # 2.5 s > 2 s and are diverted (test_replay_sim). Two slots keep up exactly.
    advice = advise(every(0.5, 10), PARAMS, since=WEEK[0], until=WEEK[1],
                    button_cost_usd=Decimal("12.5"), recorded_diverted=3)  # fmt: skip
    k0, k1 = advice.runs
    assert (k0.extra_slots, k0.slots, k0.diverted, k0.wait_diverted) == (0, 1, 3, 3)
    assert k0.cost_usd > 0
    assert (k1.extra_slots, k1.slots, k1.diverted, k1.wait_diverted, k1.cost_usd) == (
        1, 2, 0, 0, Decimal(0),
    )  # fmt: skip
    assert advice.extra_slots_needed == 1
    out = advice.to_json()
    assert out["extra_slots_needed"] == 1 and out["more_than_max"] is False
    assert out["button_cost_usd"] == 12.5 and out["window_days"] == 7
    assert out["monthly_button_cost_usd"] == pytest.approx(12.5 * 30.4375 / 7, abs=1e-6)
    assert [r["wait_diverted"] for r in out["runs"]] == [3, 0]
    assert advice.line().startswith("1 more local slot (per model: 1 -> 2) would have kept the 3")


def test_more_than_the_bound_is_said_so() -> None:
    # an arrival every 0.1 s of 1 s requests needs about 10 slots: 2 are not enough
    advice = advise(every(0.1, 60), PARAMS, since=WEEK[0], until=WEEK[1],
                    button_cost_usd=Decimal(0), recorded_diverted=0, max_extra_slots=1)  # fmt: skip
    assert len(advice.runs) == 2 and all(r.wait_diverted > 0 for r in advice.runs)
    assert advice.runs[1].wait_diverted < advice.runs[0].wait_diverted
    assert advice.extra_slots_needed is None and advice.to_json()["more_than_max"] is True
    assert advice.line().startswith("more than 1 more local slots")


def test_presses_are_not_overflow_and_no_traffic_needs_nothing() -> None:
    pressed = advise(every(0.5, 10), replace(PARAMS, mode=Mode.ON), since=WEEK[0],
                     until=WEEK[1], button_cost_usd=Decimal(1), recorded_diverted=10)  # fmt: skip
    [only] = pressed.runs
    assert (only.diverted, only.wait_diverted) == (10, 0)
    assert pressed.extra_slots_needed == 0
    empty = advise([], PARAMS, since=WEEK[0], until=WEEK[1], button_cost_usd=Decimal(0),
                   recorded_diverted=0)  # fmt: skip
    assert [(r.diverted, r.wait_diverted) for r in empty.runs] == [(0, 0)]
    assert empty.extra_slots_needed == 0
    assert empty.to_json()["requests"] == 0
    assert empty.line().startswith("no overflow to keep local in the last 7 days")


@pytest.mark.parametrize(
    ("queues", "need"),
    [
        ([], 0),
        ([QueueNow(0, 1, 5.0)], 0),
        # 4 waiting, 1 slot, 1 s each, threshold 2 s: the last starts after 4 s; one
        # more slot takes one at once and the other 3 need 2 rounds on 2 slots: 2 s
        ([QueueNow(4, 1, 1.0)], 1),
        # threshold below the service time: every waiter needs its own slot
        ([QueueNow(3, 2, 5.0)], 3),
        ([QueueNow(3, 2, None)], 3),  # unknown service time: a slot per waiter
        ([QueueNow(4, 1, 1.0), QueueNow(3, 1, 5.0)], 3),  # the neediest model decides
        ([QueueNow(100, 1, 5.0)], 8),  # capped
    ],
)
def test_extra_slots_for_the_queue_now(queues: list[QueueNow], need: int) -> None:
    assert extra_slots_for_queue(queues, 2.0, max_extra_slots=8) == need


def test_busy_stretches_pad_and_merge() -> None:
    offsets = [0, 10, 100, 200, 205, 1000, 1500, 1510]
    busy = [False, False, False, True, False, False, True, False]
    # pad 50: around 200 -> 150..250 (indexes 3, 4); around 1500 -> 1450..1550 (6, 7)
    assert busy_stretches(offsets, busy, 50) == [range(3, 5), range(6, 8)]
    # pad 600: 200 -> 0..800 (0..4); 1500 -> 900..2100 (5..7): they touch, one stretch
    assert busy_stretches(offsets, busy, 600) == [range(0, 8)]
    assert busy_stretches(offsets, [False] * 8, 600) == []


def test_is_busy() -> None:
    assert is_busy(is_local=False, wait_s=None, wait_threshold_s=60)  # diverted
    assert is_busy(is_local=True, wait_s=15.0, wait_threshold_s=60)  # a quarter
    assert not is_busy(is_local=True, wait_s=14.9, wait_threshold_s=60)
    assert not is_busy(is_local=True, wait_s=None, wait_threshold_s=60)


def test_only_the_busy_stretches_are_replayed_with_the_same_answer() -> None:
    # a calm day (one 1 s request a minute) and then the overflowing burst
    calm = [TraceRecord(i * 60.0, "m", "s", 10, 10, 1.0) for i in range(1440)]
    burst = [replace(r, arrival_offset_s=r.arrival_offset_s + 86400) for r in every(0.5, 10)]
    records = calm + burst
    whole = advise(records, PARAMS, since=WEEK[0], until=WEEK[1],
                   button_cost_usd=Decimal(0), recorded_diverted=0)  # fmt: skip
    # the log recorded the burst's last requests waiting (a quarter of 2 s and more)
    busy = [False] * len(calm) + [False] * 3 + [True] * 7
    stretch = advise(records, PARAMS, since=WEEK[0], until=WEEK[1],
                     button_cost_usd=Decimal(0), recorded_diverted=0, busy=busy)  # fmt: skip
    assert stretch.replayed < 30 and whole.replayed == len(records)
    assert (
        [(r.diverted, r.wait_diverted) for r in stretch.runs]
        == [(r.diverted, r.wait_diverted) for r in whole.runs]
        == [(3, 3), (0, 0)]
    )
    assert stretch.runs[0].cost_usd == whole.runs[0].cost_usd
    assert stretch.to_json()["replayed_requests"] == stretch.replayed
