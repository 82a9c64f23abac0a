"""The hindsight oracle: the fewest diversions that keep every local wait in bounds.

Owns the yardstick the replay holds a policy against. Knowing every arrival
and service time in advance, it keeps as many requests local as it can such
that no request it keeps waits longer than the wait threshold, on the same
local model as the simulator (``slots`` FIFO slots per model). For a pool it
takes the pool's slots together (``SimParams.total_slots``, a request starting
on whichever upstream frees a slot first) and loads no model: a bound no
placement across the upstreams can beat. Requests
that may not leave (an excluded session, a model with no cloud price) are
always kept and never counted against the oracle; the budget is ignored.
Must not do I/O; it shares no state with the simulator.

The rule, per model, in arrival order: keep the arrival if it would start
within the threshold. If it would not, divert the longest request that is
kept but has not started yet, if that one is strictly longer than the
arrival (Moore-Hodgson style), and try again; else divert the arrival.
Removing a queued request only moves later ones earlier, so every request
kept before stays within bounds.

With equal service times (and nothing forced to stay local) this is the
greedy "divert each arrival that would wait too long", which is exact: the
tests check it against a brute-force search. With mixed service times the
answer is feasible, so it is an upper bound on the fewest diversions
(``is_exact`` is False).

Beside it, the online FIFO baseline (:func:`fifo_diversions`): what a policy
that knows only the past does with the real service times: requests wait in
arrival order and one is diverted the moment its wait reaches the threshold.
A policy that chooses well what to divert beats it; the oracle bounds both.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from brb.core.pricing import cost_usd, price_for
from brb.core.replay.run import SimParams
from brb.core.replay.trace import TraceRecord
from brb.core.sessions import SessionFilter

# Waits are sums of float seconds: a wait "equal" to the threshold must count as within it.
EPSILON_S = 1e-9


@dataclass(frozen=True, slots=True)
class OracleResult:
    diverted: int
    cost_usd: Decimal
    is_exact: bool
    diverted_indices: frozenset[int]
    waits_s: tuple[float, ...]  # of the requests kept local, in trace order
    latencies_s: tuple[float, ...]  # of every request, in trace order
    fifo_diverted: int = 0  # the online FIFO baseline, on the same arrivals


@dataclass(frozen=True, slots=True)
class _Job:
    index: int
    arrival_s: float
    service_s: float
    is_divertible: bool


@dataclass(slots=True)
class _Planned:
    job: _Job
    start_s: float


def plan_diversions(
    jobs: Sequence[tuple[float, float, bool]], *, slots: int, wait_threshold_s: float
) -> tuple[set[int], dict[int, float]]:
    """One model's plan: ``jobs`` are (arrival_s, service_s, is_divertible) in
    arrival order; returns the positions diverted and each kept one's start."""
    committed = [0.0] * max(1, slots)  # slot free times after the started jobs
    full = list(committed)  # ... after every kept job
    pending: list[_Planned] = []  # kept, not started yet, FIFO
    diverted: set[int] = set()
    starts: dict[int, float] = {}

    def commit_started(now_s: float) -> None:
        k = 0
        while k < len(pending) and pending[k].start_s <= now_s:
            p = pending[k]
            heapq.heapreplace(committed, p.start_s + p.job.service_s)
            starts[p.job.index] = p.start_s
            k += 1
        del pending[:k]

    for pos, (arrival_s, service_s, is_divertible) in enumerate(jobs):
        job = _Job(pos, arrival_s, service_s, is_divertible)
        commit_started(arrival_s)
        while True:
            start_s = max(arrival_s, full[0])
            if not is_divertible or start_s - arrival_s <= wait_threshold_s + EPSILON_S:
                heapq.heapreplace(full, start_s + service_s)
                pending.append(_Planned(job, start_s))
                break
            longer = [p for p in pending if p.job.is_divertible and p.job.service_s > service_s]
            if not longer:
                diverted.add(pos)
                break
            victim = max(longer, key=lambda p: (p.job.service_s, p.job.arrival_s, p.job.index))
            pending.remove(victim)
            diverted.add(victim.job.index)
            full = list(committed)
            for p in pending:  # everyone behind the victim moves up
                p.start_s = max(p.job.arrival_s, full[0])
                heapq.heapreplace(full, p.start_s + p.job.service_s)
            commit_started(arrival_s)
    commit_started(float("inf"))
    return diverted, starts


def fifo_diversions(
    jobs: Sequence[tuple[float, float, bool]], *, slots: int, wait_threshold_s: float
) -> set[int]:
    """The online FIFO baseline for one model: ``jobs`` are (arrival_s,
    service_s, is_divertible) in arrival order; a request that would wait past
    the threshold is diverted when its wait reaches it (and frees nothing)."""
    free = [0.0] * max(1, slots)
    diverted: set[int] = set()
    for pos, (arrival_s, service_s, is_divertible) in enumerate(jobs):
        start_s = max(arrival_s, free[0])
        if is_divertible and start_s - arrival_s > wait_threshold_s + EPSILON_S:
            diverted.add(pos)
            continue
        heapq.heapreplace(free, start_s + service_s)
    return diverted


def oracle(trace: Sequence[TraceRecord], params: SimParams) -> OracleResult:
    """The hindsight plan for ``trace`` under ``params`` (slots, service
    times, wait threshold, excluded sessions, prices, cloud latency)."""
    sessions = SessionFilter(params.excluded_sessions)
    service = [
        r.local_service_s(params.tokens_per_second, params.prefill_tokens_per_second) for r in trace
    ]
    fifo = 0
    by_model: dict[str, list[int]] = {}
    for i, r in enumerate(trace):
        by_model.setdefault(r.model, []).append(i)

    prices = {m: price_for(params.cloud_model_for(m), params.price_overrides) for m in by_model}
    diverted: set[int] = set()
    starts: dict[int, float] = {}
    is_exact = True
    for model, indices in by_model.items():
        divertible = [
            prices[model] is not None and not sessions.is_excluded(trace[i].session)
            for i in indices
        ]
        jobs = [
            (trace[i].arrival_offset_s, service[i], divertible[k]) for k, i in enumerate(indices)
        ]
        lost_pos, start_pos = plan_diversions(
            jobs, slots=params.total_slots, wait_threshold_s=params.thresholds.wait_seconds
        )
        diverted.update(indices[p] for p in lost_pos)
        fifo += len(
            fifo_diversions(
                jobs, slots=params.total_slots, wait_threshold_s=params.thresholds.wait_seconds
            )
        )
        starts.update((indices[p], s) for p, s in start_pos.items())
        times = [service[i] for i in indices]
        if not all(divertible) or max(times) - min(times) > EPSILON_S:
            is_exact = False

    cost = Decimal(0)
    waits: list[float] = []
    latencies: list[float] = []
    for i, r in enumerate(trace):
        if i in diverted:
            price = prices[r.model]
            assert price is not None  # only priced requests are divertible
            cost += cost_usd(price, input_tokens=r.prompt_tokens, output_tokens=r.output_tokens)
            latencies.append(params.cloud_latency_s)
        else:
            wait = starts[i] - r.arrival_offset_s
            waits.append(wait)
            latencies.append(wait + service[i])
    return OracleResult(
        len(diverted),
        cost,
        is_exact,
        frozenset(diverted),
        tuple(waits),
        tuple(latencies),
        fifo_diverted=fifo,
    )
