"""Button gestures: what a run of raw key-down/key-up edges means.

Owns the rule that turns edges from any button kind (keyboard, HID, GPIO)
into at most one action per press. Must not read the clock, sleep, log or
touch a device: the listener passes every edge with its monotonic time in
seconds, plus a ``TICK`` whenever :func:`deadline` comes due, and acts on the
returned :class:`Gesture`.

The rules, in the ops room's words:

* **short press -> PRESS**, decided on key-up: until the key comes back up
  we can't know the press won't become a long one, and firing PRESS on
  key-down would divert traffic to the paid cloud for the seconds it takes
  an operator to hold the button for a RELEASE.
* **hold >= long_press_seconds -> RELEASE**, fired the moment the hold
  crosses the threshold (on a ``TICK`` while the key is still down), so the
  operator sees it take effect without letting go; the key-up that follows
  does nothing. A key-up that arrives late (no tick came in time) still
  counts by its real duration.
* **debounce**: a key-down within ``debounce_seconds`` of the end of the last
  accepted press (its key-up, or the moment it fired, whichever is later) is
  ignored, and so is everything up to its key-up. Measuring from the end
  also swallows the chatter of a switch letting go after a long hold.
* ``long_press_seconds <= 0`` turns long presses off: PRESS then fires on
  key-down.
* ``LOST`` (the device went away) forgets a press in progress without
  acting; the debounce window survives a reconnect.
* A second key-down without a key-up between (a lost edge) is ignored; a
  key-up with no press in progress is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Signal(StrEnum):
    DOWN = "down"  # key went down (from a device)
    UP = "up"  # key came up (from a device)
    TICK = "tick"  # the listener's timer: a deadline came due
    LOST = "lost"  # the device went away


class Action(StrEnum):
    PRESS = "press"
    RELEASE = "release"


@dataclass(frozen=True, slots=True)
class Edge:
    """One raw change of a button, at a monotonic time in seconds."""

    signal: Signal
    at_s: float


@dataclass(frozen=True, slots=True)
class GestureSettings:
    long_press_seconds: float = 3.0
    debounce_seconds: float = 2.0

    @property
    def has_long_press(self) -> bool:
        return self.long_press_seconds > 0


@dataclass(frozen=True, slots=True)
class GestureState:
    down_at_s: float | None = None  # the press in progress went down then
    is_ignored: bool = False  # the press in progress fell in the debounce window
    has_fired: bool = False  # the press in progress already acted
    quiet_until_s: float | None = None  # key-downs before this are debounced

    @property
    def is_down(self) -> bool:
        return self.down_at_s is not None


@dataclass(frozen=True, slots=True)
class Gesture:
    """What a press amounted to: an action, or ``None`` with why it was ignored."""

    action: Action | None
    held_seconds: float
    why: str


def deadline(state: GestureState, settings: GestureSettings) -> float | None:
    """When the listener must send a ``TICK`` (a pending hold turns into RELEASE)."""
    if state.down_at_s is None or state.is_ignored or state.has_fired:
        return None
    if not settings.has_long_press:
        return None
    return state.down_at_s + settings.long_press_seconds


def step(
    state: GestureState, signal: Signal, at_s: float, settings: GestureSettings
) -> tuple[GestureState, Gesture | None]:
    """Advance the gesture by one signal at ``at_s``; return the new state and
    the gesture it completed or refused (``None`` when nothing was decided)."""
    match signal:
        case Signal.DOWN:
            return _down(state, at_s, settings)
        case Signal.UP:
            return _up(state, at_s, settings)
        case Signal.TICK:
            return _tick(state, at_s, settings)
        case Signal.LOST:
            return GestureState(quiet_until_s=state.quiet_until_s), None


def _down(
    state: GestureState, at_s: float, settings: GestureSettings
) -> tuple[GestureState, Gesture | None]:
    if state.is_down:
        return state, None
    if state.quiet_until_s is not None and at_s < state.quiet_until_s:
        why = f"within {settings.debounce_seconds:g} s of the last press (debounce)"
        return replace(state, down_at_s=at_s, is_ignored=True), Gesture(None, 0.0, why)
    if not settings.has_long_press:
        quiet = at_s + settings.debounce_seconds
        fired = GestureState(down_at_s=at_s, has_fired=True, quiet_until_s=quiet)
        return fired, Gesture(Action.PRESS, 0.0, "key down")
    return replace(state, down_at_s=at_s, is_ignored=False, has_fired=False), None


def _up(
    state: GestureState, at_s: float, settings: GestureSettings
) -> tuple[GestureState, Gesture | None]:
    if state.down_at_s is None:
        return state, None
    held = max(0.0, at_s - state.down_at_s)
    if state.is_ignored:
        return GestureState(quiet_until_s=state.quiet_until_s), None
    quiet = at_s + settings.debounce_seconds
    if state.quiet_until_s is not None:
        quiet = max(quiet, state.quiet_until_s)
    after = GestureState(quiet_until_s=quiet)
    if state.has_fired:
        return after, None
    if settings.has_long_press and held >= settings.long_press_seconds:
        return after, Gesture(Action.RELEASE, held, f"held {held:.1f} s")
    return after, Gesture(Action.PRESS, held, "short press")


def _tick(
    state: GestureState, at_s: float, settings: GestureSettings
) -> tuple[GestureState, Gesture | None]:
    due = deadline(state, settings)
    if due is None or at_s < due or state.down_at_s is None:
        return state, None
    held = at_s - state.down_at_s
    fired = replace(state, has_fired=True, quiet_until_s=at_s + settings.debounce_seconds)
    return fired, Gesture(Action.RELEASE, held, f"held {held:.1f} s")
