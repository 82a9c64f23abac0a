"""A push button on a GPIO pin (Raspberry Pi and friends) through gpiozero.

Owns claiming the pin as a gpiozero ``Button(pin, pull_up, bounce_time,
hold_time)`` and handing its callbacks -- which gpiozero runs on its own
threads -- to the event loop with ``loop.call_soon_threadsafe`` (via
:class:`QueuedSource`). A pin can't be unplugged, but the chip behind it can
(a USB GPIO expander, a driver reload): the pin is read every
``check_interval_s`` and a failing read is reported like an unplugged button.
Closing while the button is held waits out ``hold_time`` (gpiozero's hold
thread only notices a stop between holds), so it happens off the loop.
Must not interpret presses (:mod:`brb.core.gesture`; ``hold_time`` is set for
gpiozero's own bookkeeping, the gesture times holds for every kind alike) nor
import gpiozero before a GPIO button is asked for.

The pin factory is injectable: gpiozero's ``MockFactory`` (or
``GPIOZERO_PIN_FACTORY=mock``) drives the same code as a real pin.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import ModuleType
from typing import Any

from brb.adapters.buttons.source import Clock, QueuedSource
from brb.core.gesture import Signal
from brb.errors import ButtonError

log = logging.getLogger(__name__)


def load_gpiozero() -> ModuleType:
    try:
        import gpiozero
    except ImportError as err:
        raise ButtonError(
            f"the gpio button needs gpiozero: pip install 'brb[button]' ({err})"
        ) from None
    module: ModuleType = gpiozero
    return module


class GpioButton(QueuedSource):
    kind = "gpio"

    def __init__(
        self,
        *,
        pin: int = 17,
        pull_up: bool = True,
        bounce_time_s: float | None = 0.05,
        hold_time_s: float = 3.0,
        check_interval_s: float = 0.5,
        pin_factory: Any = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(clock)
        load_gpiozero()
        self._pin = pin
        self._pull_up = pull_up
        # gpiozero: no debouncing at all unless bounce_time is set.
        self._bounce_time_s = bounce_time_s if bounce_time_s else None
        self._hold_time_s = hold_time_s
        self._check_interval_s = check_interval_s
        self._pin_factory = pin_factory
        self._button: Any = None

    def describe(self) -> str:
        pull = "pull-up" if self._pull_up else "pull-down"
        return f"gpio pin {self._pin} ({pull})"

    async def open(self) -> None:
        await self.close()
        gpiozero = load_gpiozero()
        self._start_queue()
        failure: str | None = None
        try:
            button = gpiozero.Button(
                self._pin,
                pull_up=self._pull_up,
                bounce_time=self._bounce_time_s,
                hold_time=self._hold_time_s,
                pin_factory=self._pin_factory,
            )
        except Exception as err:  # gpiozero and each pin library raise their own types
            failure = f"can't claim {self.describe()}: {err}"
        if failure is not None:
            # Raised outside the except block on purpose: the library's traceback
            # holds the half-built Button, whose pin reservation lives as long as
            # it does, and the next attempt would find the pin "in use".
            await self._stop_queue()
            raise ButtonError(failure)
        button.when_pressed = self._on_pressed
        button.when_released = self._on_released
        self._button = button
        self._start_reader(self._watch(button))

    def _on_pressed(self) -> None:  # on a gpiozero thread
        self._emit_threadsafe(Signal.DOWN)

    def _on_released(self) -> None:  # on a gpiozero thread
        self._emit_threadsafe(Signal.UP)

    async def _watch(self, button: Any) -> None:
        while True:
            await asyncio.sleep(self._check_interval_s)
            try:
                button.value  # noqa: B018 -- the read is the check
            except Exception as err:  # the pin library's own error types
                raise ButtonError(f"{self.describe()} can't be read any more: {err}") from None

    async def close(self) -> None:
        await self._stop_queue()
        button, self._button = self._button, None
        if button is not None:
            # In a worker thread: while the button is held, gpiozero's hold thread
            # waits out hold_time before it can be joined, and the loop must not stall.
            await asyncio.to_thread(self._close_button, button)

    def _close_button(self, button: Any) -> None:
        try:
            button.when_pressed = None
            button.when_released = None
            button.close()  # releases the pin, so the next open can claim it
        except Exception:  # a chip that went away may fail even to close
            log.debug("closing %s failed", self.describe(), exc_info=True)
