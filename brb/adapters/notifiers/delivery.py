"""Delivering one notifier request: attempts, exponential backoff with jitter, Retry-After.

Owns the retry policy for notifier calls: retry what
:func:`brb.adapters.notifiers.http.send` calls retryable (connection errors,
timeouts, 408/420/425/429, 5xx), give up at once on any other 4xx, stop after
``max_attempts``, and wait between attempts for the server's ``Retry-After``
(capped) or else an exponentially growing step with jitter. Each attempt's
outcome goes to a callback (the alerter records it as an event).

Must not: know which alert or notifier it carries, touch the store, or sleep
with anything but the ``sleep`` it is given (tests pass a recorder).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from brb.adapters.notifiers.http import Outcome, Request, send

Sleep = Callable[[float], Awaitable[object]]
OnAttempt = Callable[[int, Outcome, bool], Awaitable[None]]  # attempt, outcome, is_final


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 1.0
    cap_s: float = 60.0
    max_retry_after_s: float = 300.0
    timeout_s: float = 10.0  # one attempt


def retry_delay_s(
    policy: RetryPolicy, attempt: int, retry_after_s: float | None, unit_random: float
) -> float:
    """How long to wait after failed attempt number ``attempt`` (1-based).

    The server's ``Retry-After`` wins (capped); otherwise exponential backoff
    with "equal jitter": half the step fixed, half random, so retries from
    several brb hosts spread out but never come back immediately.
    """
    if retry_after_s is not None:
        return min(max(retry_after_s, 0.0), policy.max_retry_after_s)
    step = min(policy.cap_s, policy.base_s * 2.0 ** (attempt - 1))
    return step / 2 + step / 2 * min(max(unit_random, 0.0), 1.0)


async def deliver(
    session: aiohttp.ClientSession,
    request: Request,
    policy: RetryPolicy,
    *,
    on_attempt: OnAttempt,
    sleep: Sleep = asyncio.sleep,
    unit_random: Callable[[], float] = random.random,
) -> Outcome:
    """Send ``request`` until it is delivered or not worth retrying; the last outcome."""
    attempt = 1
    while True:
        outcome = await send(session, request, policy.timeout_s)
        final = outcome.ok or not outcome.retryable or attempt >= policy.max_attempts
        await on_attempt(attempt, outcome, final)
        if final:
            return outcome
        await sleep(retry_delay_s(policy, attempt, outcome.retry_after_s, unit_random()))
        attempt += 1


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One attempt's outcome, as recorded; ``final`` when no retry follows."""

    notifier: str
    alert_kind: str
    alert_key: str
    attempt: int
    ok: bool
    status: int | None
    error: str | None
    final: bool

    def detail(self) -> dict[str, object]:
        return dataclasses.asdict(self)
