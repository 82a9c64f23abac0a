"""The store's record of the daemons: the single heartbeat and the fleet's instances.

Owns :class:`Heartbeat` (the ``daemon`` row one host's daemon rewrites),
:class:`Instance` (one daemon of a fleet, a row per instance id), when an
instance counts as gone (:func:`is_stale`), whether another live instance is
active (:func:`others_active`, which the breaker asks) and
:class:`InstancesMixin`, which writes and reads them.

Must not import :mod:`brb.adapters.store` (it is put together from this) nor
read a clock: ``now`` and ``at`` are parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from brb.adapters.database import Tx, iso, parse_iso
from brb.adapters.store_base import StoreBase, set_row

STALE_BEATS = 3  # an instance whose heartbeat is older than 3 intervals is taken as gone


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pid: int | None
    version: str | None
    listen: str | None
    started_at: datetime | None
    heartbeat_at: datetime | None
    # the pool as the daemon saw it at that beat (status's live queue figures)
    upstreams: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Instance:
    """One daemon of the fleet, as its last heartbeat left it."""

    id: str
    host: str
    pid: int | None
    version: str
    listen: str
    started_at: datetime | None
    heartbeat_at: datetime
    heartbeat_interval_s: float
    breaker: str
    queue_depth: int
    is_diverting: bool


def is_stale(heartbeat_at: datetime, interval_s: float, now: datetime) -> bool:
    return (now - heartbeat_at).total_seconds() > STALE_BEATS * interval_s


def others_active(conn: Tx, instance_id: str, at: datetime) -> bool:
    """Is any other instance with a live heartbeat active?"""
    cur = conn.execute(
        "SELECT heartbeat_at, heartbeat_interval_s FROM instances "
        "WHERE id != ? AND breaker = 'active'",
        (instance_id,),
    )
    rows = cur.fetchall()
    return any(not is_stale(datetime.fromisoformat(r[0]), float(r[1]), at) for r in rows)


class InstancesMixin(StoreBase):
    """The heartbeat and the fleet's instances, for :class:`~brb.adapters.store.Store`."""

    def write_heartbeat(
        self,
        *,
        at: datetime,
        pid: int,
        version: str,
        listen: str,
        started_at: datetime,
        upstreams: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        with self.write() as conn:
            set_row(conn, "daemon", pid=pid, version=version, listen=listen,
                    started_at=iso(started_at), heartbeat_at=iso(at),
                    upstreams=json.dumps([dict(u) for u in upstreams]))  # fmt: skip

    def read_heartbeat(self) -> Heartbeat | None:
        rows = self.query(
            "SELECT pid, version, listen, started_at, heartbeat_at, upstreams FROM daemon"
        )
        if not rows:
            return None
        r = rows[0]
        try:
            pool = json.loads(r["upstreams"] or "[]")
        except ValueError:
            pool = []
        return Heartbeat(
            r["pid"],
            r["version"],
            r["listen"],
            parse_iso(r["started_at"]),
            parse_iso(r["heartbeat_at"]),
            [u for u in pool if isinstance(u, dict)] if isinstance(pool, list) else [],
        )

    def write_instance(self, inst: Instance) -> None:
        """Record one daemon's heartbeat (a row per instance id, replaced each beat)."""
        values = {
            "id": inst.id, "host": inst.host, "pid": inst.pid, "version": inst.version,
            "listen": inst.listen, "started_at": iso(inst.started_at),
            "heartbeat_at": iso(inst.heartbeat_at),
            "heartbeat_interval_s": inst.heartbeat_interval_s, "breaker": inst.breaker,
            "queue_depth": inst.queue_depth, "diverting": int(inst.is_diverting),
        }  # fmt: skip
        cols = ", ".join(values)
        updates = ", ".join(f"{c}=excluded.{c}" for c in values if c != "id")
        with self.write() as conn:
            conn.execute(
                f"INSERT INTO instances ({cols}) VALUES ({', '.join('?' * len(values))}) "
                f"ON CONFLICT (id) DO UPDATE SET {updates}",
                tuple(values.values()),
            )

    def remove_instance(self, instance_id: str) -> None:
        """A daemon that stops cleanly leaves the fleet's list."""
        with self.write() as conn:
            conn.execute("DELETE FROM instances WHERE id = ?", (instance_id,))

    def instances(self) -> list[Instance]:
        rows = self.query(
            "SELECT id, host, pid, version, listen, started_at, heartbeat_at, "
            "heartbeat_interval_s, breaker, queue_depth, diverting FROM instances ORDER BY id"
        )
        return [
            Instance(
                r["id"],
                r["host"],
                r["pid"],
                r["version"],
                r["listen"],
                parse_iso(r["started_at"]),
                parse_iso(r["heartbeat_at"]) or datetime.now(UTC),
                float(r["heartbeat_interval_s"]),
                r["breaker"],
                int(r["queue_depth"]),
                bool(r["diverting"]),
            )  # fmt: skip
            for r in rows
        ]
