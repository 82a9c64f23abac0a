"""The store's events (the incidents' raw material) and which alerts have fired.

Owns :class:`Event`, :func:`insert_event` (an event written inside a caller's
transaction, so a change and its event commit together) and
:class:`EventsMixin`: adding and reading events, and marking an alert once a
day. Events are history: nothing here deletes one.

Must not import :mod:`brb.adapters.store` (it is put together from this) nor
decide what an event means: its kind and detail are the caller's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from brb.adapters.database import Tx, iso, parse_iso
from brb.adapters.store_base import StoreBase, window


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: datetime
    kind: str
    source: str
    who: str
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


def insert_event(
    conn: Tx,
    kind: str,
    at: datetime,
    source: str,
    who: str,
    reason: str,
    detail: dict[str, Any] | None,
) -> int:
    """Add one event in the transaction ``conn``; its id."""
    cur = conn.execute(
        "INSERT INTO events (at, kind, source, who, reason, detail) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (iso(at), kind, source, who, reason or "", json.dumps(detail or {}, default=str)),
    )
    return int(cur.fetchone()[0])


class EventsMixin(StoreBase):
    """The events table and the alerts fired, for :class:`~brb.adapters.store.Store`."""

    def add_event(
        self,
        kind: str,
        *,
        at: datetime,
        source: str = "",
        who: str = "",
        reason: str = "",
        detail: dict[str, Any] | None = None,
    ) -> int:
        with self.write() as conn:
            return insert_event(conn, kind, at, source, who, reason, detail)

    def events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        kinds: Sequence[str] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        where, params = window(since, until)
        sql = "SELECT id, at, kind, source, who, reason, detail FROM events WHERE " + where
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params.extend(kinds)
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return [
            Event(
                r["id"],
                parse_iso(r["at"]) or datetime.now(UTC),
                r["kind"],
                r["source"],
                r["who"],
                r["reason"],
                json.loads(r["detail"] or "{}"),
            )
            for r in self.query(sql, params)
        ]

    def mark_alert_once(self, day: str, key: str, at: datetime) -> bool:
        """True the first time ``key`` is marked on ``day``; False ever after."""
        with self.write() as conn:
            cur = conn.execute(
                "INSERT INTO alerts_fired (day, key, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (day, key, iso(at)),
            )
            return cur.rowcount == 1

    def alerts_fired(self, day: str) -> set[str]:
        return {r["key"] for r in self.query("SELECT key FROM alerts_fired WHERE day = ?", (day,))}
