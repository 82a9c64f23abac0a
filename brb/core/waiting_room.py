"""The waiting room: brb's own queue in front of one (upstream, model), and when to let go.

Owns the decide-late policy. brb sends an upstream no more requests for a
model than its parallel slots; the rest wait here in arrival order, where
they can still be diverted (once sent, a request is never taken back or
duplicated). :meth:`UpstreamQueue.review` says, at any instant, which
waiting requests to send and which to divert, and
:meth:`UpstreamQueue.predicted_start_s` answers the pool's question ("if this
request came here now, when would it start?"). Must not do I/O, read a clock
or know about money or HTTP: the caller passes ``now``, says whether a
request may leave (mode, breaker, eligibility), and carries the moves out.

The rules, in order, at every review:

1. **Deadline** (the guarantee): a waiting request whose wait has reached
   ``wait_threshold_s - first_content_s`` is diverted, so even diverted it
   gets content by the threshold. No request kept local waits longer than
   that in brb, whatever the predictions say.
2. **Make room** (the choice): when a slot is free, the head of the queue
   is sent, unless the plan says it is the one to divert: the plan runs the
   waiting requests in order on the slots (each slot frees when its request's
   *expected* remaining time is up) and, at each request that would miss
   its deadline, removes the longest request not started yet (Moore-Hodgson:
   the one that frees the most expected local time, a huge document ahead
   of short chats), or the late one itself if none is longer. Only the head
   is acted on; the others are judged again later, with more known.
3. **Unreachable** (early, for the diverted request's sake): a request that
   the plan removes at its own miss even with every time at its *floor*
   (the prompt's known prefill, the shortest reply seen: what it could not
   take less than) is diverted now rather than at its deadline. The floor,
   not the mean or median, because an early diversion is one the deadline
   would not have needed if the slot freed sooner: on a heavy tail the
   typical figures cost diversions the FIFO baseline doesn't make.

Slots are learned: with ``probe_every_s`` set (the daemon's case; the
replay knows the real slots), now and then the head of the queue is sent
beyond the slots brb counts, when it may not leave anyway (so it loses
nothing by waiting inside the upstream); if its final object says it did
not wait there, there was one more slot.

What it optimises: the number of requests diverted, on the expected times,
with the deadline as a hard limit; which requests go is chosen to free the
most local time. What it guarantees: a request kept local is sent within
the deadline of its arrival, given that a slot brb counts as free is free
(see the daemon's README section on other clients), and nothing sent is
diverted.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from brb.core.breaker import QUIET, Observation
from brb.core.service_model import ModelRates, Progress, RequestShape

# Waits are sums of float seconds: a start "equal" to the deadline counts as in time.
EPSILON_S = 1e-9
# A probe that waited no longer than this inside the upstream found a free slot.
PROBE_TOLERANCE_S = 0.05
MAX_PROBE_BACKOFF = 32


class Verdict(StrEnum):
    SEND = "send"
    DEADLINE = "deadline"
    MAKES_ROOM = "makes_room"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class RoomRules:
    wait_threshold_s: float
    first_content_s: float = 0.0  # the provider's expected time to first content
    plan_quantile: float | None = None  # the plan of rule 2: None = expected (mean) times
    early_quantile: float | None = 0.0  # the plan of rule 3 (0: the floor); None: rule 3 off
    probe_every_s: float | None = None  # learn more slots: at most one probe this often
    # how long a request may wait in brb: worked out once (every arrival reads it)
    deadline_after_s: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        deadline = max(0.0, self.wait_threshold_s - self.first_content_s)
        object.__setattr__(self, "deadline_after_s", deadline)


@dataclass(frozen=True, slots=True)
class Waiter:
    key: int
    arrived_s: float
    shape: RequestShape = RequestShape()
    is_divertible: bool = True


@dataclass(frozen=True, slots=True)
class Move:
    key: int
    verdict: Verdict

    @property
    def is_divert(self) -> bool:
        return self.verdict is not Verdict.SEND


@dataclass(slots=True)
class _Sent:
    shape: RequestShape
    sent_s: float
    output_tokens: int | None = None


def plan(
    free_s: Sequence[float], jobs: Sequence[tuple[float, float, bool]]
) -> tuple[dict[int, float], dict[int, bool]]:
    """Moore-Hodgson on FIFO slots. ``free_s``: when each slot frees (seconds
    from now); ``jobs``: (duration_s, deadline_s from now, is_divertible) in
    queue order. Returns each kept job's start and, for each removed one,
    whether it was removed at its own miss (True) or to make room (False).

    Removing a job never delays another (FIFO list scheduling is monotone in
    the slots' free times), so every job kept before stays in time."""
    base = sorted(max(0.0, f) for f in free_s) or [0.0]
    heap = list(base)
    kept: list[int] = []
    starts: dict[int, float] = {}
    removed: dict[int, bool] = {}
    for pos, (duration, deadline, divertible) in enumerate(jobs):
        while True:
            start = heap[0]
            if not divertible or start <= deadline + EPSILON_S:
                heapq.heapreplace(heap, start + duration)
                kept.append(pos)
                starts[pos] = start
                break
            longer = [k for k in kept if jobs[k][2] and jobs[k][0] > duration]
            if not longer:
                removed[pos] = True
                break
            victim = max(longer, key=lambda k: (jobs[k][0], k))
            kept.remove(victim)
            del starts[victim]
            removed[victim] = False
            heap = list(base)
            for k in kept:  # everyone behind the victim moves up
                starts[k] = heap[0]
                heapq.heapreplace(heap, heap[0] + jobs[k][0])
    return starts, removed


class UpstreamQueue:
    """One model on one upstream: its slots, the requests sent to it, and its waiting room."""

    __slots__ = (
        "last_probe_s",
        "probe",
        "probe_backoff",
        "rates",
        "rules",
        "sent",
        "slots",
        "waiting",
    )

    def __init__(self, slots: int, rates: ModelRates, rules: RoomRules) -> None:
        self.slots = max(1, slots)
        self.rates = rates
        self.rules = rules
        self.waiting: OrderedDict[int, Waiter] = OrderedDict()
        self.sent: dict[int, _Sent] = {}
        self.probe: int | None = None  # the request sent beyond the slots to learn more
        self.last_probe_s = -math.inf
        self.probe_backoff = 1

    # --- what happens to requests -------------------------------------------------

    def arrive(self, waiter: Waiter) -> None:
        """A request joins the room (in arrival order: one put back keeps its place)."""
        self.waiting[waiter.key] = waiter
        if len(self.waiting) > 1 and waiter.arrived_s < next(iter(self.waiting.values())).arrived_s:
            for key in [k for k, w in self.waiting.items() if w.arrived_s > waiter.arrived_s]:
                self.waiting.move_to_end(key)

    def leave(self, key: int) -> None:
        """A waiting request leaves without being sent (its client went away)."""
        self.waiting.pop(key, None)

    def mark_sent(self, key: int, now: float, shape: RequestShape) -> None:
        """A request goes to the upstream outside the room's own moves."""
        self.waiting.pop(key, None)
        self.sent[key] = _Sent(shape, now)

    def progress(self, key: int, output_tokens: int) -> None:
        """A streamed request has produced ``output_tokens`` so far."""
        s = self.sent.get(key)
        if s is not None:
            s.output_tokens = output_tokens

    def finish(self, key: int, queued_s: float | None = None) -> None:
        """A sent request is done (or failed): its slot is free. ``queued_s``: how
        long it waited inside the upstream (its final object says), if known; a
        probe that did not wait shows one more slot than brb counted."""
        self.sent.pop(key, None)
        if key == self.probe:
            self.probe = None
            if queued_s is not None and queued_s <= PROBE_TOLERANCE_S:
                self.slots += 1
                self.probe_backoff = 1
            else:
                self.probe_backoff = min(MAX_PROBE_BACKOFF, 2 * self.probe_backoff)

    @property
    def has_free_slot(self) -> bool:
        return len(self.sent) < self.slots

    @property
    def is_idle(self) -> bool:
        return not self.sent and not self.waiting

    # --- the policy ------------------------------------------------------------------

    def review(self, now: float, may_divert: Callable[[int], bool]) -> list[Move]:
        """The moves to make at ``now`` (already applied to this queue's state):
        sends, and diversions of requests ``may_divert`` lets go."""
        moves: list[Move] = []
        limit = self.rules.deadline_after_s
        for w in list(self.waiting.values()):
            if w.is_divertible and now - w.arrived_s >= limit - EPSILON_S and may_divert(w.key):
                self._divert(w.key, Verdict.DEADLINE, moves)
        while self.waiting and self.has_free_slot:
            head = next(iter(self.waiting.values()))
            if head.is_divertible:
                _, removed = self._plan(now, self.rules.plan_quantile)
                if 0 in removed and may_divert(head.key):
                    self._divert(head.key, Verdict.MAKES_ROOM, moves)
                    continue
            del self.waiting[head.key]
            self.sent[head.key] = _Sent(head.shape, now)
            moves.append(Move(head.key, Verdict.SEND))
        if self.waiting and self._may_probe(now, may_divert):
            head = next(iter(self.waiting.values()))
            del self.waiting[head.key]
            self.sent[head.key] = _Sent(head.shape, now)
            self.probe, self.last_probe_s = head.key, now
            moves.append(Move(head.key, Verdict.SEND))
        if self.waiting and self.rules.early_quantile is not None:
            order = list(self.waiting.values())
            _, removed = self._plan(now, self.rules.early_quantile)
            for pos, is_own_miss in removed.items():
                if is_own_miss and may_divert(order[pos].key):
                    self._divert(order[pos].key, Verdict.UNREACHABLE, moves)
        return moves

    def _may_probe(self, now: float, may_divert: Callable[[int], bool]) -> bool:
        """Send the head beyond the slots, to see whether the upstream has more:
        only when no probe is out, not more often than ``probe_every_s`` (doubled
        after each probe that found no slot), and only a head that may not leave
        now (the breaker in standby, held, or an excluded request): it would wait
        for the slot anyway, so if there is no extra slot it starts when it
        would have, and no option to divert it is lost."""
        every = self.rules.probe_every_s
        if every is None or self.probe is not None:
            return False
        if now - self.last_probe_s < every * self.probe_backoff:
            return False
        head = next(iter(self.waiting.values()))
        return not head.is_divertible or not may_divert(head.key)

    def _divert(self, key: int, verdict: Verdict, moves: list[Move]) -> None:
        del self.waiting[key]
        moves.append(Move(key, verdict))

    # --- predictions -------------------------------------------------------------------

    def free_at_s(self, now: float, quantile: float | None = None) -> list[float]:
        """When each slot frees, seconds from ``now`` (0 for a free slot)."""
        heap = [0.0] * self.slots
        hidden = self.rates.hidden_wait_s
        for s in self.sent.values():
            elapsed = now - s.sent_s
            left = self.rates.remaining(
                s.shape, Progress(max(0.0, elapsed - hidden), s.output_tokens)
            )
            ahead = 0.0 if s.output_tokens else max(0.0, hidden - elapsed)
            heapq.heapreplace(heap, heap[0] + ahead + left.at(quantile))
        return sorted(heap)

    def _jobs(self, now: float, quantile: float | None) -> list[tuple[float, float, bool]]:
        limit = self.rules.deadline_after_s
        hidden = self.rates.hidden_wait_s
        return [
            (
                hidden + self.rates.service(w.shape).at(quantile),
                w.arrived_s + limit - now,
                w.is_divertible,
            )
            for w in self.waiting.values()
        ]

    def _plan(self, now: float, quantile: float | None) -> tuple[dict[int, float], dict[int, bool]]:
        return plan(self.free_at_s(now, quantile), self._jobs(now, quantile))

    def predicted_start_s(
        self, shape: RequestShape, now: float, quantile: float | None = 0.5
    ) -> float:
        """Seconds until a request of ``shape`` arriving now would be sent, after
        the requests ahead of it that the plan keeps (one it removes to make
        room for this one will be diverted). The pool compares this across
        upstreams."""
        free = self.free_at_s(now, quantile)
        jobs = self._jobs(now, quantile)
        mine = len(jobs)
        duration = self.rates.service(shape).at(quantile)
        jobs.append((duration, self.rules.deadline_after_s, True))
        starts, _ = plan(free, jobs)
        if mine not in starts:  # it can't make it: when it would start if it stayed
            jobs[mine] = (duration, float("inf"), False)
            starts, _ = plan(free, jobs)
        return round(starts[mine] + self.rates.hidden_wait_s, 9)

    def oldest_wait_s(self, now: float) -> float:
        if not self.waiting:
            return 0.0
        return now - next(iter(self.waiting.values())).arrived_s

    def next_deadline_s(self) -> float | None:
        """When the next waiting request reaches its deadline (for the caller's timer)."""
        due = [w.arrived_s for w in self.waiting.values() if w.is_divertible]
        return min(due) + self.rules.deadline_after_s if due else None

    def observation(self, now: float) -> Observation:
        """The breaker's input from this queue: depth is the requests waiting in
        brb; wait the longer of the oldest one's wait and a new arrival's
        predicted (typical) start."""
        if not self.waiting and len(self.sent) < self.slots:  # a free slot, nobody waiting
            return QUIET
        head = self.oldest_wait_s(now) + self.free_at_s(now, 0.5)[0] if self.waiting else 0.0
        wait = max(head, self.predicted_start_s(RequestShape(), now))
        return Observation(len(self.waiting), wait)
