"""The store's control state: the operator's override and the breaker.

Owns :class:`BreakerMixin`: reading and writing the override (a press
announces itself, so a daemon notices within a second) and the breaker — for a
fleet, each instance's phase on its own row and the shared breaker active from
the first instance that trips to the last that lets go. A change and its event
commit in one transaction.

Must not import :mod:`brb.adapters.store` (it is put together from this) nor
decide when the breaker trips: that is :mod:`brb.core.breaker`'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from brb.adapters.database import iso, parse_iso
from brb.adapters.store_base import StoreBase, set_row
from brb.adapters.store_events import insert_event
from brb.adapters.store_instances import others_active
from brb.core.breaker import BreakerState, Mode, Override, Phase


class BreakerMixin(StoreBase):
    """The override and the breaker, for :class:`~brb.adapters.store.Store`."""

    def read_override(self) -> Override:
        rows = self.query("SELECT mode, until, since, who, source, reason FROM override")
        if not rows:
            return Override()
        r = rows[0]
        return Override(
            Mode(r["mode"]),
            parse_iso(r["until"]),
            parse_iso(r["since"]),
            r["who"],
            r["source"],
            r["reason"],
        )

    def read_mode(self, now: datetime) -> Override:
        """The override in force at ``now`` (an expired one reads as auto)."""
        o = self.read_override()
        return Override() if o.is_expired(now) else o

    def write_override(self, o: Override, event: tuple[str, dict[str, Any]] | None = None) -> None:
        """Set the override, and record ``event`` (kind, detail) in the same transaction."""
        with self.write() as conn:
            set_row(conn, "override", mode=o.mode.value, until=iso(o.until), since=iso(o.since),
                    who=o.who, source=o.source, reason=o.reason)  # fmt: skip
            self.db.announce_change(conn)
            if event is not None:
                kind, detail = event
                insert_event(
                    conn, kind, o.since or datetime.now(UTC), o.source, o.who, o.reason, detail
                )

    def read_breaker(self) -> BreakerState:
        rows = self.query("SELECT phase, since, reason FROM breaker")
        if not rows:
            return BreakerState()
        r = rows[0]
        return BreakerState(Phase(r["phase"]), parse_iso(r["since"]), r["reason"])

    def write_breaker(
        self,
        state: BreakerState,
        at: datetime,
        event: tuple[str, dict[str, Any]] | None = None,
        *,
        instance_id: str | None = None,
    ) -> bool:
        """Record the breaker (and ``event``, its transition).

        With ``instance_id`` (a daemon, which may be one of a fleet) the row and
        the event are the fleet's: that instance's phase goes on its own row, and
        the shared breaker changes only when no other live instance is active — so
        the fleet's breaker is active from the first instance that trips to the last
        that lets go, and ``brb incidents`` sees one incident. False: the shared
        breaker was left as it was."""
        with self.write(lock="breaker") as conn:
            if instance_id is not None:
                conn.execute(
                    "UPDATE instances SET breaker = ? WHERE id = ?",
                    (state.phase.value, instance_id),
                )
                if others_active(conn, instance_id, at):
                    return False
            set_row(conn, "breaker", phase=state.phase.value, since=iso(state.since),
                    reason=state.reason, updated_at=iso(at))  # fmt: skip
            if event is not None:
                kind, detail = event
                if instance_id is not None:
                    detail = {**detail, "instance": instance_id}
                insert_event(conn, kind, at, "breaker", "brb", state.reason, detail)
        return True
