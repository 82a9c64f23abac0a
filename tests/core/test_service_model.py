"""brb.core.service_model: rates from Ollama's figures, reply lengths, remaining time."""

from __future__ import annotations

import bisect
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brb.core.service_model import (
    ModelRates,
    Prior,
    Progress,
    ReplyLengths,
    RequestShape,
    ServiceFigures,
    ServiceModel,
)


def learned(replies: list[int], *, prefill: float = 0.001, decode: float = 0.02) -> ModelRates:
    rates = ModelRates()
    for n in replies:
        rates.learn(
            ServiceFigures(
                prompt_tokens=100,
                output_tokens=n,
                prompt_eval_s=100 * prefill,
                eval_s=n * decode,
                load_s=0.0,
            )
        )
    return rates


def test_rates_are_learned_from_the_final_object() -> None:
    rates = learned([10, 20, 30], prefill=0.002, decode=0.05)
    assert rates.prefill_s_per_token == pytest.approx(0.002)
    assert rates.decode_s_per_token == pytest.approx(0.05)
    assert rates.expected_load_s == 0.0
    assert rates.learned == 3


def test_a_measured_total_is_split_in_the_current_proportions() -> None:
    rates = learned([10], prefill=0.002, decode=0.05)
    rates.learn(ServiceFigures(prompt_tokens=500, output_tokens=100, measured_s=1.0 + 5.0))
    assert rates.decode_s_per_token == pytest.approx(0.05)


def test_cold_start_uses_the_prior() -> None:
    rates = ModelRates(
        prior=Prior(prefill_s_per_token=0.01, decode_s_per_token=0.1, reply_tokens=50)
    )
    est = rates.service(RequestShape(prompt_tokens=100))
    assert est.mean_s == pytest.approx(1.0 + 5.0)
    assert rates.service(
        RequestShape(prompt_tokens=0, max_output_tokens=10)
    ).mean_s == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("produced", "cap", "mean", "median", "p90", "floor"),
    [
        (0, None, 5.5, 5, 9, 1),  # 1..10: mean 5.5
        (5, None, 3.0, 3, 5, 1),  # longer than 5: 6..10, remaining 1..5
        (0, 4, 3.4, 4, 4, 1),  # capped at 4: 1,2,3,4,4,4,4,4,4,4
        (10, None, 5.0, 5.0, 10.0, 1.0),  # past everything seen: half of what was produced
        (20, 25, 5.0, 5.0, 5.0, 1.0),  # ... never past the cap
        (4, 4, 0.0, 0.0, 0.0, 0.0),  # at the cap: done
    ],
)
def test_residual_reply_length(
    produced: float, cap: int | None, mean: float, median: float, p90: float, floor: float
) -> None:
    sketch = ReplyLengths()
    for n in range(1, 11):
        sketch.add(n)
    assert sketch.residual(produced, cap) == pytest.approx((mean, median, p90, floor))


def test_the_sketch_keeps_only_the_recent_replies() -> None:
    sketch = ReplyLengths(size=3)
    for n in (1000, 1, 2, 3):
        sketch.add(n)
    assert len(sketch) == 3
    assert sketch.residual(0, None)[0] == pytest.approx(2.0)


@given(size=st.integers(1, 4), lengths=st.lists(st.integers(-2, 3), max_size=30))
def test_replies_as_long_as_the_ones_they_evict(size: int, lengths: list[int]) -> None:
    """Few distinct lengths: most replies evict one as long as themselves (the sorted
    lengths are then left as they are) and the sketch still holds the last ``size``."""
    sketch = ReplyLengths(size=size)
    for tokens in lengths:
        sketch.add(tokens)
    kept = [max(0, t) for t in lengths[-size:]] if lengths else []
    assert len(sketch) == len(kept)
    assert sketch._sorted == sorted(kept) and sketch._total == sum(kept)


def test_a_document_takes_longer_than_a_chat() -> None:
    rates = learned([20] * 50, prefill=0.001, decode=0.02)
    chat = rates.service(RequestShape(prompt_tokens=20)).mean_s
    doc = rates.service(RequestShape(prompt_tokens=4000)).mean_s
    assert doc - chat == pytest.approx(3980 * 0.001)


def test_a_heavy_tail_remaining_time_grows_with_age() -> None:
    rates = learned([10] * 90 + [1000] * 10, decode=0.01)
    shape = RequestShape(prompt_tokens=100)
    fresh = rates.remaining(shape, Progress(0.0)).mean_s
    streamed_past_short = rates.remaining(shape, Progress(0.5, output_tokens=50)).mean_s
    whole_past_short = rates.remaining(shape, Progress(0.1 + 50 * 0.01)).mean_s
    assert streamed_past_short > fresh
    assert streamed_past_short == pytest.approx(950 * 0.01)
    assert whole_past_short == pytest.approx(streamed_past_short)


def test_a_request_still_in_prefill_has_its_prefill_left() -> None:
    rates = learned([10] * 10, prefill=0.001, decode=0.01)
    left = rates.remaining(RequestShape(prompt_tokens=2000), Progress(0.5))
    assert left.mean_s == pytest.approx(1.5 + 0.1)


def test_one_model_per_name() -> None:
    model = ServiceModel()
    model.learn("a", ServiceFigures(output_tokens=5, eval_s=1.0))
    assert model.rates("a").decode_s_per_token == pytest.approx(0.2)
    assert model.rates("b").learned == 0
    assert set(model.models()) == {"a", "b"}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    replies=st.lists(st.integers(0, 5000), min_size=1, max_size=60),
    produced=st.floats(0, 6000),
    cap=st.one_of(st.none(), st.integers(1, 6000)),
)
def test_residual_is_ordered_and_within_the_cap(
    replies: list[int], produced: float, cap: int | None
) -> None:
    sketch = ReplyLengths()
    for n in replies:
        sketch.add(n)
    mean, median, p90, floor = sketch.residual(produced, cap)
    assert 0 <= floor <= median <= p90
    assert mean >= 0
    if cap is not None:
        assert max(mean, p90) <= max(0.0, cap - produced) + 1e-9


def test_a_measured_total_alone_teaches_the_total() -> None:
    rates = ModelRates(prior=Prior(prefill_s_per_token=0.001, decode_s_per_token=0.01, load_s=0.0))
    shape = RequestShape(prompt_tokens=1000)
    for _ in range(30):
        rates.learn(ServiceFigures(prompt_tokens=1000, output_tokens=500, measured_s=1.0))
    assert rates.service(shape).mean_s == pytest.approx(1.0)
    assert rates.prefill_s_per_token / rates.decode_s_per_token == pytest.approx(0.1)


@given(
    size=st.integers(1, 12),
    lengths=st.lists(st.integers(-5, 300), max_size=40),
    produced=st.one_of(st.just(0.0), st.floats(0.0, 320.0)),
    cap=st.one_of(st.none(), st.integers(0, 400)),
)
def test_the_kept_total_answers_as_the_sum_of_the_lengths(
    size: int, lengths: list[int], produced: float, cap: int | None
) -> None:
    """The residual reads a kept total instead of summing the lengths: it answers
    exactly as summing them does, evictions included."""
    sketch = ReplyLengths(size=size)
    for tokens in lengths:
        sketch.add(tokens)
    kept = sorted(max(0, t) for t in lengths[-size:]) if lengths else []
    assert sketch._sorted == kept and sketch._total == sum(kept)
    room = math.inf if cap is None else max(0.0, cap - produced)
    lo = bisect.bisect_right(kept, produced)
    n = len(kept) - lo
    if room == 0.0 or n == 0:
        return
    limit = produced + room
    hi = bisect.bisect_right(kept, limit, lo) if math.isfinite(limit) else len(kept)
    tail = (len(kept) - hi) * limit if math.isfinite(limit) else 0
    assert sketch.residual(produced, cap)[0] == (sum(kept[lo:hi]) + tail - n * produced) / n
