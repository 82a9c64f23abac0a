"""Keyboard-type buttons (USB big red buttons, foot pedals) through python-evdev.

Owns finding the input device (a ``/dev/input/by-id`` path, any event node,
or a device name), grabbing it exclusively so its key never types into a
console, and turning its key events into edges: value 1 is key down, 0 key
up, 2 (auto-repeat) is ignored (python-evdev docs, ``KeyEvent``). Must not
interpret presses (:mod:`brb.core.gesture`) nor import evdev before a
keyboard button is asked for.

The device is injectable (``opener``): anything with ``name``, ``path``,
``capabilities()``, ``grab()``, ``close()`` and ``async_read_loop()``
yielding ``evdev.InputEvent`` runs the same code as a real
``evdev.InputDevice``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from types import ModuleType
from typing import Any, Protocol

from brb.adapters.buttons.source import Clock, QueuedSource
from brb.core.gesture import Signal
from brb.errors import ButtonError

KEY_DOWN, KEY_UP, KEY_REPEAT = 1, 0, 2


class EvdevDevice(Protocol):
    name: str
    path: str

    def capabilities(self) -> Any: ...

    def grab(self) -> None: ...

    def close(self) -> None: ...

    def async_read_loop(self) -> AsyncIterator[Any]: ...


def load_evdev() -> ModuleType:
    try:
        import evdev
    except ImportError as err:
        raise ButtonError(
            "the keyboard button needs python-evdev (Linux only): "
            f"pip install 'brb[button]' ({err})"
        ) from None
    return evdev


def key_code(key: str) -> int:
    """The evdev code of a key name such as ``KEY_F13`` or ``BTN_0``."""
    codes = load_evdev().ecodes.ecodes
    code = codes.get(key.upper())
    if code is None or not key.upper().startswith(("KEY_", "BTN_")):
        raise ButtonError(
            f"unknown key {key!r}: use an evdev key name such as KEY_F13 "
            "(`python -m evdev.evtest` shows what a device sends)"
        )
    return int(code)


def _key_name(code: int) -> str:
    ecodes = load_evdev().ecodes
    name = ecodes.KEY.get(code) or ecodes.BTN.get(code) or str(code)
    return name if isinstance(name, str) else str(name[-1])  # aliases come as a tuple


def open_input_device(spec: str) -> EvdevDevice:
    """Open an input device by path (``/dev/input/by-id/...``) or by exact name."""
    evdev = load_evdev()
    if "/" in spec:
        # by-id paths are symlinks that vanish on unplug and come back on replug.
        path = os.path.realpath(spec)
        if not os.path.exists(path):
            raise ButtonError(f"no input device at {spec} (unplugged?)")
        return _open_path(evdev, path)
    seen: list[str] = []
    for path in sorted(evdev.list_devices()):
        try:
            device = evdev.InputDevice(path)
        except OSError:
            continue
        if device.name == spec:
            return device  # type: ignore[no-any-return]
        seen.append(device.name)
        device.close()
    readable = ", ".join(repr(n) for n in seen) or "none (check permissions)"
    raise ButtonError(f"no input device named {spec!r}; devices this user can read: {readable}")


def _open_path(evdev: ModuleType, path: str) -> EvdevDevice:
    try:
        return evdev.InputDevice(path)  # type: ignore[no-any-return]
    except PermissionError:
        raise ButtonError(
            f"permission denied on {path}: install systemd/99-brb-button.rules or "
            "add this user to the 'input' group (docs/BUTTON.md)"
        ) from None
    except OSError as err:
        raise ButtonError(f"can't open input device {path}: {err}") from None


class KeyboardButton(QueuedSource):
    kind = "keyboard"

    def __init__(
        self,
        *,
        device: str | None,
        key: str = "KEY_F13",
        grab: bool = True,
        opener: Callable[[], EvdevDevice] | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(clock)
        self._key = key.upper()
        self._code = key_code(key)
        self._ev_key = int(load_evdev().ecodes.EV_KEY)
        self._grab = grab
        if opener is None:
            if not device:
                raise ButtonError(
                    "the keyboard button needs a device: --device /dev/input/by-id/... "
                    "or the device's name (button.device in the config)"
                )
            opener = partial(open_input_device, device)
        self._device_spec = device
        self._opener = opener
        self._device: EvdevDevice | None = None

    def describe(self) -> str:
        return f"keyboard {self._device_spec or 'device'} ({self._key})"

    async def open(self) -> None:
        await self.close()
        try:
            device = self._opener()
        except OSError as err:
            raise ButtonError(f"can't open {self.describe()}: {err}") from None
        try:
            self._check_key(device)
            if self._grab:
                device.grab()
        except OSError as err:
            device.close()
            raise ButtonError(
                f"can't grab {self.describe()} for exclusive use ({err}); "
                "is another program holding it?"
            ) from None
        except ButtonError:
            device.close()
            raise
        self._device = device
        self._start_queue()
        self._start_reader(self._read(device))

    def _check_key(self, device: EvdevDevice) -> None:
        keys = device.capabilities().get(self._ev_key, [])
        if self._code in keys:
            return
        names = [_key_name(k) for k in keys[:12]]
        raise ButtonError(
            f"{device.name!r} can't send {self._key}; it sends {', '.join(names) or 'no keys'}. "
            "Set the button to send F13-F24 (docs/BUTTON.md) or pass --key"
        )

    async def _read(self, device: EvdevDevice) -> None:
        try:
            async for event in device.async_read_loop():
                if event.type != self._ev_key or event.code != self._code:
                    continue
                if event.value == KEY_DOWN:
                    self._emit(Signal.DOWN)
                elif event.value == KEY_UP:
                    self._emit(Signal.UP)
                # KEY_REPEAT: the key is still down; the gesture times the hold itself.
        except OSError as err:  # ENODEV when unplugged
            raise ButtonError(f"{self.describe()} went away: {err}") from None

    async def close(self) -> None:
        await self._stop_queue()
        device, self._device = self._device, None
        if device is not None:
            # Closing the file descriptor also ends the grab.
            with contextlib.suppress(OSError):
                device.close()
