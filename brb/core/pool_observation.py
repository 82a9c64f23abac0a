"""What the breaker sees of a pool of upstreams: the pool's queue, not its worst member's.

Owns one pure rule, shared by the daemon's pool (:mod:`brb.daemon.pool_room`) and
the replay's simulated pool (:mod:`brb.core.replay.pool_server`): the depth is
every request waiting in brb on any member; the wait is, for each busy model,
the wait where that model starts soonest, and the worst model's. Not the worst
member's wait: a waiting request goes to whichever member frees a slot for its
model first, so one busy upstream beside an idle one is not overload (taking the
worst member's wait tripped the breaker while an upstream was free). Must not do
I/O or read a clock: the caller passes ``now`` and each member's queues.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from brb.core.breaker import Observation
from brb.core.service_model import RequestShape
from brb.core.waiting_room import UpstreamQueue

# one member: its queues by model, and what loading a model first would add there
Member = tuple[Mapping[str, UpstreamQueue], Callable[[str], float]]


def pool_observation(members: Sequence[Member], now: float) -> Observation:
    """The breaker's input from ``members`` (the healthy ones) at ``now``."""
    busy: dict[str, int] = {}  # model -> its requests waiting in brb, all members
    for queues, _ in members:
        for model, q in queues.items():
            if not q.is_idle:
                busy[model] = busy.get(model, 0) + len(q.waiting)
    wait = 0.0
    for model in busy:
        wait = max(wait, model_wait_s(members, model, now))
    return Observation(sum(busy.values()), wait)


def model_wait_s(members: Sequence[Member], model: str, now: float) -> float:
    """One room's rule (the longer of the oldest waiter's wait until a slot frees and
    a new arrival's typical start) with the pool's best member for each part; a
    member idle for the model starts it at once, after a cold load if it must."""
    has_waiting, oldest = False, 0.0
    first_free, arrival = float("inf"), float("inf")
    for queues, cold_s in members:
        q = queues.get(model)
        if q is None or q.is_idle:
            cold = cold_s(model)
            first_free, arrival = min(first_free, cold), min(arrival, cold)
            continue
        if q.waiting:
            has_waiting, oldest = True, max(oldest, q.oldest_wait_s(now))
        first_free = min(first_free, min(q.free_at_s(now, 0.5)))
        arrival = min(arrival, q.predicted_start_s(RequestShape(), now))
    return max(oldest + first_free, arrival) if has_waiting else arrival
