"""Table tests for brb.core.gesture: edges in, actions out, no clock."""

from __future__ import annotations

import pytest

from brb.core.gesture import (
    Action,
    GestureSettings,
    GestureState,
    Signal,
    deadline,
    step,
)

D, U, T, L = Signal.DOWN, Signal.UP, Signal.TICK, Signal.LOST
PRESS, RELEASE = Action.PRESS, Action.RELEASE
DEFAULT = GestureSettings()  # long press 3 s, debounce 2 s


def run(
    signals: list[tuple[Signal, float]], settings: GestureSettings = DEFAULT
) -> list[tuple[float, Action | None]]:
    """Feed signals; return (time, action) for every decided gesture (None = ignored)."""
    state = GestureState()
    out: list[tuple[float, Action | None]] = []
    for signal, at in signals:
        state, gesture = step(state, signal, at, settings)
        if gesture is not None:
            out.append((at, gesture.action))
    return out


CASES: list[tuple[str, list[tuple[Signal, float]], list[tuple[float, Action | None]]]] = [
    ("short press fires on key-up", [(D, 10.0), (U, 10.2)], [(10.2, PRESS)]),
    ("nothing fires on key-down alone", [(D, 10.0)], []),
    ("tick before the threshold does nothing", [(D, 10.0), (T, 12.9)], []),
    ("hold fires RELEASE on the tick at the threshold", [(D, 10.0), (T, 13.0)], [(13.0, RELEASE)]),
    (
        "key-up after a fired hold does nothing",
        [(D, 10.0), (T, 13.0), (U, 15.0)],
        [(13.0, RELEASE)],
    ),
    ("a late key-up still counts as long", [(D, 10.0), (U, 13.5)], [(13.5, RELEASE)]),
    ("just under the threshold is short", [(D, 10.0), (U, 12.99)], [(12.99, PRESS)]),
    (
        "release fires once, however many ticks",
        [(D, 0.0), (T, 3.0), (T, 4.0), (T, 9.0)],
        [(3.0, RELEASE)],
    ),
    (
        "second press inside the debounce is ignored",
        [(D, 0.0), (U, 0.1), (D, 1.0), (U, 1.1)],
        [(0.1, PRESS), (1.0, None)],
    ),
    (
        "a press after the debounce counts",
        [(D, 0.0), (U, 0.1), (D, 2.2), (U, 2.3)],
        [(0.1, PRESS), (2.3, PRESS)],
    ),
    (
        "switch chatter makes one press",
        [(D, 0.0), (U, 0.004), (D, 0.006), (U, 0.009), (D, 0.011), (U, 0.2)],
        [(0.004, PRESS), (0.006, None), (0.011, None)],
    ),
    (
        "an ignored press can't become a release",
        [(D, 0.0), (U, 0.1), (D, 0.5), (T, 3.5), (U, 5.0)],
        [(0.1, PRESS), (0.5, None)],
    ),
    (
        "debounce runs from the end of a long hold",
        [(D, 0.0), (T, 3.0), (U, 10.0), (D, 10.01), (U, 10.02)],
        [(3.0, RELEASE), (10.01, None)],
    ),
    (
        "debounce is measured from the key-up, not the key-down",
        [(D, 0.0), (U, 1.5), (D, 2.5), (U, 2.6)],
        [(1.5, PRESS), (2.5, None)],
    ),
    (
        "long press then short press",
        [(D, 0.0), (T, 3.0), (U, 3.2), (D, 6.0), (U, 6.1)],
        [(3.0, RELEASE), (6.1, PRESS)],
    ),
    ("key-up without key-down is ignored", [(U, 1.0)], []),
    (
        "a second key-down (lost key-up) keeps the first",
        [(D, 0.0), (D, 1.0), (T, 3.0)],
        [(3.0, RELEASE)],
    ),
    ("LOST forgets the press in progress", [(D, 0.0), (L, 1.0), (U, 1.2), (T, 5.0)], []),
    (
        "LOST keeps the debounce window",
        [(D, 0.0), (U, 0.1), (L, 0.5), (D, 1.0), (U, 1.1)],
        [(0.1, PRESS), (1.0, None)],
    ),
]


@pytest.mark.parametrize(("signals", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gestures(
    signals: list[tuple[Signal, float]], expected: list[tuple[float, Action | None]]
) -> None:
    assert run(signals) == expected


def test_long_press_off_fires_press_on_key_down() -> None:
    settings = GestureSettings(long_press_seconds=0, debounce_seconds=2.0)
    signals = [(D, 0.0), (T, 10.0), (U, 10.5), (D, 11.0), (U, 11.1), (D, 13.0)]
    assert run(signals, settings) == [(0.0, PRESS), (11.0, None), (13.0, PRESS)]


def test_no_debounce_lets_every_press_through() -> None:
    settings = GestureSettings(long_press_seconds=3.0, debounce_seconds=0)
    assert run([(D, 0.0), (U, 0.1), (D, 0.2), (U, 0.3)], settings) == [(0.1, PRESS), (0.3, PRESS)]


def test_deadline_follows_the_press() -> None:
    s0 = GestureState()
    assert deadline(s0, DEFAULT) is None
    s1, _ = step(s0, D, 5.0, DEFAULT)
    assert deadline(s1, DEFAULT) == 8.0
    s2, gesture = step(s1, T, 8.0, DEFAULT)
    assert gesture is not None and gesture.action is RELEASE and gesture.held_seconds == 3.0
    assert deadline(s2, DEFAULT) is None  # already fired
    s3, _ = step(s2, U, 8.5, DEFAULT)
    assert deadline(s3, DEFAULT) is None
    s4, gesture = step(s3, D, 9.0, DEFAULT)  # debounced
    assert gesture is not None and gesture.action is None and "debounce" in gesture.why
    assert deadline(s4, DEFAULT) is None


def test_gesture_reports_how_long_it_was_held() -> None:
    _, g = step(GestureState(down_at_s=1.0), U, 1.25, DEFAULT)
    assert g is not None and g.action is PRESS and g.held_seconds == pytest.approx(0.25)
    assert g.why == "short press"
