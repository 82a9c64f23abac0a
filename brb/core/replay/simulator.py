"""The replay simulator: a trace through the daemon's own rules, on a simulated clock.

Owns the discrete-event loop of ``brb replay``: arrivals, local completions,
cloud completions and the 1 s tick, in a fixed order, and what the daemon
does at each. The decisions themselves are made by the daemon's code, not a
copy: the breaker (:func:`brb.core.breaker.step`), the queue prediction and
observation (:mod:`brb.core.queueing`), the routing decision
(:func:`brb.core.policy.decide`, asked through
:class:`brb.core.replay.routing.Router`, which also owns session exclusion and
pricing), the pool's placement (:func:`brb.core.placement.choose`, through
:class:`brb.core.replay.pool_server.PoolServer`) and the budget rules
(:class:`brb.core.replay.cloud_side.CloudSide`). Must not do I/O, log or read
the clock: time is ``params.start`` plus simulated seconds, so a run is a pure
function of its trace and parameters.

What happens, as the daemon does it:

* **arrival**: the breaker is stepped with the queue as it is plus this
  arrival, counted if it would queue (its predicted wait, from the queue
  ahead of it and the learned service time); then ``decide`` routes it with
  that predicted wait. A ``divert`` reserves the worst case on the budget day; a failed
  reservation keeps it local. A diverted request completes after
  ``cloud_latency_s`` and settles its real cost; it never comes back. A
  local one joins its model's queue and the breaker is stepped again.
* **completion**: a local request takes a free slot at once (FIFO per
  model; first byte = start of service); at completion its service time
  feeds the model's EWMA, the next waiter starts and the breaker is stepped.
* **waiting room** (``waiting_room=True``, the daemon's default): a local
  request waits in brb's own queue (:mod:`brb.core.waiting_room`) and is
  sent when a slot is free, or diverted while it waits (its deadline, to
  make room, or unreachable: the room's reason codes); the service model
  (:mod:`brb.core.service_model`) learns from each completion, as the
  daemon learns from Ollama's final object. Without it, the decision is
  made once at arrival and the request queues in Ollama (the old policy).
* **a pool** (``params.upstreams``): each upstream has its own slots and,
  with the waiting room, its own rooms and service model, as in the daemon.
  An arrival waits in the room of the upstream where it would start soonest;
  when an upstream frees a slot for a model and no one waits for it there,
  the oldest request for that model waiting elsewhere moves to it. The
  breaker sees every room. :mod:`.pool_server` says what is modelled of
  loading models.
* **tick**: every ``tick_s``, so the breaker releases after
  ``min_active_seconds`` even when the traffic has stopped. Ticks that can
  change nothing (no local work, and no release due) are skipped.

At equal times: local completions, then cloud completions, then waiting
room deadlines, then arrivals (in trace order), then the tick.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from brb.core import breaker
from brb.core.breaker import BreakerState, Observation, Phase
from brb.core.pricing import ModelPrice
from brb.core.queueing import observe, with_arrival
from brb.core.replay.cloud_side import CloudSide
from brb.core.replay.local_server import LocalModel
from brb.core.replay.pool_server import PoolServer
from brb.core.replay.room_server import shape_of
from brb.core.replay.routing import Router
from brb.core.replay.run import Outcome, SimParams, SimResult, TimelineEntry
from brb.core.replay.trace import TraceRecord
from brb.core.waiting_room import RoomRules, Verdict, Waiter

_LOCAL_DONE, _CLOUD_DONE, _REVIEW, _ARRIVAL, _TICK = 0, 1, 2, 3, 4


def simulate(trace: Sequence[TraceRecord], params: SimParams) -> SimResult:
    """Run ``trace`` (sorted by arrival) through the daemon's rules."""
    return _Simulation(trace, params).run()


class _Simulation:
    def __init__(self, trace: Sequence[TraceRecord], params: SimParams) -> None:
        offsets = [r.arrival_offset_s for r in trace]
        if any(b < a for a, b in zip(offsets, offsets[1:], strict=False)):
            raise ValueError("the trace must be sorted by arrival_offset_s")
        if params.total_slots < 1 or params.tokens_per_second <= 0 or params.tick_s <= 0:
            raise ValueError("slots, tokens_per_second and tick_s must be positive")
        self.trace = trace
        self.p = params
        self.service_s = [
            r.local_service_s(params.tokens_per_second, params.prefill_tokens_per_second)
            for r in trace
        ]
        rules: RoomRules | None = None
        if params.waiting_room:
            first = (
                params.cloud_latency_s if params.first_content_s is None else params.first_content_s
            )
            rules = RoomRules(params.thresholds.wait_seconds, first)
        self.pool = PoolServer(params.pool, rules, trace)
        self.has_room = rules is not None
        self.review_due: dict[tuple[int, str], float] = {}  # (member, model) -> review scheduled
        self.rooms: list[tuple[int, str]] = []  # a review event's index: (member, model)
        self.room_id: dict[tuple[int, str], int] = {}
        self.router = Router(trace, params)
        self.cloud = CloudSide(params, self._note)
        self.models: dict[str, LocalModel] = {}
        self.state = BreakerState()
        self.events: list[tuple[float, int, int, int]] = []  # (t, kind, seq, index)
        self.seq = 0
        self.started: dict[int, float] = {}  # index -> first byte
        self.reasons: dict[int, str] = {}  # index -> why it went where it went
        self.outcomes: list[Outcome | None] = [None] * len(trace)
        self.timeline: list[TimelineEntry] = []
        self.depth = 0
        self.peak_depth = 0
        self.depth_series: list[tuple[float, int]] = [(0.0, 0)]
        self.phase_series: list[tuple[float, bool]] = [(0.0, self._is_diverting(0.0))]

    # --- the loop ---------------------------------------------------------------

    def run(self) -> SimResult:
        n = len(self.trace)
        i = 0
        tick = 0  # number of the next tick
        next_tick: float | None = 0.0  # None once nothing can need a tick
        t = 0.0
        while True:
            candidates: list[tuple[float, int]] = []
            if self.events:
                candidates.append((self.events[0][0], self.events[0][1]))
            if i < n:
                candidates.append((self.trace[i].arrival_offset_s, _ARRIVAL))
            if next_tick is not None:
                candidates.append((next_tick, _TICK))
            if not candidates:
                break
            t, kind = min(candidates)
            if kind == _ARRIVAL:
                self._arrive(t, i)
                i += 1
            elif kind == _TICK:
                self._step(t)
                nxt = self._next_tick(tick, self.trace[i].arrival_offset_s if i < n else None)
                if nxt is None:
                    next_tick = None
                else:
                    tick = nxt
                    next_tick = tick * self.p.tick_s
            else:
                _, kind, _, index = heapq.heappop(self.events)
                if kind == _LOCAL_DONE:
                    self._local_done(t, index)
                elif kind == _REVIEW:
                    self._review(t, *self.rooms[index])
                else:
                    self._cloud_done(t, index)
        return SimResult(
            params=self.p,
            requests=n,
            outcomes=tuple(o for o in self.outcomes if o is not None),
            timeline=tuple(self.timeline),
            cost_usd=self.cloud.settled_usd,
            end_s=t,
            peak_queue_depth=self.peak_depth,
            depth_series=tuple(self.depth_series),
            phase_series=tuple(self.phase_series),
            spend_series=tuple(self.cloud.spend_series),
            upstreams=self.pool.tallies(),
        )

    def _next_tick(self, tick: int, next_arrival_s: float | None) -> int | None:
        """The next tick that can matter after tick number ``tick``, or None.

        While a local request is queued or in service every tick counts (the
        waits grow). With no local work the observation is empty and fixed, so
        a tick can only release an active breaker once ``min_active_seconds``
        have passed; in standby it can do nothing at all. Skip to the tick
        before the release is due (the clock's microseconds round, so one early
        tick keeps the result exact) or to the first tick after the next arrival.
        """
        if not all(m.is_idle for m in self.models.values()):
            return tick + 1
        if not self.pool.is_idle:
            return tick + 1
        candidates = []
        if next_arrival_s is not None:
            candidates.append(math.ceil(next_arrival_s / self.p.tick_s))
        if self.state.phase is Phase.ACTIVE:
            since_s = (self.state.since - self.p.start).total_seconds() if self.state.since else 0.0
            due = since_s + self.p.thresholds.min_active_seconds
            candidates.append(math.ceil(due / self.p.tick_s) - 1)
        return max(tick + 1, min(candidates)) if candidates else None

    # --- events -----------------------------------------------------------------

    def _arrive(self, t: float, index: int) -> None:
        if self.has_room:
            self._arrive_room(t, index)
            return
        rec = self.trace[index]
        model = self.models.get(rec.model)
        if model is None:
            model = self.models[rec.model] = LocalModel(self.p.total_slots)
        view = model.view(t)
        predicted = view.predicted_wait_s()
        obs = self._step(t, arrival_wait_s=predicted, would_queue=view.would_queue)
        price = self.router.price(rec.model)
        decision = self.router.decide(
            index,
            self.router.facts(index),
            predicted,
            view.would_queue,
            obs.queue_depth,
            self.state.phase,
        )
        if decision.divert and price is not None and self._reserve(t, index, price):
            self._push(t + self.p.cloud_latency_s, _CLOUD_DONE, index)
            self.reasons[index] = decision.reason
            return
        reason = "budget" if decision.divert else decision.reason
        self.reasons[index] = reason
        model.enqueue(t, index)
        self._set_depth(t, self.depth + 1)
        self._start_waiting(t, model)
        self._step(t)

    def _arrive_room(self, t: float, index: int) -> None:
        """An arrival with the waiting room: routed now if it must go at once,
        else it waits in brb, in the room of the upstream where it would start
        soonest (the pool's rule), where the room may still divert it."""
        rec = self.trace[index]
        shape = shape_of(rec)
        pos, cold = self.pool.place(rec.model, shape, t)
        q = self.pool.queue(pos, rec.model)
        would_queue = bool(q.waiting) or not q.has_free_slot
        typical = q.predicted_start_s(shape, t) + cold
        obs = self._step(t, arrival_wait_s=typical, would_queue=would_queue)
        price = self.router.price(rec.model)
        facts = self.router.facts(index)
        # routed away at once only if even its earliest possible start is too late
        earliest = q.predicted_start_s(shape, t, q.rules.early_quantile or 0.0) + cold
        decision = self.router.decide(
            index, facts, earliest, would_queue, obs.queue_depth, self.state.phase
        )
        if decision.divert and price is not None and self._reserve(t, index, price):
            self._push(t + self.p.cloud_latency_s, _CLOUD_DONE, index)
            self.reasons[index] = decision.reason
            return
        self.reasons[index] = "budget" if decision.divert else decision.reason
        divertible = facts.is_model_priced and not facts.is_excluded_session
        q.arrive(Waiter(index, t, shape, is_divertible=divertible and not decision.divert))
        self.pool.where[index] = pos
        self._set_depth(t, self.depth + 1)
        self._review(t, pos, rec.model)
        self._step(t)

    def _review(self, t: float, pos: int, model_name: str) -> None:
        """One member's waiting room's moves at ``t``: sends, and diversions the policy allows."""
        q = self.pool.queue(pos, model_name)

        def may_divert(index: int) -> bool:
            price = self.router.price(model_name)
            decision = self.router.decide(
                index, self.router.facts(index), math.inf, True, 0, self.state.phase
            )
            return decision.divert and price is not None and self._reserve(t, index, price)

        for move in q.review(t, may_divert):
            self._set_depth(t, self.depth - 1)
            if move.verdict is Verdict.SEND:
                self.started[move.key] = t
                cold = self.pool.send(move.key, pos, model_name)
                self._push(t + self.service_s[move.key] + cold, _LOCAL_DONE, move.key)
            else:
                self.reasons[move.key] = move.verdict.value
                self._push(t + self.p.cloud_latency_s, _CLOUD_DONE, move.key)
        due = q.next_deadline_s()
        room = (pos, model_name)
        if due is not None and due > t and self.review_due.get(room) != due:
            self.review_due[room] = due
            if room not in self.room_id:
                self.room_id[room] = len(self.rooms)
                self.rooms.append(room)
            self._push(due, _REVIEW, self.room_id[room])

    def _local_done(self, t: float, index: int) -> None:
        rec = self.trace[index]
        pos = self.pool.where[index]
        if self.has_room:
            self.pool.queue(pos, rec.model).finish(index)
        else:
            self.models[rec.model].finish(index, t)
        start = self.started.pop(index)
        upstream = self.pool.finish(index, rec, t - start, self.service_s[index])
        self.outcomes[index] = Outcome(
            index,
            rec.arrival_offset_s,
            "local",
            self.reasons.pop(index),
            start - rec.arrival_offset_s,
            t - rec.arrival_offset_s,
            Decimal(0),
            upstream,
        )
        if self.has_room:
            self._review(t, pos, rec.model)
            q = self.pool.queue(pos, rec.model)
            while q.has_free_slot and not q.waiting and self.pool.pull(pos, rec.model):
                self._review(t, pos, rec.model)  # the oldest waiting elsewhere moves here
        else:
            self._start_waiting(t, self.models[rec.model])
        self._step(t)

    def _cloud_done(self, t: float, index: int) -> None:
        rec = self.trace[index]
        price = self.router.price(rec.model)
        assert price is not None  # reserved only when priced
        cost = self.cloud.settle(t, index, rec, price)
        self.outcomes[index] = Outcome(
            index,
            rec.arrival_offset_s,
            "cloud",
            self.reasons.pop(index),
            0.0,
            t - rec.arrival_offset_s,
            cost,
        )

    # --- pieces -----------------------------------------------------------------

    def _start_waiting(self, t: float, model: LocalModel) -> None:
        while model.can_start():
            head = model.waiting[0][1]
            rec = self.trace[head]
            cold = self.pool.send(head, self.pool.take_slot(rec.model), rec.model)
            index, _ = model.start_next(t, self.service_s[head] + cold)
            self.started[index] = t
            self._push(t + self.service_s[index] + cold, _LOCAL_DONE, index)
            self._set_depth(t, self.depth - 1)

    def _step(
        self, t: float, *, arrival_wait_s: float | None = None, would_queue: bool = False
    ) -> Observation:
        """Step the breaker with what the monitor sees at ``t``. For an arrival
        not routed yet, ``arrival_wait_s`` is the wait it would get: if it would
        queue it counts in the depth and its wait in the observation, exactly as
        the daemon's dispatcher does (both call ``queueing.with_arrival``)."""
        if self.has_room:
            obs = self.pool.observation(t)
        else:
            obs = observe(m.view(t) for m in self.models.values())
        if arrival_wait_s is not None:
            obs = with_arrival(obs, arrival_wait_s, would_queue=would_queue)
        self.state, tr = breaker.step(self.state, obs, self._now(t), self.p.thresholds)
        if tr is not None:
            self._note(t, tr.kind, tr.reason)
            self.phase_series.append((t, self._is_diverting(t)))
        return obs

    def _reserve(self, t: float, index: int, price: ModelPrice) -> bool:
        return self.cloud.reserve(t, self._now(t), index, self.trace[index], price)

    def _push(self, t: float, kind: int, index: int) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, kind, self.seq, index))

    def _set_depth(self, t: float, depth: int) -> None:
        self.depth = depth
        self.peak_depth = max(self.peak_depth, depth)
        self.depth_series.append((t, depth))

    def _note(self, t: float, kind: str, reason: str) -> None:
        self.timeline.append(TimelineEntry(t, kind, reason))

    def _now(self, t: float) -> datetime:
        return self.p.start + timedelta(seconds=t)

    def _is_diverting(self, t: float) -> bool:
        return breaker.is_diverting(breaker.Override(self.p.mode), self.state, self._now(t))
