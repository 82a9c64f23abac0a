"""Reading replay traces, and the figures a run reports."""

from __future__ import annotations

import json

import pytest

from brb.core.replay import TraceRecord, parse_trace, percentile
from brb.errors import UsageError

GOOD = {
    "arrival_offset_s": 1.5,
    "model": "llama3.1:8b",
    "session": "web-1",
    "prompt_tokens": 10,
    "output_tokens": 30,
}


def line(**changes: object) -> str:
    data = {**GOOD, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...})


def test_reads_and_sorts_by_arrival() -> None:
    lines = [line(arrival_offset_s=3), "", line(service_s=2.5), line(arrival_offset_s=0)]
    records = parse_trace(lines)
    assert [r.arrival_offset_s for r in records] == [0.0, 1.5, 3.0]
    assert records[1] == TraceRecord(1.5, "llama3.1:8b", "web-1", 10, 30, 2.5)
    assert records[0].local_service_s(30.0) == 1.0  # 30 output tokens at 30 tok/s
    assert records[1].local_service_s(30.0) == 2.5  # measured wins


def test_session_is_optional() -> None:
    assert parse_trace([line(session=...)])[0].session == ""


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (line(model=...), "missing field 'model'"),
        (line(output_tokens=...), "missing field 'output_tokens'"),
        (line(arrival_offset_s="soon"), "'arrival_offset_s' must be a number"),
        (line(arrival_offset_s=-1), "'arrival_offset_s' must be a finite number >= 0"),
        (line(prompt_tokens=1.5), "'prompt_tokens' must be a whole number"),
        (line(output_tokens=True), "'output_tokens' must be a whole number"),
        (line(service_s="fast"), "'service_s' must be a number"),
        (line(model=""), "'model' must be a non-empty string"),
    ],
)
def test_a_bad_line_is_named(bad: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_trace([line(), "", bad], source="night.jsonl")
    assert str(err.value).startswith("night.jsonl line 3: ")
    assert message in str(err.value)
    assert err.value.exit_code == 2


def test_an_empty_trace_is_refused() -> None:
    with pytest.raises(UsageError, match="no requests"):
        parse_trace(["", "  "])


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([7.0], 99, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([4.0, 1.0, 3.0, 2.0], 75, 3.25),  # numpy.percentile's default (linear)
        (list(map(float, range(1, 101))), 99, 99.01),
    ],
)
def test_percentile_interpolates_like_numpy(
    values: list[float], q: float, expected: float | None
) -> None:
    got = percentile(values, q)
    assert got == (None if expected is None else pytest.approx(expected))
