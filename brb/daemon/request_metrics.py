"""The two metrics every answered request moves, counted in plain numbers.

Owns ``brb_requests_total`` (by backend and outcome) and
``brb_request_duration_seconds`` (a histogram by backend) for
:class:`~brb.daemon.metrics.Metrics`. prometheus_client's own Counter and
Histogram take a lock per increment and walk the bucket bounds in Python on
every observation (about 16k instructions a request); here a request is an
int increment, a bisect (in C) and a float add, and the samples are built
when ``/metrics`` is scraped, by a custom collector
(:class:`RequestTally`), sample for sample what the library's own metrics
print: the same names, help, type, labels, series order, buckets, sums and
``_created`` times.

Must not be touched off the event loop: the requests that count and the
``/metrics`` handler that reads both run on it, so there is no lock.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import metrics as client_metrics
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

OTHER = "other"
REQUESTS = "brb_requests"
REQUESTS_HELP = "Requests answered, by backend and outcome"
DURATION = "brb_request_duration_seconds"
DURATION_HELP = "Arrival to last byte, by backend"
# how the library writes a bucket's ``le`` (0.05, 1.0, +Inf); untyped there
_le_label: Callable[[float], str] = floatToGoString


class _Durations:
    """One backend's histogram: a count per bucket (not cumulative), the sum."""

    __slots__ = ("buckets", "sum", "created")

    def __init__(self, size: int) -> None:
        self.buckets = [0] * size
        self.sum = 0.0
        self.created = time.time()


class _Count:
    """One (backend, outcome) series of the request counter."""

    __slots__ = ("n", "created")

    def __init__(self) -> None:
        self.n = 0
        self.created = time.time()


class RequestTally(Collector):
    """Requests answered and their durations, exposed at scrape time (see the module
    docstring). Label values outside ``backends`` / ``outcomes`` fold into ``other``."""

    def __init__(
        self, backends: Sequence[str], outcomes: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self._backends = tuple(backends)
        self._outcomes = tuple(outcomes)
        bounds = [float(b) for b in buckets]
        if bounds != sorted(bounds):
            raise ValueError("buckets not in sorted order")
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)
        self._bounds = tuple(bounds)
        self._le = tuple(_le_label(b) for b in bounds)
        self._durations: dict[str, _Durations] = {}
        self._counts: dict[tuple[str, str], _Count] = {}
        # (backend, outcome) as reported -> its series, folded into ``other`` once per pair
        self._cells: dict[tuple[str, str], tuple[_Count, _Durations]] = {}
        # Series that exist from the first scrape, at zero: rate() needs them.
        for backend in self._backends:
            self._histogram(backend)
            for outcome in self._outcomes:
                self._count(backend, outcome)

    def add(self, backend: str, outcome: str, duration_s: float) -> None:
        """One request answered by ``backend`` with ``outcome``, ``duration_s`` long."""
        cell = self._cells.get((backend, outcome))
        if cell is None:
            cell = self._cell(backend, outcome)
        count, durations = cell
        count.n += 1
        # the first bucket whose bound is >= duration_s: the library's ``amount <= bound``
        durations.buckets[bisect.bisect_left(self._bounds, duration_s)] += 1
        durations.sum += duration_s

    def _cell(self, backend: str, outcome: str) -> tuple[_Count, _Durations]:
        b = backend if backend in self._backends else OTHER
        o = outcome if outcome in self._outcomes else OTHER
        cell = self._cells[(backend, outcome)] = (self._count(b, o), self._histogram(b))
        return cell

    def _count(self, backend: str, outcome: str) -> _Count:
        c = self._counts.get((backend, outcome))
        if c is None:
            c = self._counts[(backend, outcome)] = _Count()
        return c

    def _histogram(self, backend: str) -> _Durations:
        d = self._durations.get(backend)
        if d is None:
            d = self._durations[backend] = _Durations(len(self._bounds))
        return d

    # --- exposition (a Collector: the registry calls these) --------------------------

    def describe(self) -> Iterable[Metric]:
        return [
            CounterMetricFamily(REQUESTS, REQUESTS_HELP, labels=("backend", "outcome")),
            HistogramMetricFamily(DURATION, DURATION_HELP, labels=("backend",)),
        ]

    def collect(self) -> Iterable[Metric]:
        created = client_metrics._use_created  # PROMETHEUS_DISABLE_CREATED_SERIES, as the library
        requests = CounterMetricFamily(REQUESTS, REQUESTS_HELP, labels=("backend", "outcome"))
        for (backend, outcome), count in self._counts.items():
            requests.add_metric(
                (backend, outcome), count.n, created=count.created if created else None
            )
        durations = HistogramMetricFamily(DURATION, DURATION_HELP, labels=("backend",))
        for backend, d in self._durations.items():
            cumulative, acc = [], 0
            for le, n in zip(self._le, d.buckets, strict=True):
                acc += n
                cumulative.append((le, float(acc)))
            durations.add_metric((backend,), cumulative, d.sum)
            if created:
                durations.samples.append(
                    Sample(f"{DURATION}_created", {"backend": backend}, d.created, None, None)
                )
        return [requests, durations]
