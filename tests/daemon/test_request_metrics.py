"""The per-request tally prints, sample for sample, what prometheus_client's own
Counter and Histogram print for the same requests."""

from __future__ import annotations

import re

import pytest
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    enable_created_metrics,
    generate_latest,
)

from brb.daemon.metrics import BACKENDS, DURATION_BUCKETS, OUTCOMES
from brb.daemon.request_metrics import (
    DURATION,
    DURATION_HELP,
    REQUESTS,
    REQUESTS_HELP,
    RequestTally,
)

# on a bound, between, past the last, zero, negative, and labels that fold into "other"
REQUESTS_SEEN = [
    ("ollama", "ok", 0.05),
    ("ollama", "ok", 0.050001),
    ("ollama", "error", 600.0),
    ("ollama", "ok", 601.0),
    ("anthropic", "fallback", 1.5),
    ("anthropic", "ok", 0.0),
    ("ollama", "cancelled", -0.5),
    ("openai", "ok", 2.5),
    ("ollama", "exploded", 0.3),
    ("mistral", "weird", 30.0),
    ("ollama", "ok", 0.1),
]


def _library(seen: list[tuple[str, str, float]]) -> bytes:
    """What the library's Counter and Histogram print for ``seen``."""
    r = CollectorRegistry(auto_describe=True)
    requests = Counter(REQUESTS, REQUESTS_HELP, ["backend", "outcome"], registry=r)
    duration = Histogram(DURATION, DURATION_HELP, ["backend"], buckets=DURATION_BUCKETS,
                         registry=r)  # fmt: skip
    for backend in BACKENDS:
        duration.labels(backend)
        for outcome in OUTCOMES:
            requests.labels(backend, outcome)
    for backend, outcome, seconds in seen:
        b = backend if backend in BACKENDS else "other"
        requests.labels(b, outcome if outcome in OUTCOMES else "other").inc()
        duration.labels(b).observe(seconds)
    return generate_latest(r)


def _tally(seen: list[tuple[str, str, float]]) -> bytes:
    r = CollectorRegistry(auto_describe=True)
    tally = RequestTally(BACKENDS, OUTCOMES, DURATION_BUCKETS)
    r.register(tally)
    for backend, outcome, seconds in seen:
        tally.add(backend, outcome, seconds)
    return generate_latest(r)


def _timeless(body: bytes) -> str:
    """The exposition with each ``_created`` time (a clock reading) blanked."""
    return re.sub(r"(_created(\{[^}]*\})?) \S+", r"\1 T", body.decode())


@pytest.mark.parametrize("n", [0, 1, len(REQUESTS_SEEN)])
def test_the_exposition_is_the_librarys(n: int) -> None:
    seen = REQUESTS_SEEN[:n]
    ours, theirs = _timeless(_tally(seen)), _timeless(_library(seen))
    assert ours == theirs
    assert "brb_requests_created" in ours and 'le="+Inf"' in ours


def test_created_series_follow_the_librarys_switch() -> None:
    disable_created_metrics()
    try:
        ours, theirs = _tally(REQUESTS_SEEN).decode(), _library(REQUESTS_SEEN).decode()
    finally:
        enable_created_metrics()
    assert ours == theirs
    assert "_created" not in ours


def test_a_request_counts_once_in_one_bucket() -> None:
    tally = RequestTally(BACKENDS, OUTCOMES, DURATION_BUCKETS)
    tally.add("ollama", "ok", 0.25)
    (requests, durations) = tally.collect()
    counts = {tuple(s.labels.values()): s.value for s in requests.samples
              if s.name == "brb_requests_total"}  # fmt: skip
    assert counts[("ollama", "ok")] == 1 and sum(counts.values()) == 1
    buckets = {s.labels["le"]: s.value for s in durations.samples
               if s.name.endswith("_bucket") and s.labels["backend"] == "ollama"}  # fmt: skip
    assert (buckets["0.1"], buckets["0.25"], buckets["+Inf"]) == (0, 1, 1)


def test_buckets_must_be_sorted() -> None:
    with pytest.raises(ValueError, match="sorted"):
        RequestTally(BACKENDS, OUTCOMES, (1.0, 0.5))
