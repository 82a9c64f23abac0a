"""The store's measurements: queue samples, the request log and its capacity advice.

Owns :class:`QueueSample` and :class:`SamplesMixin`: appending and reading the
queue samples (and the service-time estimates a restarted daemon starts from),
appending and reading the request log (the replay's input, one column per
:class:`~brb.core.request_log.RequestRow` field), pruning both, and the one
row of capacity advice the daemon last computed from the log (JSON, as
:meth:`brb.core.capacity.CapacityAdvice.to_json` gives it).

Must not import :mod:`brb.adapters.store` (it is put together from this), nor
prune the ledger or the events: money and incidents are history.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from brb.adapters.database import Row, iso, parse_iso
from brb.adapters.store_base import StoreBase, window
from brb.core.request_log import COLUMNS as REQUEST_COLUMNS
from brb.core.request_log import RequestRow


@dataclass(frozen=True, slots=True)
class QueueSample:
    at: datetime
    model: str
    queue_depth: int
    in_flight: int
    wait_s: float
    service_s: float | None = None


class SamplesMixin(StoreBase):
    """Queue samples and the request log, for :class:`~brb.adapters.store.Store`."""

    def add_queue_samples(self, samples: Sequence[QueueSample]) -> None:
        if not samples:
            return
        with self.write() as conn:
            conn.executemany(
                "INSERT INTO queue_samples (at, model, queue_depth, in_flight, wait_s, service_s) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (iso(s.at), s.model, s.queue_depth, s.in_flight, s.wait_s, s.service_s)
                    for s in samples
                ],
            )

    def last_queue_sample(self) -> QueueSample | None:
        rows = self.query(f"SELECT {_SAMPLE_COLUMNS} FROM queue_samples ORDER BY id DESC LIMIT 1")
        if not rows:
            return None
        return _sample(rows[0])

    def queue_samples(self, *, since: datetime, until: datetime | None = None) -> list[QueueSample]:
        where, params = window(since, until)
        sql = f"SELECT {_SAMPLE_COLUMNS} FROM queue_samples WHERE {where} ORDER BY id"
        return [_sample(r) for r in self.query(sql, params)]

    def last_service_estimates(self, *, since: datetime) -> dict[str, float]:
        """Per model, the latest sampled service-time estimate (seconds) since ``since``:
        a restarted daemon starts from what the last one had learned."""
        rows = self.query(
            "SELECT model, service_s FROM queue_samples WHERE id IN (SELECT MAX(id) FROM "
            "queue_samples WHERE service_s IS NOT NULL AND at >= ? GROUP BY model)",
            (iso(since),),
        )
        return {r["model"]: float(r["service_s"]) for r in rows if r["service_s"]}

    def log_requests(self, rows: Sequence[RequestRow]) -> None:
        """Append to the request log (the replay's input): one column per field."""
        if not rows:
            return
        with self.write() as conn:
            conn.executemany(_INSERT_REQUEST, [(iso(r.at), *_row_tail(r)) for r in rows])

    def request_log(self, *, since: datetime, until: datetime | None = None) -> list[Row]:
        where, params = window(since, until)
        return self.query(f"SELECT * FROM requests WHERE {where} ORDER BY at, id", params)

    def write_capacity_advice(self, at: datetime, advice: dict[str, Any]) -> None:
        """Keep ``advice`` (computed at ``at``) as the one current capacity advice."""
        with self.write() as conn:
            conn.execute(
                "INSERT INTO capacity_advice (id, computed_at, detail) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET computed_at = excluded.computed_at, "
                "detail = excluded.detail",
                (iso(at), json.dumps(advice)),
            )

    def capacity_advice(self) -> tuple[datetime, dict[str, Any]] | None:
        """The last capacity advice a daemon computed, and when; None: none yet."""
        rows = self.query("SELECT computed_at, detail FROM capacity_advice WHERE id = 1")
        if not rows:
            return None
        at = parse_iso(rows[0]["computed_at"])
        return (at, json.loads(rows[0]["detail"])) if at is not None else None

    def prune(self, *, before: datetime) -> int:
        """Drop queue samples and request-log rows older than ``before`` (the ledger
        and the events stay: money and incidents are history). Rows deleted."""
        with self.write() as conn:
            n = conn.execute("DELETE FROM queue_samples WHERE at < ?", (iso(before),)).rowcount
            n += conn.execute("DELETE FROM requests WHERE at < ?", (iso(before),)).rowcount
        return int(n)


_SAMPLE_COLUMNS = "at, model, queue_depth, in_flight, wait_s, service_s"
_INSERT_REQUEST = (
    f"INSERT INTO requests ({', '.join(REQUEST_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(REQUEST_COLUMNS))})"
)
_row_tail = operator.attrgetter(*REQUEST_COLUMNS[1:])  # every column after ``at``


def _sample(r: Row) -> QueueSample:
    at = parse_iso(r["at"]) or datetime.now(UTC)
    return QueueSample(at, r["model"], r["queue_depth"], r["in_flight"], r["wait_s"],
                       r["service_s"])  # fmt: skip
