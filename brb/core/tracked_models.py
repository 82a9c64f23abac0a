"""The bound on the model names brb keeps live state for.

A model name is whatever a client writes, so a client sending endless distinct
names would otherwise grow every per-model table (the queue monitor's, each
waiting room's, each service model's) without end. Owns the one rule: a table
holds at most ``max_tracked_models`` names, most recently used last; a new name
makes room by forgetting the least recently used *idle* one (nothing waiting or
in service: no count is lost). When every name is busy the table grows past the
bound, but only by requests in flight, which the connections bound. A forgotten
model is served as any other; it only starts learning again. Pure: no I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

DEFAULT_MAX_TRACKED_MODELS = 256

T = TypeVar("T")


def make_room(
    table: OrderedDict[str, T], limit: int, is_idle: Callable[[T], bool]
) -> tuple[str, T] | None:
    """Before adding a name to a full ``table``: forget its least recently used idle
    entry, and return it (None when the table is not full, or nothing is idle)."""
    if len(table) < limit:
        return None
    for name, entry in table.items():
        if is_idle(entry):
            del table[name]
            return name, entry
    return None
