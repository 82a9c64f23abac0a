"""One row of the request log: what brb did with one inference request.

Owns the shape shared by the daemon's front (which builds a row per answered
inference request), the store (which writes it to the ``requests`` table,
one column per field, in this order) and the replay (which reads the log
back). Must not know SQL or where the row goes.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime

from brb.core.value_type import value_type


@value_type
class RequestRow:
    at: datetime  # arrival
    day: str  # the budget day of ``at`` (ISO date)
    endpoint: str
    model: str  # the model the client asked for
    session: str
    backend: str  # "ollama", or the provider that served it
    reason: str  # the route reason (standby, pressed, overflow, fallback, ...)
    status: int
    wait_s: float | None = None
    service_s: float | None = None
    latency_s: float | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    outcome: str = ""  # "ok" or "error"
    upstream: str | None = None  # the pool member that served a local answer; None: the cloud


# The ``requests`` table's columns, in the dataclass's order.
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RequestRow))
