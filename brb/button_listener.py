"""The button listener: a physical button's presses, as ``brb press``/``release``.

Owns the service loop behind ``brb button listen``: read edges from one
:class:`~brb.adapters.buttons.ButtonSource`, run them through
:mod:`brb.core.gesture` (timing holds with its deadlines), and hand each
finished gesture to the effects -- the store through :mod:`brb.control`,
the very code path of the CLI, or with ``--dry-run`` a printed line. When the
device goes away it records one ``button_unplugged`` event, retries with
exponential backoff, and records ``button_replugged`` once the device is
back. Must not know how any device is read (the adapters do) nor decide what
a run of edges means (the gesture does).

Runs until cancelled; the CLI cancels it on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from brb.adapters.buttons.source import ButtonSource, Clock
from brb.core import gesture
from brb.core.gesture import Action, Gesture, GestureSettings, GestureState, Signal
from brb.errors import BrbError, ButtonError

log = logging.getLogger(__name__)

WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    long_press_seconds: float = 3.0
    debounce_seconds: float = 2.0
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0

    @property
    def gesture(self) -> GestureSettings:
        return GestureSettings(self.long_press_seconds, self.debounce_seconds)

    def backoff_seconds(self, attempt: int) -> float:
        """Delay before reconnect attempt ``attempt`` (0-based): doubling, capped."""
        return min(self.backoff_max_seconds, self.backoff_initial_seconds * 2.0 ** min(attempt, 30))


class ButtonEffects(Protocol):
    """What the listener's decisions do: act on the store, or just say so."""

    def act(self, action: Action, reason: str, now: datetime) -> str:
        """Press or release; return one line saying what happened."""
        ...

    def record(self, kind: str, detail: dict[str, Any], now: datetime) -> None:
        """Record a button event (``button_unplugged``, ``button_replugged``)."""
        ...


class StoreEffects:
    """The real thing: :func:`brb.control.press`/``release`` on the database."""

    def __init__(self, db_path: Path | str, *, source: str, who: str | None = None) -> None:
        self._db_path = db_path
        self._source = source
        self._who = who

    def act(self, action: Action, reason: str, now: datetime) -> str:
        from brb import control
        from brb.adapters.store import Store

        with Store.open(self._db_path) as store:
            if action is Action.PRESS:
                result = control.press(
                    store, now=now, source=self._source, who=self._who, reason=reason
                )
            else:
                result = control.release(
                    store, now=now, source=self._source, who=self._who, reason=reason, hold=False
                )
        outcome = "" if result.changed else ", already so: nothing changed (logged)"
        return f"{action.value}: mode {result.mode}{outcome}"

    def record(self, kind: str, detail: dict[str, Any], now: datetime) -> None:
        from brb.adapters.store import Store

        with Store.open(self._db_path) as store:
            store.add_event(kind, at=now, source=self._source, who=self._who or "", detail=detail)


class DryRunEffects:
    """``--dry-run``: print what would be done, touch nothing."""

    def __init__(self, out: Callable[[str], None], *, source: str) -> None:
        self._out = out
        self._source = source

    def act(self, action: Action, reason: str, now: datetime) -> str:
        return f"dry run: would {action.value} (source {self._source}, reason {reason!r})"

    def record(self, kind: str, detail: dict[str, Any], now: datetime) -> None:
        self._out(f"dry run: would record {kind} {detail}")


class ButtonListener:
    def __init__(
        self,
        source: ButtonSource,
        effects: ButtonEffects,
        *,
        settings: ListenerSettings | None = None,
        out: Callable[[str], None] | None = None,
        clock: Clock = time.monotonic,
        wall_clock: WallClock = utc_now,
    ) -> None:
        self._source = source
        self._effects = effects
        self._settings = settings or ListenerSettings()
        self._gesture_settings = self._settings.gesture
        self._out = out or (lambda line: log.info("%s", line))
        self._clock = clock
        self._wall_clock = wall_clock
        self._state = GestureState()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting whenever the device goes away."""
        attempt = 0
        outage_since_s: float | None = None  # set while the device is away
        try:
            while True:
                try:
                    await self._source.open()
                except ButtonError as err:
                    if outage_since_s is None:
                        outage_since_s = await self._start_outage(err)
                    delay = self._settings.backoff_seconds(attempt)
                    attempt += 1
                    log.debug(
                        "%s still unavailable (%s); retry in %.1f s",
                        self._source.describe(),
                        str(err),
                        delay,
                    )
                    await asyncio.sleep(delay)
                    continue
                if outage_since_s is not None:
                    await self._end_outage(outage_since_s, attempt)
                    outage_since_s = None
                attempt = 0
                self._out(f"listening on {self._source.describe()}")
                try:
                    await self._listen()
                except ButtonError as err:
                    self._state, _ = gesture.step(
                        self._state, Signal.LOST, self._clock(), self._gesture_settings
                    )
                    await self._source.close()
                    outage_since_s = await self._start_outage(err)
        finally:
            await self._source.close()

    async def _listen(self) -> None:
        while True:
            due = gesture.deadline(self._state, self._gesture_settings)
            timeout = None if due is None else max(0.0, due - self._clock())
            edge = await self._source.next_edge(timeout)
            if edge is None:
                await self._step(Signal.TICK, self._clock())
            else:
                await self._step(edge.signal, edge.at_s)

    async def _step(self, signal: Signal, at_s: float) -> None:
        self._state, done = gesture.step(self._state, signal, at_s, self._gesture_settings)
        if done is not None:
            await self._finish(done)

    async def _finish(self, done: Gesture) -> None:
        if done.action is None:
            self._out(f"press ignored: {done.why}")
            return
        reason = f"physical button ({done.why})"
        try:
            # The store blocks (SQLite, busy timeout): keep the loop free for edges.
            line = await asyncio.to_thread(
                self._effects.act, done.action, reason, self._wall_clock()
            )
        except BrbError as err:
            log.error("the button's %s failed: %s", done.action.value, str(err))
            return
        self._out(line)

    async def _start_outage(self, err: ButtonError) -> float:
        log.warning(
            "button %s unavailable: %s; retrying with backoff until it is back",
            self._source.describe(),
            str(err),  # a string, not the exception: records must not pin its traceback
        )
        started_s = self._clock()
        detail = {"device": self._source.describe(), "error": str(err)}
        await self._record("button_unplugged", detail)
        return started_s

    async def _end_outage(self, since_s: float, attempts: int) -> None:
        seconds = round(self._clock() - since_s, 3)
        log.warning("button %s is back after %.1f s", self._source.describe(), seconds)
        detail = {
            "device": self._source.describe(),
            "outage_seconds": seconds,
            "attempts": attempts,
        }
        await self._record("button_replugged", detail)

    async def _record(self, kind: str, detail: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(self._effects.record, kind, detail, self._wall_clock())
        except BrbError as err:
            log.error("couldn't record %s: %s", kind, str(err))
