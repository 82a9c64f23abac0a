"""How long a new arrival would wait for a local slot.

Owns the prediction the overflow policy and the breaker use: given the local
server's parallel slots, how long the requests now in service have been
running, how many are waiting ahead, and an estimate of one request's service
time. Pure: the queue monitor (live) and the replay simulator (simulated
clock) feed it the same facts.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from brb.core.breaker import Observation


def predicted_wait_s(
    *,
    slots: int,
    in_service_elapsed_s: Sequence[float],
    waiting: int,
    service_estimate_s: float,
) -> float:
    """Seconds until a request arriving now would get a slot (first byte).

    Each busy slot frees after its remaining time (the estimate minus what it
    has run, never below zero); idle slots are free now. Queued requests take
    slots in arrival order, each holding one for ``service_estimate_s``: with
    ``K`` slots sorted by when they free, the ``n``-th waiter (0-based) gets
    slot ``n % K`` after ``n // K`` full rounds. Exact for equal service times.
    """

    def nth_longest(j: int) -> float:
        if j == 0:
            return max(in_service_elapsed_s)
        return heapq.nlargest(j + 1, in_service_elapsed_s)[-1]

    return wait_for_slot_s(
        slots=slots,
        in_service=len(in_service_elapsed_s),
        nth_longest_s=nth_longest,
        waiting=waiting,
        service_estimate_s=service_estimate_s,
    )


def wait_for_slot_s(
    *,
    slots: int,
    in_service: int,
    nth_longest_s: Callable[[int], float],
    waiting: int,
    service_estimate_s: float,
) -> float:
    """:func:`predicted_wait_s` for a caller that can say how long the ``j``-th
    longest-running request in service (0-based) has run, without a list of
    them all: only one slot's free time is needed, so no sort."""
    k = max(1, slots)
    rounds, idx = divmod(max(0, waiting), k)
    # The slots sorted by when they free: the idle ones (free now), then the busy
    # ones, the longest-running first (of the k soonest).
    # A busy slot past its estimate is taken to free now.
    idle = k - min(k, in_service)
    free_at = 0.0 if idx < idle else max(0.0, service_estimate_s - nth_longest_s(idx - idle))
    # Rounded to the nanosecond so float noise can't make one more waiter wait less.
    return round(free_at + rounds * service_estimate_s, 9)


def service_estimate_s(ewma_s: float | None, in_service_elapsed_s: Sequence[float]) -> float:
    """The service time to plan with: the recent average, but never less than
    the longest request now in service has already taken (so a cold start,
    with no completion seen yet, still learns that service is slow)."""
    longest = max(in_service_elapsed_s, default=0.0)
    return max(ewma_s or 0.0, longest)


def ewma(previous: float | None, sample: float, alpha: float = 0.2) -> float:
    return sample if previous is None else previous + alpha * (sample - previous)


@dataclass(frozen=True, slots=True)
class QueueView:
    """One local model's queue at an instant, as the monitor (or the replay) sees it."""

    slots: int
    in_service_elapsed_s: tuple[float, ...] = ()
    waiting: int = 0
    oldest_wait_s: float = 0.0
    service_ewma_s: float | None = None

    @property
    def would_queue(self) -> bool:
        """A request arriving now would wait: every slot is busy, or others wait."""
        return self.waiting > 0 or len(self.in_service_elapsed_s) >= self.slots

    def predicted_wait_s(self) -> float:
        est = service_estimate_s(self.service_ewma_s, self.in_service_elapsed_s)
        return predicted_wait_s(
            slots=self.slots,
            in_service_elapsed_s=self.in_service_elapsed_s,
            waiting=self.waiting,
            service_estimate_s=est,
        )


def observe(views: Iterable[QueueView]) -> Observation:
    """The breaker's input: queue depth is every request waiting for its first
    byte, across models; wait is the longer of the oldest request's wait so
    far and how long a request arriving now would wait (so the breaker trips
    on the arrival that would wait too long, not a threshold-length later)."""
    return observe_predicted((v.waiting, v.oldest_wait_s, v.predicted_wait_s()) for v in views)


def observe_predicted(facts: Iterable[tuple[int, float, float]]) -> Observation:
    """:func:`observe` from each busy model's (waiting, oldest wait, predicted
    wait), for a caller that has them without building views."""
    depth = 0
    wait = 0.0
    for waiting, oldest_wait_s, predicted in facts:
        depth += waiting
        wait = max(wait, oldest_wait_s, predicted)
    return Observation(queue_depth=depth, wait_seconds=wait)


def with_arrival(obs: Observation, predicted_wait_s: float, *, would_queue: bool) -> Observation:
    """The observation as a new arrival changes it: if it would queue it counts
    in the depth, and its predicted wait counts. The daemon's dispatcher and
    the replay both step the breaker with this."""
    if not would_queue:
        return obs
    return Observation(obs.queue_depth + 1, max(obs.wait_seconds, predicted_wait_s))
