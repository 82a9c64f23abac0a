"""When to stop asking a failing cloud provider, and when to try it again.

Owns the per-provider backoff: after a retryable failure (429, 529, 5xx, a
timeout) that came with a ``retry-after``, the provider rests that long; a
run of failures without one (from the third in a row: one blip is not a
trend) rests it for a growing pause (1 s, 2 s, 4 s ... capped). The first
success clears it. While a provider rests, requests go straight to the next one or
the local queue instead of paying a round trip to be refused. Pure: time is
monotonic seconds passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

TOLERATED = 2  # failures in a row that don't rest the provider (without a retry-after)
BASE_S = 1.0
CAP_S = 30.0
RETRY_AFTER_CAP_S = 300.0


@dataclass(frozen=True, slots=True)
class Backoff:
    failures: int = 0
    resting_until: float = 0.0

    def is_resting(self, now: float) -> bool:
        return now < self.resting_until


def after_failure(b: Backoff, now: float, retry_after_s: float | None = None) -> Backoff:
    failures = b.failures + 1
    if retry_after_s is not None and retry_after_s > 0:
        pause = min(retry_after_s, RETRY_AFTER_CAP_S)
    elif failures > TOLERATED:
        pause = min(BASE_S * 2 ** (failures - TOLERATED - 1), CAP_S)
    else:
        return Backoff(failures, b.resting_until)
    return Backoff(failures, max(b.resting_until, now + pause))


def after_success(b: Backoff) -> Backoff:
    return Backoff() if b.failures else b
