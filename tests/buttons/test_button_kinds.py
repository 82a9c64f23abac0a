"""What each button kind does on its own: the edges it yields, what it ignores,
and the errors it gives when the device or its library is not there."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from button_rigs import DREAM_CHEEKY_REQUEST, GpioRig, HidRig, KeyboardRig

from brb.adapters.buttons import build_source
from brb.adapters.buttons.gpio import GpioButton
from brb.adapters.buttons.hid import HidButton, is_pressed
from brb.adapters.buttons.keyboard import KeyboardButton, open_input_device
from brb.adapters.buttons.source import ButtonSource
from brb.core.gesture import Signal
from brb.errors import ButtonError

REPO = Path(__file__).resolve().parents[2]


async def edges(source: ButtonSource, *, quiet_s: float = 0.15) -> list[Signal]:
    """Every edge until the source has been quiet for ``quiet_s``."""
    out: list[Signal] = []
    while (edge := await source.next_edge(quiet_s)) is not None:
        out.append(edge.signal)
    return out


# --- keyboard -------------------------------------------------------------------------


def test_keyboard_grabs_the_device_and_reads_only_its_key() -> None:
    rig = KeyboardRig()
    source = rig.source()

    async def main() -> list[Signal]:
        await source.open()
        assert rig.devices[-1].is_grabbed, "the key must never reach a console"
        k = rig.ecodes
        rig.send(k.KEY_A, 1)  # another key on the same device
        rig.send(k.KEY_A, 0)
        rig.down()
        rig.still_held()  # auto-repeat (value 2): not a new press
        rig.still_held()
        rig.up()
        got = await edges(source)
        await source.close()
        return got

    assert asyncio.run(main()) == [Signal.DOWN, Signal.UP]
    assert rig.devices[-1].is_closed


def test_keyboard_edges_carry_the_monotonic_time_of_arrival() -> None:
    rig = KeyboardRig()
    source = KeyboardButton(device=rig.by_id, opener=rig.connect, clock=iter([5.0, 7.5]).__next__)

    async def main() -> list[tuple[Signal, float]]:
        await source.open()
        rig.down()
        rig.up()
        got = [await source.next_edge(1.0), await source.next_edge(1.0)]
        await source.close()
        return [(e.signal, e.at_s) for e in got if e is not None]

    assert asyncio.run(main()) == [(Signal.DOWN, 5.0), (Signal.UP, 7.5)]


def test_keyboard_refuses_a_device_that_cannot_send_the_key() -> None:
    rig = KeyboardRig()
    rig.keys = [rig.ecodes.KEY_ENTER]  # a pedal still set to Enter
    source = rig.source()
    with pytest.raises(ButtonError, match=r"can't send KEY_F13; it sends KEY_ENTER"):
        asyncio.run(source.open())
    assert rig.devices[-1].is_closed


def test_keyboard_refuses_an_unknown_key_and_a_missing_device() -> None:
    with pytest.raises(ButtonError, match="unknown key 'KEY_F99'"):
        KeyboardButton(device="/dev/input/by-id/x", key="KEY_F99")
    with pytest.raises(ButtonError, match="unknown key 'EV_KEY'"):
        KeyboardButton(device="/dev/input/by-id/x", key="EV_KEY")
    with pytest.raises(ButtonError, match="needs a device"):
        KeyboardButton(device=None)


def test_keyboard_by_id_path_that_vanished_is_a_button_error(tmp_path: Path) -> None:
    link = tmp_path / "usb-Big_Red_Button-event-kbd"
    link.symlink_to(tmp_path / "event99")  # dangling, as after an unplug
    with pytest.raises(ButtonError, match="unplugged"):
        open_input_device(str(link))
    with pytest.raises(ButtonError, match="no input device named 'No Such Pedal'"):
        open_input_device("No Such Pedal")


# --- hid -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ([0x15, 0, 0, 0, 0, 0, 0, 3], False),  # lid closed
        ([0x17, 0, 0, 0, 0, 0, 0, 3], False),  # lid open
        ([0x16, 0, 0, 0, 0, 0, 0, 3], True),  # lid open and pressed
        ([0x42, 0, 0, 0, 0, 0, 0, 3], None),  # not a status we know
        ([], None),
    ],
)
def test_hid_status_bytes(report: list[int], expected: bool | None) -> None:
    assert is_pressed(report) is expected


def test_hid_sends_the_status_request_and_counts_presses_only_with_the_lid_open() -> None:
    rig = HidRig()
    rig.is_lid_open = False
    source = rig.source()

    async def main() -> tuple[list[Signal], list[Signal]]:
        await source.open()
        rig.down()  # lid closed: the button can't be pressed, the device says 0x15
        await rig.polled()
        rig.up()
        await rig.polled()
        closed = await edges(source)
        rig.is_lid_open = True
        await rig.polled()
        rig.down()
        await rig.polled()
        rig.up()
        await rig.polled()
        opened = await edges(source)
        await source.close()
        return closed, opened

    closed, opened = asyncio.run(main())
    assert closed == []
    assert opened == [Signal.DOWN, Signal.UP]
    assert set(rig.devices[-1].writes) == {DREAM_CHEEKY_REQUEST}
    assert rig.devices[-1].is_closed


def test_hid_button_already_down_at_connect_is_not_a_press() -> None:
    rig = HidRig()
    rig.down()
    source = rig.source()

    async def main() -> list[Signal]:
        await source.open()
        await rig.polled()
        rig.up()
        await rig.polled()
        rig.down()
        await rig.polled()
        got = await edges(source)
        await source.close()
        return got

    assert asyncio.run(main()) == [Signal.UP, Signal.DOWN]


def test_hid_device_that_stops_answering_is_a_button_error() -> None:
    class Mute:
        def write(self, data: bytes) -> int:
            return len(data)

        def read(self, max_length: int, timeout_ms: int = 0) -> list[int]:
            return []

        def close(self) -> None:
            pass

    source = HidButton(poll_interval_s=0.001, read_timeout_ms=1, opener=Mute)

    async def main() -> None:
        await source.open()
        try:
            await source.next_edge(2.0)
        finally:
            await source.close()

    with pytest.raises(ButtonError, match="stopped answering"):
        asyncio.run(main())


def test_hid_without_hidapi_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hid", None)  # what `import hid` sees without it
    with pytest.raises(ButtonError, match="libhidapi"):
        HidButton()


def test_hid_with_no_button_plugged_in_is_a_button_error() -> None:
    pytest.importorskip("hid")
    source = HidButton(path="/dev/hidraw-brb-test-none")
    with pytest.raises(ButtonError, match=r"no Dream Cheeky button \(USB 1d34:000d\)"):
        asyncio.run(source.open())


# --- gpio ----------------------------------------------------------------------------


def test_gpio_callbacks_from_other_threads_wake_the_loop() -> None:
    rig = GpioRig()
    # No periodic pin check here: nothing else may wake the loop during the wait.
    source = GpioButton(pin=rig.pin_number, check_interval_s=60, pin_factory=rig.factory)
    pin = rig.factory.pin(rig.pin_number)

    async def main() -> tuple[list[Signal], float]:
        await source.open()
        loop = asyncio.get_running_loop()
        waiting = asyncio.create_task(source.next_edge(5.0))
        await asyncio.sleep(0.01)  # the loop now sleeps until something wakes it
        started = loop.time()

        # gpiozero calls back on the thread that saw the change, not the loop's.
        def press_later() -> None:
            time.sleep(0.2)  # long enough for the loop to be asleep in select()
            pin.drive_low()
            pin.drive_high()

        threading.Thread(target=press_later).start()
        first = await waiting
        waited = loop.time() - started
        second = await source.next_edge(1.0)
        await source.close()
        return [e.signal for e in (first, second) if e is not None], waited

    got, waited = asyncio.run(main())
    assert got == [Signal.DOWN, Signal.UP]
    # A liveness bound, not a speed measurement: an edge put on the queue from a
    # foreign thread without call_soon_threadsafe would sit there until the 5 s timeout.
    assert waited < 2.5


def test_gpio_pin_in_use_is_a_button_error_until_it_is_free() -> None:
    from gpiozero import Button

    rig = GpioRig()
    squatter = Button(rig.pin_number, pin_factory=rig.factory)
    source = rig.source()

    async def main() -> None:
        with pytest.raises(ButtonError, match="can't claim gpio pin 17"):
            await source.open()
        squatter.close()
        await source.open()
        rig.down()
        assert await source.next_edge(1.0) is not None
        rig.up()  # else closing waits out gpiozero's hold_time (its hold thread)
        await source.close()

    asyncio.run(main())


def test_gpio_without_gpiozero_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gpiozero", None)
    with pytest.raises(ButtonError, match=r"pip install 'brb\[button\]'"):
        GpioButton()


# --- choosing a kind -------------------------------------------------------------------


def test_build_source_imports_only_the_chosen_library() -> None:
    code = (
        "import sys; from brb.adapters.buttons import build_source; "
        "s = build_source('gpio', pin=22); print(s.describe()); "
        "print(sorted(m for m in ('evdev', 'hid', 'gpiozero') if m in sys.modules))"
    )
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["gpio pin 22 (pull-up)", "['gpiozero']"]


def test_build_source_refuses_an_unknown_kind() -> None:
    with pytest.raises(ButtonError, match="unknown button kind 'usb'"):
        build_source("usb")
