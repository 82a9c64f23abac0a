"""The money ledger: reserve, settle, release, and the spend reports.

Owns one row per diverted request, keyed by the budget day (the local date in
the configured timezone, passed in by the caller). Amounts are integer
micro-dollars on disk so sums are exact; Decimal dollars at this boundary.

A reservation is the request's worst case, taken in one transaction that
holds the budget day's lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an
advisory lock on the day) while it sums what the day already holds, so
concurrent requests from any number of processes — or instances of a fleet —
can never push reserved + settled past the limit. A
crash leaves the row ``reserved``: over-counted, never under-counted, and
:meth:`Ledger.reconcile_stale` (run at start) settles such rows at their
worst case once they are older than any provider call could be.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from brb.adapters.database import Database, iso
from brb.core.budget import BudgetSnapshot
from brb.core.pricing import Usage

__all__ = ["GroupBy", "Ledger", "Usage", "from_micro", "to_micro"]

MICRO = Decimal(1_000_000)
GroupBy = Literal["day", "model", "provider", "session"]


def to_micro(usd: Decimal) -> int:
    return int((usd * MICRO).to_integral_value(rounding="ROUND_CEILING"))


def from_micro(micro: int | None) -> Decimal:
    return (Decimal(micro or 0) / MICRO).quantize(Decimal("0.000001"))


class Ledger:
    def __init__(self, db: Database) -> None:
        self._db = db

    def reserve(
        self,
        request_id: str,
        *,
        day: date,
        amount_usd: Decimal,
        limit_usd: Decimal,
        at: datetime,
        provider: str = "",
        endpoint: str = "",
        session: str = "",
        local_model: str = "",
        cloud_model: str = "",
    ) -> bool:
        """Reserve ``amount_usd`` on ``day`` if it fits under ``limit_usd``."""
        amount = to_micro(amount_usd)
        limit = to_micro(limit_usd)
        with self._db.transaction(lock=f"budget:{day.isoformat()}") as conn:
            committed = conn.execute(
                "SELECT COALESCE(SUM(CASE status WHEN 'reserved' THEN reserved_micro_usd "
                "ELSE cost_micro_usd END), 0) FROM ledger WHERE day = ? AND status != 'released'",
                (day.isoformat(),),
            ).fetchone()[0]
            if committed + amount > limit:
                return False
            conn.execute(
                "INSERT INTO ledger (request_id, day, at, status, provider, endpoint, session, "
                "local_model, cloud_model, reserved_micro_usd) "
                "VALUES (?, ?, ?, 'reserved', ?, ?, ?, ?, ?, ?)",
                (
                    request_id,
                    day.isoformat(),
                    iso(at),
                    provider,
                    endpoint,
                    session,
                    local_model,
                    cloud_model,
                    amount,
                ),
            )
        return True

    def settle(
        self,
        request_id: str,
        *,
        cost_usd: Decimal,
        usage: Usage,
        at: datetime,
        latency_s: float | None = None,
        outcome: str = "ok",
        cloud_model: str | None = None,
    ) -> date | None:
        """Replace the reservation with what the provider reports was used; the budget
        day the row counts on (its reservation's day, whenever it settles), or None when
        there is no such row."""
        with self._db.transaction() as conn:
            found = conn.execute(
                "SELECT day FROM ledger WHERE request_id = ?", (request_id,)
            ).fetchone()
            conn.execute(
                "UPDATE ledger SET status = 'settled', settled_at = ?, cost_micro_usd = ?, "
                "input_tokens = ?, output_tokens = ?, cache_write_tokens = ?, "
                "cache_read_tokens = ?, latency_s = ?, outcome = ?, "
                "cloud_model = COALESCE(?, cloud_model) "
                "WHERE request_id = ? AND status = 'reserved'",
                (
                    iso(at),
                    to_micro(cost_usd),
                    usage.input_tokens,
                    usage.output_tokens,
                    usage.cache_creation_input_tokens,
                    usage.cache_read_input_tokens,
                    latency_s,
                    outcome,
                    cloud_model,
                    request_id,
                ),
            )
        return None if found is None else date.fromisoformat(str(found[0]))

    def release(self, request_id: str, *, at: datetime, outcome: str) -> None:
        """Give a reservation back: the provider failed before charging anything."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE ledger SET status = 'released', settled_at = ?, cost_micro_usd = 0, "
                "outcome = ? WHERE request_id = ? AND status = 'reserved'",
                (iso(at), outcome, request_id),
            )

    def reconcile_stale(
        self, *, older_than: datetime, at: datetime, outcome: str = "reconciled_worst_case"
    ) -> list[dict[str, Any]]:
        """Settle every reservation taken before ``older_than`` at its worst case (what it
        reserved): its request can no longer be running, and what the provider billed is
        unknown. Returns the rows settled (request_id, day, provider, cost_micro_usd)."""
        with self._db.transaction() as conn:
            found = conn.execute(
                "SELECT request_id, day, provider, reserved_micro_usd FROM ledger "
                "WHERE status = 'reserved' AND at < ? ORDER BY at",
                (iso(older_than),),
            ).fetchall()
            conn.execute(
                "UPDATE ledger SET status = 'settled', settled_at = ?, "
                "cost_micro_usd = reserved_micro_usd, outcome = ? "
                "WHERE status = 'reserved' AND at < ?",
                (iso(at), outcome, iso(older_than)),
            )
        return [
            {"request_id": r[0], "day": r[1], "provider": r[2], "cost_micro_usd": int(r[3])}
            for r in found
        ]

    def snapshot(self, day: date, limit_usd: Decimal) -> BudgetSnapshot:
        rows = self._db.query(
            "SELECT COALESCE(SUM(CASE WHEN status = 'settled' THEN cost_micro_usd END), 0) AS s, "
            "COALESCE(SUM(CASE WHEN status = 'reserved' THEN reserved_micro_usd END), 0) AS r "
            "FROM ledger WHERE day = ?",
            (day.isoformat(),),
        )
        return BudgetSnapshot(day, limit_usd, from_micro(rows[0]["s"]), from_micro(rows[0]["r"]))

    def diverted_count(self, day: date) -> int:
        rows = self._db.query(
            "SELECT COUNT(*) AS n FROM ledger WHERE day = ? AND status = 'settled'",
            (day.isoformat(),),
        )
        return int(rows[0]["n"])

    def rows_between(self, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM ledger WHERE at >= ?"
        params: list[Any] = [iso(since)]
        if until is not None:
            sql += " AND at < ?"
            params.append(iso(until))
        return [dict(r) for r in self._db.query(sql + " ORDER BY at", params)]

    def spend(self, *, since_day: date, until_day: date | None, by: GroupBy) -> dict[str, Any]:
        """Settled spend grouped ``by``; the total is the sum of the rows' micro-dollars,
        so the rows add up to the total to the cent. What is still reserved (requests in
        flight, or left by a crash until the next start reconciles them) is reported
        apart: ``reserved_usd`` and ``reserved_requests``."""
        key = {"day": "day", "model": "cloud_model", "provider": "provider", "session": "session"}[
            by
        ]
        sql = (
            f"SELECT {key} AS key, COUNT(*) AS requests, SUM(cost_micro_usd) AS micro, "
            "SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens "
            "FROM ledger WHERE status = 'settled' AND day >= ?"
        )
        params: list[Any] = [since_day.isoformat()]
        if until_day is not None:
            sql += " AND day <= ?"
            params.append(until_day.isoformat())
        by_provider_sql = (
            sql.replace(f"SELECT {key} AS key,", f"SELECT {key} AS key, provider AS provider,")
            + f" GROUP BY {key}, provider ORDER BY {key}, provider"
        )
        sql += f" GROUP BY {key} ORDER BY {key}"
        rows = self._db.query(sql, params)
        # each row's spend per provider entry (the chain's names), for every grouping
        providers: dict[Any, dict[str, Any]] = {}
        for r in self._db.query(by_provider_sql, params):
            providers.setdefault(r["key"], {})[r["provider"]] = from_micro(r["micro"])
        total_micro = sum(int(r["micro"] or 0) for r in rows)
        held_sql = (
            "SELECT COUNT(*) AS n, COALESCE(SUM(reserved_micro_usd), 0) AS micro FROM ledger "
            "WHERE status = 'reserved' AND day >= ?"
        )
        held_params: list[Any] = [since_day.isoformat()]
        if until_day is not None:
            held_sql += " AND day <= ?"
            held_params.append(until_day.isoformat())
        held = self._db.query(held_sql, held_params)[0]
        return {
            "reserved_usd": from_micro(held["micro"]),
            "reserved_requests": int(held["n"]),
            "total_usd": from_micro(total_micro),
            "requests": sum(int(r["requests"]) for r in rows),
            "rows": [
                {
                    by: r["key"],
                    "requests": int(r["requests"]),
                    "cost_usd": from_micro(r["micro"]),
                    "input_tokens": int(r["input_tokens"] or 0),
                    "output_tokens": int(r["output_tokens"] or 0),
                    "providers": providers.get(r["key"], {}),
                }
                for r in rows
            ],
        }
