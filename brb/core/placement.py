"""Which upstream of the pool takes a request: the one where it would start soonest.

Owns the pool's placement rule as a pure function, so the daemon's pool
(``PoolRoom.best``, :mod:`brb.daemon.pool_room`) and the replay's simulated pool
(:mod:`brb.core.replay.pool_server`) choose alike. Each upstream makes an
:class:`Offer` (would the request wait there, its earliest and typical start,
what loading the model first would add, how busy the model's slots are);
:func:`choose` takes the least predicted start, cold load included, so an
upstream that already has the model loaded wins unless the other would start
it sooner even after the load; a tie goes to the less busy upstream, then to
config order. Must not do I/O or read a clock: the caller builds the offers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Offer(NamedTuple):
    """What one upstream would do with a request arriving now (seconds from now).
    A named tuple, not a frozen dataclass: the pool makes one per upstream for
    every request, and a tuple is built in one step."""

    would_wait: bool  # no slot free for the model, or others wait ahead
    earliest_s: float  # its earliest possible start (the routing decision's figure)
    typical_s: float  # its typical start (the breaker's figure)
    cold_s: float = 0.0  # what loading the model first would add (0: loaded)
    busy: float = 0.0  # the model's slots in use there, as a share of its slots

    @property
    def score(self) -> float:
        """When the request would start here: its earliest start if it waits, plus the load."""
        return (self.earliest_s if self.would_wait else 0.0) + self.cold_s

    @property
    def figures(self) -> tuple[bool, float, float]:
        """(would wait, earliest start, typical start), the cold load included."""
        if self.cold_s:
            return self.would_wait, self.earliest_s + self.cold_s, self.typical_s + self.cold_s
        return self.would_wait, self.earliest_s, self.typical_s


def choose(offers: Sequence[Offer]) -> int:
    """The position of the offer where the request would start soonest; a tie
    goes to the less busy upstream, then to the first in config order."""
    if not offers:
        raise ValueError("a pool has at least one upstream to offer a start")
    return min(range(len(offers)), key=lambda i: (offers[i].score, offers[i].busy, i))
