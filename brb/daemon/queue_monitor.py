"""The queue monitor: brb's own count of Ollama's queue.

Ollama exposes no queue depth (no metrics; since v0.11.5 a request for a
loaded model waits on a semaphore of OLLAMA_NUM_PARALLEL slots, default 1,
with no 503), so brb counts what it forwards. Per model: requests pending
(arrived, no first byte yet), streaming (first byte sent, not done), the
parallel slots (the configured ``upstream_parallel``, raised to the most
ever seen streaming at once), and an EWMA of service seconds (from Ollama's
own ``prompt_eval_duration + eval_duration + load_duration`` when the final
object carries them, else measured).

A non-streamed answer's first byte is its last, so "pending" includes the
requests Ollama is already serving: the oldest ``slots - streaming`` pending
requests are taken to be in service, started when they arrived or when a
slot last freed, whichever is later. Time is monotonic seconds passed in.
"""

from __future__ import annotations

import heapq
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import islice

from brb.core.breaker import Observation
from brb.core.queueing import QueueView, ewma, observe_predicted, wait_for_slot_s, with_arrival
from brb.core.tracked_models import DEFAULT_MAX_TRACKED_MODELS, make_room

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Ticket:
    model: str
    arrived: float
    first_byte: float | None = None


@dataclass(slots=True)
class ModelQueue:
    slots: int
    pending: OrderedDict[int, Ticket] = field(default_factory=OrderedDict)
    streaming: dict[int, Ticket] = field(default_factory=dict)
    service_ewma_s: float | None = None
    last_freed: float = 0.0
    served: int = 0

    @property
    def has_free_slot(self) -> bool:
        """Nothing waits and a new arrival would start at once (the common, cheap case)."""
        return len(self.pending) + len(self.streaming) < self.slots

    def view(self, now: float) -> QueueView:
        streaming, pending = self.streaming, self.pending
        in_service: list[float] = [now - (t.first_byte or t.arrived) for t in streaming.values()]
        assumed = max(0, min(self.slots - len(streaming), len(pending)))
        waiting = len(pending) - assumed
        oldest_wait = 0.0
        if pending:
            freed = self.last_freed
            oldest_first = iter(pending.values())
            in_service.extend(
                now - (t.arrived if t.arrived > freed else freed)
                for t in islice(oldest_first, assumed)
            )
            if waiting:
                oldest_wait = now - next(oldest_first).arrived
        return QueueView(
            slots=self.slots,
            in_service_elapsed_s=tuple(in_service),
            waiting=waiting,
            oldest_wait_s=oldest_wait,
            service_ewma_s=self.service_ewma_s,
        )

    def wait_facts(self, now: float) -> tuple[int, float, float]:
        """``(waiting, oldest_wait_s, predicted_wait_s)`` exactly as :meth:`view`
        gives them, without building the view (the arrival and the breaker need
        only these): time only moves forward, so the requests streaming (in
        first-byte order) and those pending (in arrival order) are each listed
        longest-running first, and the few longest are merged, not sorted."""
        streaming, pending = self.streaming, self.pending
        assumed = max(0, min(self.slots - len(streaming), len(pending)))
        waiting = len(pending) - assumed
        freed = self.last_freed
        # The longest-running of each list is its first: the estimate and, most
        # often, the slot that frees first need nothing more.
        longest = 0.0
        if streaming:
            first = next(iter(streaming.values()))
            longest = now - (first.first_byte or first.arrived)
        if assumed:
            first = next(iter(pending.values()))
            ran = now - (first.arrived if first.arrived > freed else freed)
            longest = ran if not streaming or ran > longest else longest

        def nth_longest(j: int) -> float:
            if j == 0:
                return longest
            merged = heapq.merge(
                (now - (t.first_byte or t.arrived) for t in streaming.values()),
                (
                    now - (t.arrived if t.arrived > freed else freed)
                    for t in islice(pending.values(), assumed)
                ),
                reverse=True,
            )
            return next(islice(merged, j, None))

        in_service = len(streaming) + assumed
        estimate = max(self.service_ewma_s or 0.0, longest)
        predicted = wait_for_slot_s(
            slots=self.slots,
            in_service=in_service,
            nth_longest_s=nth_longest,
            waiting=waiting,
            service_estimate_s=estimate,
        )
        oldest_wait = (
            now - next(islice(pending.values(), assumed, None)).arrived if waiting else 0.0
        )
        return waiting, oldest_wait, predicted


def _is_idle(q: ModelQueue) -> bool:
    return not q.pending and not q.streaming


class QueueMonitor:
    def __init__(self, *, slots: int = 1, max_models: int = DEFAULT_MAX_TRACKED_MODELS) -> None:
        self._default_slots = max(1, slots)
        self._models: OrderedDict[str, ModelQueue] = OrderedDict()  # least recently used first
        self.max_models = max_models
        self._is_full_said = False
        self._next = 0

    def _queue(self, model: str) -> ModelQueue:
        q = self._models.get(model)
        if q is None:
            if make_room(self._models, self.max_models, _is_idle) and not self._is_full_said:
                self._is_full_said = True
                log.warning(
                    "the queue monitor tracks %d model names (max_tracked_models): from now "
                    "on each new one replaces the least recently used idle one",
                    self.max_models,
                )
            q = self._models[model] = ModelQueue(self._default_slots)
        else:
            self._models.move_to_end(model)
        return q

    @property
    def tracked(self) -> int:
        """How many model names have a queue here (bounded: ``max_tracked_models``)."""
        return len(self._models)

    def arrive(self, model: str, now: float) -> int:
        self._next += 1
        self._queue(model).pending[self._next] = Ticket(model, now)
        return self._next

    def first_byte(self, ticket: int, model: str, now: float) -> float:
        """Mark the first byte; returns the wait (arrival -> first byte)."""
        q = self._queue(model)
        t = q.pending.pop(ticket, None)
        if t is None:
            return 0.0
        t.first_byte = now
        q.streaming[ticket] = t
        if len(q.streaming) > q.slots:
            q.slots = len(q.streaming)
        return now - t.arrived

    def done(self, ticket: int, model: str, now: float, *, service_s: float | None) -> None:
        """The request finished (or failed). ``service_s`` is Ollama's own figure, if known."""
        q = self._queue(model)
        t = q.streaming.pop(ticket, None) or q.pending.pop(ticket, None)
        if t is None:
            return
        if service_s is None:
            started = max(t.arrived, q.last_freed)
            service_s = now - started
        if service_s > 0:
            q.service_ewma_s = ewma(q.service_ewma_s, service_s)
        q.last_freed = now
        q.served += 1
        self._trim(model, q)

    def abandon(self, ticket: int, model: str) -> None:
        """Forget a request that never reached the upstream."""
        q = self._queue(model)
        q.pending.pop(ticket, None)
        q.streaming.pop(ticket, None)
        self._trim(model, q)

    def _trim(self, model: str, q: ModelQueue) -> None:
        """Past the bound (every name was busy), a name that falls idle goes at once."""
        if len(self._models) > self.max_models and _is_idle(q):
            del self._models[model]

    def views(self, now: float) -> dict[str, QueueView]:
        return {m: q.view(now) for m, q in self._models.items()}

    def observation(self, now: float) -> Observation:
        """The breaker's input; models with a free slot contribute nothing (no list built)."""
        return observe_predicted(
            q.wait_facts(now) for q in self._models.values() if not q.has_free_slot
        )

    def arrival(self, model: str, now: float) -> tuple[bool, float, Observation]:
        """For a request for ``model`` arriving now: would it queue, how long would it
        wait for a slot (seconds), and the breaker's observation with it counted.
        Each busy model's facts are worked out once, without building its view."""
        facts = [(m, q.wait_facts(now)) for m, q in self._models.items() if not q.has_free_slot]
        obs = observe_predicted(f for _, f in facts)
        mine = next((f[2] for m, f in facts if m == model), None)
        if mine is None:
            return False, 0.0, obs
        return True, mine, with_arrival(obs, mine, would_queue=True)

    def seed_service_estimate(self, model: str, service_s: float) -> None:
        """Start from a known service time (from the store's samples after a restart)."""
        q = self._queue(model)
        if q.service_ewma_s is None and service_s > 0:
            q.service_ewma_s = service_s
