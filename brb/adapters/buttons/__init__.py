"""Physical buttons: one module per kind, each turning a device into edges.

    source.py    the ButtonSource protocol and the edge queue they share
    keyboard.py  USB keyboard-type buttons and foot pedals (python-evdev)
    hid.py       the Dream Cheeky big red button, USB 1d34:000d (hidapi)
    gpio.py      a push button on a GPIO pin (gpiozero)

Owns choosing the kind (:func:`build_source`). Each kind's library is
imported only when that kind is built, so a Raspberry Pi needs no hidapi and
a desktop no gpiozero. Must not interpret presses: that is
:mod:`brb.core.gesture`, driven by :mod:`brb.button_listener`.
"""

from __future__ import annotations

from typing import Literal

from brb.adapters.buttons.source import ButtonSource
from brb.errors import ButtonError

Kind = Literal["keyboard", "hid", "gpio"]
KINDS: tuple[Kind, ...] = ("keyboard", "hid", "gpio")


def build_source(
    kind: str,
    *,
    device: str | None = None,
    key: str = "KEY_F13",
    pin: int = 17,
    pull_up: bool = True,
    bounce_time_s: float | None = 0.05,
    hold_time_s: float = 3.0,
    poll_interval_s: float = 0.07,
) -> ButtonSource:
    """The real device of ``kind``; :class:`ButtonError` if its library is missing."""
    if kind == "keyboard":
        from brb.adapters.buttons.keyboard import KeyboardButton

        return KeyboardButton(device=device, key=key)
    if kind == "hid":
        from brb.adapters.buttons.hid import HidButton

        return HidButton(path=device, poll_interval_s=poll_interval_s)
    if kind == "gpio":
        from brb.adapters.buttons.gpio import GpioButton

        return GpioButton(
            pin=pin, pull_up=pull_up, bounce_time_s=bounce_time_s, hold_time_s=hold_time_s
        )
    raise ButtonError(f"unknown button kind {kind!r}: use one of {', '.join(KINDS)}")


__all__ = ["KINDS", "ButtonSource", "Kind", "build_source"]
