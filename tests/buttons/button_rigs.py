"""Button rigs: each kind's real adapter code, with the hardware swapped for a
stand-in at the library seam (an evdev device yielding ``InputEvent``s, a
hidapi device answering the Dream Cheeky's real report bytes, gpiozero's
``MockFactory``). A rig can press, release, unplug and replug its button.
"""

from __future__ import annotations

import asyncio
import errno
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from brb.adapters.buttons.gpio import GpioButton
from brb.adapters.buttons.hid import HidButton
from brb.adapters.buttons.keyboard import KeyboardButton
from brb.adapters.buttons.source import ButtonSource

# --- keyboard: python-evdev -------------------------------------------------------


class FakeInputDevice:
    """Quacks like ``evdev.InputDevice``: events come from a queue the rig fills."""

    def __init__(self, name: str, keys: list[int]) -> None:
        from evdev import ecodes

        self.name = name
        self.path = "/dev/input/event42"
        self.keys = keys
        self.ev_key = ecodes.EV_KEY
        self.is_grabbed = False
        self.is_closed = False
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def capabilities(self) -> dict[int, list[int]]:
        return {self.ev_key: self.keys}

    def grab(self) -> None:
        self.is_grabbed = True

    def close(self) -> None:
        self.is_closed = True

    async def async_read_loop(self) -> AsyncIterator[Any]:
        while True:
            item = await self.queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item


class KeyboardRig:
    kind = "keyboard"
    by_id = "/dev/input/by-id/usb-Fake_Big_Red_Button-event-kbd"

    def __init__(self) -> None:
        from evdev import ecodes

        self.ecodes = ecodes
        self.is_plugged = True
        self.keys = [ecodes.KEY_F13, ecodes.KEY_A]
        self.devices: list[FakeInputDevice] = []

    def connect(self) -> FakeInputDevice:
        if not self.is_plugged:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", self.by_id)
        device = FakeInputDevice("Fake Big Red Button", self.keys)
        self.devices.append(device)
        return device

    def source(self) -> ButtonSource:
        return KeyboardButton(device=self.by_id, key="KEY_F13", opener=self.connect)

    def send(self, code: int, value: int) -> None:
        from evdev import InputEvent

        now = time.time()
        sec, usec = int(now), int((now % 1) * 1_000_000)
        device = self.devices[-1]
        device.queue.put_nowait(InputEvent(sec, usec, self.ecodes.EV_KEY, code, value))
        device.queue.put_nowait(InputEvent(sec, usec, self.ecodes.EV_SYN, 0, 0))

    def down(self) -> None:
        self.send(self.ecodes.KEY_F13, 1)

    def still_held(self) -> None:
        self.send(self.ecodes.KEY_F13, 2)  # the kernel's auto-repeat

    def up(self) -> None:
        self.send(self.ecodes.KEY_F13, 0)

    def unplug(self) -> None:
        self.is_plugged = False
        if self.devices:
            self.devices[-1].queue.put_nowait(OSError(errno.ENODEV, "No such device"))

    def replug(self) -> None:
        self.is_plugged = True


# --- hid: the Dream Cheeky through hidapi -----------------------------------------

# The request from the Dream Cheeky's protocol, spelt out here rather than taken
# from the module under test: report id 0, then 00 00 00 00 00 00 00 02.
DREAM_CHEEKY_REQUEST = bytes([0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02])


class FakeDreamCheeky:
    """Quacks like ``hid.device`` opened on 1d34:000d: answers a status request
    with 8 bytes, 0x15 lid closed / 0x17 lid open / 0x16 lid open and pressed."""

    def __init__(self, rig: HidRig) -> None:
        self.rig = rig
        self.is_asked = False
        self.is_closed = False
        self.writes: list[bytes] = []
        self.answers = 0  # status reports given: each one is a poll that saw the rig's state

    def write(self, data: bytes) -> int:
        if not self.rig.is_plugged:
            return -1  # hid_write's answer once the device is gone
        self.writes.append(bytes(data))
        self.is_asked = bytes(data) == DREAM_CHEEKY_REQUEST
        return len(data)

    def read(self, max_length: int, timeout_ms: int = 0) -> list[int]:
        if not self.rig.is_plugged:
            raise OSError("read error")
        if not self.is_asked:
            time.sleep(timeout_ms / 1000)
            return []
        self.is_asked = False
        self.answers += 1
        lid_open, pressed = self.rig.is_lid_open, self.rig.is_pressed
        status = 0x15 if not lid_open else (0x16 if pressed else 0x17)
        return [status, 0, 0, 0, 0, 0, 0, 0x03][:max_length]

    def close(self) -> None:
        self.is_closed = True


class HidRig:
    kind = "hid"

    def __init__(self) -> None:
        self.is_plugged = True
        self.is_lid_open = True
        self.is_pressed = False
        self.devices: list[FakeDreamCheeky] = []

    def connect(self) -> FakeDreamCheeky:
        if not self.is_plugged:
            raise OSError("open failed")  # what hid.device().open() raises
        device = FakeDreamCheeky(self)
        self.devices.append(device)
        return device

    def source(self) -> ButtonSource:
        return HidButton(poll_interval_s=0.01, read_timeout_ms=20, opener=self.connect)

    def down(self) -> None:
        self.is_pressed = True

    def still_held(self) -> None:
        pass

    def up(self) -> None:
        self.is_pressed = False

    async def polled(self, *, within_s: float = 20.0) -> None:
        """Until the button's poll thread has read the rig's present state: two more
        answers, since the first may have been read just before the last change. A fixed
        sleep here lost edges when a loaded machine starved the poll thread."""
        device = self.devices[-1]
        seen = device.answers
        deadline = time.monotonic() + within_s
        while device.answers < seen + 2:
            if time.monotonic() > deadline:
                raise AssertionError(f"the poll thread did not poll within {within_s} s")
            await asyncio.sleep(0.005)

    def unplug(self) -> None:
        self.is_plugged = False

    def replug(self) -> None:
        self.is_plugged = True


# --- gpio: gpiozero's MockFactory ---------------------------------------------------


def _gpio_classes() -> tuple[type, type]:
    from gpiozero.pins.mock import MockFactory, MockPin

    class UnpluggablePin(MockPin):  # type: ignore[misc]
        def _get_state(self) -> bool:
            if self.factory.is_unplugged:
                raise OSError(errno.ENODEV, "gpiochip0: No such device")
            return bool(super()._get_state())

    class UnpluggableFactory(MockFactory):  # type: ignore[misc]
        """A MockFactory whose GPIO chip can vanish, like a USB GPIO expander's."""

        is_unplugged = False

        def pin(self, name: Any, pin_class: Any = None, **kwargs: Any) -> Any:
            if self.is_unplugged:
                raise OSError(errno.ENODEV, "gpiochip0: No such device")
            return super().pin(name, pin_class, **kwargs)

    return UnpluggablePin, UnpluggableFactory


class GpioRig:
    kind = "gpio"
    pin_number = 17

    def __init__(self) -> None:
        pin_class, factory_class = _gpio_classes()
        self.factory = factory_class(pin_class=pin_class)

    def source(self) -> ButtonSource:
        return GpioButton(
            pin=self.pin_number, pull_up=True, check_interval_s=0.02, pin_factory=self.factory
        )

    def _drive(self, low: bool) -> None:
        pin = self.factory.pin(self.pin_number)
        # gpiozero calls back on its own threads on real hardware: do the same.
        worker = threading.Thread(target=pin.drive_low if low else pin.drive_high)
        worker.start()
        worker.join()

    def down(self) -> None:
        self._drive(low=True)  # pulled up: pressed connects the pin to ground

    def still_held(self) -> None:
        pass

    def up(self) -> None:
        self._drive(low=False)

    def unplug(self) -> None:
        self.factory.is_unplugged = True

    def replug(self) -> None:
        self.factory.is_unplugged = False


RIGS: dict[str, Callable[[], Any]] = {"keyboard": KeyboardRig, "hid": HidRig, "gpio": GpioRig}
