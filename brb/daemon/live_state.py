"""The daemon's live copy of the button: override, breaker, diverting edges.

Owns stepping the pure breaker (on every arrival and completion, and on a
1 s tick), noticing a press or release made by another process (``PRAGMA
data_version`` polled a few times a second), expiring overrides, and turning
changes into store events and daemon events (:class:`BreakerMoved`, and the
diverting edges :class:`DivertingStarted` / :class:`DivertingStopped`).
Decisions read this in-memory state: no SQLite on the request path. Writes
go through the store writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from brb.adapters.store import Store
from brb.core import breaker
from brb.core.breaker import BreakerState, Mode, Observation, Override, Phase, Thresholds
from brb.daemon.events import BreakerMoved, DivertingStarted, DivertingStopped, EventSink
from brb.daemon.store_writer import StoreWriter

log = logging.getLogger(__name__)


class LiveState:
    def __init__(
        self,
        *,
        reader: Store,
        writer: StoreWriter,
        limits: Thresholds,
        clock: Callable[[], datetime],
        sink: EventSink,
        instance_id: str | None = None,
    ) -> None:
        """``instance_id``: this daemon's name in the fleet's list (the breaker
        written to the store is the fleet's: see :meth:`Store.write_breaker`)."""
        self._reader = reader
        self.instance_id = instance_id
        self._writer = writer
        self.limits = limits
        self._clock = clock
        self._sink = sink
        self.override: Override = reader.read_override()
        self.breaker: BreakerState = reader.read_breaker()
        if self.breaker.phase is Phase.ACTIVE:
            # A restart is a fresh look at the load: the new daemon's monitor
            # starts empty, so begin in standby and let the load re-activate it.
            self.breaker = BreakerState(Phase.STANDBY, clock(), "daemon restarted")
            writer.submit(
                writer.store.write_breaker,
                self.breaker,
                clock(),
                ("deactivated", {"restart": True}),
                instance_id=instance_id,
            )
        self._data_version = reader.data_version()
        self._diverting = breaker.is_diverting(self.override, self.breaker, clock())
        self.last_observation = Observation(0, 0.0)

    # --- reads on the request path -------------------------------------------

    @property
    def mode(self) -> Mode:
        return self.override.mode

    @property
    def phase(self) -> Phase:
        return self.breaker.phase

    @property
    def is_diverting(self) -> bool:
        return self._diverting

    # --- stepping --------------------------------------------------------------

    def observe(self, obs: Observation, now: datetime | None = None) -> None:
        """Step the breaker with one observation (cheap; called per arrival and end;
        ``now`` read from the clock only when the step needs it)."""
        self.last_observation = obs
        if (
            self.breaker.phase is Phase.STANDBY
            and breaker.activation_reason(obs, self.limits) is None
        ):
            return  # what breaker.step would say: standby stays standby
        at = now or self._clock()
        new, transition = breaker.step(self.breaker, obs, at, self.limits)
        if transition is None:
            return
        self.breaker = new
        detail = {"queue_depth": obs.queue_depth, "wait_seconds": round(obs.wait_seconds, 3)}
        if transition.active_seconds is not None:
            detail["active_seconds"] = round(transition.active_seconds, 3)
        log.warning("breaker %s: %s", transition.kind, transition.reason)
        self._writer.submit(
            self._writer.store.write_breaker,
            new,
            at,
            (transition.kind, detail),
            instance_id=self.instance_id,
        )
        self._sink.publish(BreakerMoved(at, transition.kind, transition.reason, obs))
        self._check_edge(at, reason=transition.reason, obs=obs, source="breaker", who="brb")

    def poll(self) -> None:
        """Pick up a press/release from another process; expire overrides."""
        at = self._clock()
        version = self._reader.data_version()
        if version != self._data_version:
            # Read first: if the store can't be read now, the press state last seen
            # stays, and the next poll tries again.
            new = self._reader.read_override()
            self._data_version = version
            if new != self.override:
                self.override = new
                log.warning(
                    "override now %s (by %s via %s%s)",
                    new.mode.value,
                    new.who,
                    new.source,
                    f": {new.reason}" if new.reason else "",
                )
                self._check_edge(
                    new.since or at,  # when it was pressed, not when this poll saw it
                    reason=self._override_reason(new),
                    obs=None,
                    source=new.source,
                    who=new.who,
                )
        expired, transition = breaker.expire(self.override, at)
        if transition is not None:
            self.override = expired
            self._writer.submit(
                self._writer.store.write_override,
                expired,
                ("override_expired", {"reason": transition.reason}),
            )
            self._check_edge(at, reason=transition.reason, obs=None, source="expiry", who="brb")

    def set_override(self, o: Override) -> None:
        """The daemon's own press/release (HTTP admin) already went to the store."""
        self.override = o
        self._check_edge(
            o.since or self._clock(),
            reason=self._override_reason(o),
            obs=None,
            source=o.source,
            who=o.who,
        )

    @staticmethod
    def _override_reason(o: Override) -> str:
        what = {"on": "pressed", "off": "held off", "auto": "released to auto"}[o.mode.value]
        return f"{what} by {o.who or '?'} via {o.source or '?'}" + (
            f": {o.reason}" if o.reason else ""
        )

    def _check_edge(
        self, at: datetime, *, reason: str, obs: Observation | None, source: str, who: str
    ) -> None:
        now_diverting = breaker.is_diverting(self.override, self.breaker, at)
        if now_diverting == self._diverting:
            return
        self._diverting = now_diverting
        if now_diverting:
            self._sink.publish(
                DivertingStarted(at, reason, source, who, obs or self.last_observation)
            )
        else:
            self._sink.publish(DivertingStopped(at, reason, source, who))
