"""The waiting room, live: brb's own queue in front of Ollama, on the event loop.

Owns the running side of :mod:`brb.core.waiting_room` for the one upstream:
one :class:`~brb.core.waiting_room.UpstreamQueue` per model (its slots, the
requests sent, the requests waiting in brb), the upstream's
:class:`~brb.core.service_model.ServiceModel` (learned from each final
object), each waiting request's future (:class:`Held`: a request can be
withdrawn without a verdict and wait in another upstream's room, keeping its
arrival time), one timer per model for the next deadline, and the cloud's
time to first content as it is seen. Must not route or talk to anyone: the
pool's room (:mod:`brb.daemon.pool_room`) chooses the room, the front gives
each waiter a ``may_divert`` callable (mode, breaker and eligibility at that
moment) and carries out the verdict (send it to Ollama, or serve it from the
cloud).

Other clients of the same Ollama: brb counts a slot free when its own
request there is done. If someone else holds it, the request brb sends waits
inside Ollama; the final object says how long (total minus load, prefill and
decode), the model learns that wait and adds it to every start it predicts,
so the room diverts sooner instead of stalling. A slot is freed when brb's
request ends, whatever happened to it, so nothing waits for a start that
never comes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from brb.core.breaker import Observation
from brb.core.service_model import RequestShape, ServiceFigures, ServiceModel
from brb.core.tracked_models import DEFAULT_MAX_TRACKED_MODELS, make_room
from brb.core.waiting_room import EPSILON_S, RoomRules, UpstreamQueue, Verdict, Waiter

log = logging.getLogger(__name__)

FIRST_CONTENT_ALPHA = 0.2
RECHECK_S = 0.25


@dataclass(frozen=True, slots=True)
class Held:
    """A request waiting in a room: what it brings to any upstream's room."""

    arrived_s: float
    shape: RequestShape
    is_divertible: bool
    future: asyncio.Future[Verdict]  # its verdict: SEND (it holds a slot) or a divert
    may_divert: Callable[[], bool]  # mode, breaker and eligibility at that moment


class LocalQueue:
    """Every model's waiting room in front of the one Ollama upstream."""

    def __init__(
        self,
        *,
        slots: int,
        rules: RoomRules,
        clock: Callable[[], float] = time.monotonic,
        max_models: int = DEFAULT_MAX_TRACKED_MODELS,
    ) -> None:
        self.slots = max(1, slots)
        self.rules = rules
        self.clock = clock
        self.model = ServiceModel()
        self.queues: OrderedDict[str, UpstreamQueue] = OrderedDict()  # least recently used first
        self.max_models = max_models
        self._is_full_said = False
        self._waiters: dict[int, Held] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._next = 0

    def queue(self, model: str) -> UpstreamQueue:
        q = self.queues.get(model)
        if q is None:
            forgotten = make_room(self.queues, self.max_models, lambda q: q.is_idle)
            if forgotten is not None:
                self._forget(forgotten[0])
            q = self.queues[model] = UpstreamQueue(self.slots, self.model.rates(model), self.rules)
        else:
            self.queues.move_to_end(model)
        return q

    def _forget(self, model: str) -> None:
        """``model``'s queue was idle and least recently used: what was learned goes too."""
        self.model.forget(model)
        timer = self._timers.pop(model, None)
        if timer is not None:
            timer.cancel()
        if not self._is_full_said:
            self._is_full_said = True
            log.warning(
                "a waiting room tracks %d model names (max_tracked_models): from now on "
                "each new one replaces the least recently used idle one",
                self.max_models,
            )

    # --- predictions ---------------------------------------------------------------------

    def arrival(self, model: str, shape: RequestShape, now: float) -> tuple[bool, float, float]:
        """For a request arriving now: would it wait, its earliest possible start
        (the routing decision's: past the threshold means it can't make it) and
        its typical start (the breaker's), seconds from now."""
        q = self.queue(model)
        would_wait = bool(q.waiting) or not q.has_free_slot
        if not would_wait:
            return False, 0.0, 0.0
        earliest = q.predicted_start_s(shape, now, self.rules.early_quantile or 0.0)
        return True, earliest, q.predicted_start_s(shape, now)

    def observation(self, now: float) -> Observation:
        """The breaker's input: the requests waiting in brb, and the worst wait."""
        if len(self.queues) == 1:  # one model (the common case): no generator
            return next(iter(self.queues.values())).observation(now)  # QUIET when idle
        return Observation.across(q.observation(now) for q in self.queues.values() if not q.is_idle)

    # --- a request's turn ----------------------------------------------------------------

    def admit(self, model: str, shape: RequestShape, arrived_s: float) -> int | None:
        """Send a request at once if a review would (no one waiting ahead, a free
        slot, its deadline not reached): its key (it holds a slot until :meth:`done`),
        else None (it must :meth:`wait`)."""
        q = self.queue(model)
        now = self.clock()
        if (
            q.waiting
            or not q.has_free_slot
            or now - arrived_s >= self.rules.deadline_after_s - EPSILON_S
        ):
            return None
        self._next += 1
        q.mark_sent(self._next, now, shape)
        return self._next

    async def turn(
        self,
        model: str,
        shape: RequestShape,
        arrived_s: float,
        *,
        is_divertible: bool,
        may_divert: Callable[[], bool],
    ) -> tuple[int, Verdict]:
        """This room alone (a pool moves requests between rooms: its own ``turn``): wait
        until the request is sent (``SEND``: it holds a slot until :meth:`done`) or must
        go (a divert verdict). A client that goes away while waiting leaves the room."""
        key = self.admit(model, shape, arrived_s)
        if key is not None:
            return key, Verdict.SEND
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        key = self.wait(model, Held(arrived_s, shape, is_divertible, future, may_divert))
        try:
            return key, await future
        except asyncio.CancelledError:
            self.leave(model, key, future)
            raise

    def wait(self, model: str, held: Held) -> int:
        """A request joins this room (a new arrival, or one moved from another
        upstream's room, keeping its arrival time and place); ``held.future`` gets
        its verdict. Returns its key here."""
        self._next += 1
        key = self._next
        self._waiters[key] = held
        self.queue(model).arrive(Waiter(key, held.arrived_s, held.shape, held.is_divertible))
        self._review(model)
        return key

    def withdraw(self, model: str, key: int) -> Held | None:
        """Take a request still waiting here out of the room without a verdict (it
        moves to another upstream's room); None if it has had its verdict."""
        held = self._waiters.pop(key, None)
        if held is None:
            return None
        self.queue(model).leave(key)
        self._review(model)
        return held

    def leave(self, model: str, key: int, future: asyncio.Future[Verdict]) -> None:
        """A request's client went away (its task was cancelled): out of the room,
        and its slot freed if its ``SEND`` came just before."""
        self._waiters.pop(key, None)
        q = self.queue(model)
        q.leave(key)
        if future.done() and not future.cancelled() and future.result() is Verdict.SEND:
            q.finish(key)
        self._review(model)

    def progress(self, model: str, key: int, output_tokens: int) -> None:
        """A streamed request's tokens so far (each chunk): a sent request's queue is
        there (it is not idle), and its end (:meth:`done`) marks it used."""
        q = self.queues.get(model)
        if q is not None:
            q.progress(key, output_tokens)

    def done(self, model: str, key: int, figures: ServiceFigures | None) -> None:
        """A sent request ended (answered, failed or cut): free its slot, learn."""
        q = self.queue(model)
        q.finish(key, figures.queued_s if figures is not None else None)
        if figures is not None:  # the queue's rates are the service model's for this model
            q.rates.learn(figures)  # (made with the queue, forgotten when it goes)
        self._review(model, q)
        if len(self.queues) > self.max_models and q.is_idle:
            del self.queues[model]  # past the bound (every name was busy): idle, it goes
            self._forget(model)

    def learn_first_content(self, seconds: float) -> None:
        """The cloud answered a diverted request's first content after ``seconds``."""
        first = self.rules.first_content_s
        first += FIRST_CONTENT_ALPHA * (max(0.0, seconds) - first)
        self.rules = RoomRules(
            self.rules.wait_threshold_s,
            first,
            self.rules.plan_quantile,
            self.rules.early_quantile,
            self.rules.probe_every_s,
        )
        for q in self.queues.values():
            q.rules = self.rules

    # --- the policy, run ---------------------------------------------------------------

    def _review(self, model: str, q: UpstreamQueue | None = None) -> None:
        """Carry out the room's moves for ``model`` now (``q``: its queue, when the
        caller has it in hand), and set the timer for its next deadline."""
        if q is None:
            q = self.queue(model)
        if not q.waiting:  # nobody waits (the common case): no move to make, no deadline
            timer = self._timers.pop(model, None)
            if timer is not None:
                timer.cancel()
            return
        now = self.clock()

        def may_divert(key: int) -> bool:
            held = self._waiters.get(key)
            return held is not None and held.may_divert()

        for move in q.review(now, may_divert):
            held = self._waiters.pop(move.key, None)
            if held is not None and not held.future.done():
                held.future.set_result(move.verdict)
            elif move.verdict is Verdict.SEND:  # its client is gone: free the slot again
                q.finish(move.key)
        timer = self._timers.pop(model, None)
        if timer is not None:
            timer.cancel()
        due = q.next_deadline_s()
        if due is not None:
            # one past its deadline that may not leave yet (the breaker in standby):
            # look again shortly rather than spin
            delay = due - now if due > now else RECHECK_S
            self._timers[model] = asyncio.get_running_loop().call_later(delay, self._review, model)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
