"""The Dream Cheeky big red button (USB 1d34:000d) through hidapi.

Owns the button's little protocol: every poll, write the status request
``00 00 00 00 00 00 00 02`` (after hidapi's leading report id 0) and read 8
bytes, whose first byte is 0x15 with the lid closed, 0x17 with the lid open
and 0x16 with the lid open and the button pressed -- so a press only counts
with the lid open. Polling runs on one thread of its own, because hidapi
blocks; edges cross to the event loop through :class:`QueuedSource`. Must not
interpret presses (:mod:`brb.core.gesture`) nor import hidapi before a HID
button is asked for (the ``hid`` module needs the system library
libhidapi).

The device is injectable (``opener``): anything with hidapi's
``write(bytes) -> int``, ``read(max_length, timeout_ms) -> list[int]`` and
``close()`` runs the same code as a real ``hid.device``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from types import ModuleType
from typing import Protocol

from brb.adapters.buttons.source import Clock, QueuedSource
from brb.core.gesture import Signal
from brb.errors import ButtonError

log = logging.getLogger(__name__)

VENDOR_ID = 0x1D34
PRODUCT_ID = 0x000D
REPORT_ID = b"\x00"
STATUS_REQUEST = REPORT_ID + bytes([0, 0, 0, 0, 0, 0, 0, 2])
REPORT_LENGTH = 8
LID_CLOSED = 0x15
LID_OPEN = 0x17
LID_OPEN_PRESSED = 0x16
SILENT_POLLS_MAX = 10  # this many empty answers in a row: the button is gone


class HidDevice(Protocol):
    def write(self, data: bytes) -> int: ...

    def read(self, max_length: int, timeout_ms: int = 0) -> list[int]: ...

    def close(self) -> None: ...


def is_pressed(report: Sequence[int]) -> bool | None:
    """Pressed (lid open and button down) or not; ``None`` for a report we don't know."""
    if not report:
        return None
    status = report[0]
    if status == LID_OPEN_PRESSED:
        return True
    if status in (LID_OPEN, LID_CLOSED):
        return False
    return None


def load_hidapi() -> ModuleType:
    try:
        import hid
    except (ImportError, OSError) as err:
        raise ButtonError(
            "the hid button needs hidapi and its system library: "
            "apt install libhidapi-hidraw0 (or your distribution's hidapi), then "
            f"pip install 'brb[button]' ({err})"
        ) from None
    if not hasattr(hid, "device"):
        raise ButtonError(
            "the installed 'hid' module is not hidapi's: pip uninstall hid; pip install hidapi"
        )
    module: ModuleType = hid
    return module


def open_dream_cheeky(path: str | None) -> HidDevice:
    """Open the first Dream Cheeky button, or the one at ``path`` (``/dev/hidrawN``)."""
    hid = load_hidapi()
    device = hid.device()
    try:
        if path:
            device.open_path(path.encode())
        else:
            device.open(VENDOR_ID, PRODUCT_ID)
    except OSError as err:
        where = f" at {path}" if path else ""
        raise ButtonError(
            f"no Dream Cheeky button (USB 1d34:000d){where} could be opened ({err}): is it "
            "plugged in, and may this user use it? (systemd/99-brb-button.rules)"
        ) from None
    return device  # type: ignore[no-any-return]


class HidButton(QueuedSource):
    kind = "hid"

    def __init__(
        self,
        *,
        path: str | None = None,
        poll_interval_s: float = 0.07,
        read_timeout_ms: int = 200,
        opener: Callable[[], HidDevice] | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(clock)
        if opener is None:
            load_hidapi()  # fail now, with the install hint, not on every retry
            opener = partial(open_dream_cheeky, path)
        self._path = path
        self._opener = opener
        self._poll_interval_s = poll_interval_s
        self._read_timeout_ms = read_timeout_ms
        self._device: HidDevice | None = None
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def describe(self) -> str:
        return f"hid Dream Cheeky {self._path or '1d34:000d'}"

    async def open(self) -> None:
        await self.close()
        try:
            device = await asyncio.to_thread(self._opener)
        except OSError as err:
            raise ButtonError(f"can't open {self.describe()}: {err}") from None
        try:
            # One poll before declaring it open: a replugged button must answer,
            # and a button already held down at start must not count as a press.
            first = await asyncio.to_thread(self._poll, device)
        except ButtonError:
            with contextlib.suppress(OSError):
                device.close()
            raise
        self._device = device
        self._start_queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._poll_loop,
            args=(device, self._stop, bool(is_pressed(first))),
            name="brb-hid-button",
            daemon=True,
        )
        self._thread.start()

    def _poll(self, device: HidDevice) -> list[int]:
        try:
            if device.write(STATUS_REQUEST) < 0:
                raise ButtonError(f"{self.describe()} refused the status request (unplugged?)")
            return list(device.read(REPORT_LENGTH, self._read_timeout_ms))
        except (OSError, ValueError) as err:
            raise ButtonError(f"{self.describe()} went away: {err}") from None

    def _poll_loop(self, device: HidDevice, stop: threading.Event, pressed: bool) -> None:
        silent = 0
        while not stop.wait(self._poll_interval_s):
            try:
                report = self._poll(device)
            except ButtonError as err:
                self._fail_threadsafe(err)
                return
            if not report:
                silent += 1
                if silent >= SILENT_POLLS_MAX:
                    self._fail_threadsafe(ButtonError(f"{self.describe()} stopped answering"))
                    return
                continue
            silent = 0
            now = is_pressed(report)
            if now is None:
                log.debug("%s: unknown status byte 0x%02x", self.describe(), report[0])
            elif now != pressed:
                pressed = now
                self._emit_threadsafe(Signal.DOWN if now else Signal.UP)

    async def close(self) -> None:
        if self._stop is not None:
            self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            # Wait for the poller to leave hidapi before closing the handle under it.
            await asyncio.to_thread(thread.join)
        self._stop = None
        await self._stop_queue()
        device, self._device = self._device, None
        if device is not None:
            with contextlib.suppress(OSError):
                device.close()
