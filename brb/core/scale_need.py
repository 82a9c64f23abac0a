"""How many more local slots the queue waiting now needs: the scale hook's number.

Owns :func:`extra_slots_for_queue`: with ``k`` extra slots per model (what a
new Ollama server adds), the first ``k`` waiters start at once and the rest
wait their turn on all the slots, a full service time per round
(conservative); the answer is the least ``k`` with which every waiter starts
within the wait threshold, capped. The recorded traffic's counterpart (a
replay with more slots) is :mod:`brb.core.capacity`. Pure: no I/O, no clock;
kept apart from the replay so the daemon's start does not import it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueueNow:
    """One model's queue as the scale hook sees it."""

    waiting: int
    slots: int
    service_s: float | None  # the learned mean service time; None: not known yet


def extra_slots_for_queue(
    queues: Iterable[QueueNow], wait_threshold_s: float, *, max_extra_slots: int
) -> int:
    """The least number of extra slots with which every request waiting now would
    start within ``wait_threshold_s`` (see the module docstring), capped at
    ``max_extra_slots``; a model whose service time is unknown needs a slot per
    waiter, and the neediest model decides."""
    need = 0
    for q in queues:
        if q.waiting <= 0:
            continue
        if q.service_s is None or q.service_s <= 0:
            need = max(need, q.waiting)
            continue
        fits = (
            k
            for k in range(min(q.waiting, max_extra_slots) + 1)
            if math.ceil((q.waiting - k) / max(q.slots + k, 1)) * q.service_s <= wait_threshold_s
        )
        need = max(need, next(fits, max_extra_slots))
    return min(need, max_extra_slots)
