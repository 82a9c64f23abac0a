"""What every part of the store stands on: the open database and two SQL shapes.

Owns :class:`StoreBase` (the :class:`~brb.adapters.database.Database` a store
holds, its write transaction and its query), :func:`set_row` (the one row of a
single-row table) and :func:`window` (a time window on ``at``). The parts of
the store (:mod:`brb.adapters.store_breaker`, :mod:`~brb.adapters.store_events`,
:mod:`~brb.adapters.store_samples`, :mod:`~brb.adapters.store_instances`) build
on it; :class:`brb.adapters.store.Store` puts them together.

Must not know any table but by the name a caller passes, nor import a part of
the store or a database driver.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from brb.adapters.database import Database, Row, Tx, iso


class StoreBase:
    """An open brb database: the transaction and the query every part uses."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextlib.contextmanager
    def write(self, lock: str | None = None) -> Iterator[Tx]:
        """One write transaction; reads in it see every earlier commit, and no
        other writer naming the same ``lock`` (SQLite: no other writer) runs."""
        with self.db.transaction(lock) as tx:
            yield tx

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.db.query(sql, params)


def set_row(conn: Tx, table: str, **values: Any) -> None:
    """Write the one row (id 1) of a single-row table (override, breaker, daemon)."""
    cols = ", ".join(values)
    updates = ", ".join(f"{c}=excluded.{c}" for c in values)
    conn.execute(
        f"INSERT INTO {table} (id, {cols}) VALUES (1, {', '.join('?' * len(values))}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}",
        tuple(values.values()),
    )


def window(since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    """A WHERE clause on ``at`` for [since, until), and its parameters."""
    clauses, params = ["1=1"], []
    if since is not None:
        clauses.append("at >= ?")
        params.append(iso(since))
    if until is not None:
        clauses.append("at < ?")
        params.append(iso(until))
    return " AND ".join(clauses), params
