"""The daemon's request log as a replay trace.

Owns turning request-log rows (the ``requests`` table's columns, as the store
returns them) into trace records timed from the first request. A local
service time is kept only for requests the local server answered: a
diverted request's local time is unknown, so the simulator derives it from
the output tokens. Must not read the store (the caller does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from brb.core.replay.trace import TraceRecord
from brb.errors import UsageError

# Request-log backends that mean "served by the local server", whose
# service_s is a local service time (anything else was the cloud's).
LOCAL_BACKENDS = frozenset({"ollama", "local"})


def records_from_log(rows: Iterable[Mapping[str, Any]]) -> tuple[datetime, list[TraceRecord]]:
    """Request-log rows -> (time of the first, trace records in arrival order)."""
    items = []
    for row in rows:
        at = row["at"]
        when = datetime.fromisoformat(at) if isinstance(at, str) else at
        items.append((when, row, row["backend"] in LOCAL_BACKENDS))
    if not items:
        raise UsageError("the request log has no requests in that window")
    items.sort(key=lambda item: item[0])
    first = items[0][0]
    records = [
        TraceRecord(
            arrival_offset_s=(when - first).total_seconds(),
            model=row["model"] or "unknown",
            session=row["session"] or "",
            prompt_tokens=int(row["prompt_tokens"] or 0),
            output_tokens=int(row["output_tokens"] or 0),
            service_s=float(row["service_s"])
            if is_local and row["service_s"] is not None
            else None,
        )
        for when, row, is_local in items
    ]
    return first, records
