"""The button contract, run over every kind through its real adapter code:
a press turns brb on, a long press returns it to auto, bounce is ignored, an
unplugged button recovers by itself. The store is a real SQLite file and the
actions go through brb.control, as `brb press` does."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from brb import control
from brb.adapters.store import Store
from brb.button_listener import ButtonListener, DryRunEffects, ListenerSettings, StoreEffects

FAST = ListenerSettings(
    # 1 s: the hold check below runs at ~0.3 s, so a loaded machine has 0.7 s of slack
    long_press_seconds=1.0,
    # 1 s: the chatter in test_bounce_is_ignored must land inside it even when a
    # loaded machine stalls the loop between edges (0.25 s once was not enough)
    debounce_seconds=1.0,
    backoff_initial_seconds=0.02,
    backoff_max_seconds=0.1,
)


def mode(db: Path) -> str:
    with Store.open(db) as store:
        return store.read_mode(datetime.now(UTC)).mode.value


def events(db: Path, *kinds: str) -> list[Any]:
    with Store.open(db) as store:
        return store.events(kinds=list(kinds))


async def eventually(check: Callable[[], bool], within_s: float = 1.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {within_s} s: {check}")
        await asyncio.sleep(0.01)


class Session:
    """A listener running on one rig, and what it printed."""

    def __init__(self, rig: Any, effects: Any) -> None:
        self.rig = rig
        self.lines: list[str] = []
        self.listener = ButtonListener(rig.source(), effects, settings=FAST, out=self.lines.append)

    def listening_count(self) -> int:
        return sum(line.startswith("listening on") for line in self.lines)

    async def tap(self, held_s: float = 0.05) -> None:
        self.rig.down()
        await asyncio.sleep(held_s)
        self.rig.up()


def run(
    rig: Any, db: Path, scenario: Callable[[Session], Awaitable[None]], effects: Any = None
) -> Session:
    session = Session(rig, effects or StoreEffects(db, source=f"button:{rig.kind}"))

    async def main() -> None:
        task = asyncio.create_task(session.listener.run())
        try:
            await eventually(lambda: session.listening_count() == 1)
            await scenario(session)
        finally:
            task.cancel()
            await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    asyncio.run(main())
    return session


def test_a_press_turns_brb_on(rig: Any, db: Path) -> None:
    async def scenario(s: Session) -> None:
        assert mode(db) == "auto"
        await s.tap()
        await eventually(lambda: mode(db) == "on", within_s=1.0)

    run(rig, db, scenario)
    [pressed] = events(db, "press")
    assert pressed.source == f"button:{rig.kind}"
    assert "physical button" in pressed.reason
    # ... and it is what `brb status --json` reports.
    from brb.cli.main import app

    result = CliRunner().invoke(app, ["status", "--json", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mode"] == "on"


def test_a_long_press_returns_to_auto_while_still_held(rig: Any, db: Path) -> None:
    with Store.open(db) as store:
        control.press(store, now=datetime.now(UTC), source="cli", who="ops")

    async def scenario(s: Session) -> None:
        assert mode(db) == "on"
        rig.down()
        for _ in range(3):
            await asyncio.sleep(0.1)
            rig.still_held()
        assert mode(db) == "on", "released before the hold reached long_press_seconds"
        await eventually(lambda: mode(db) == "auto", within_s=5.0)
        rig.up()  # letting go after the release does nothing more
        await asyncio.sleep(0.1)

    session = run(rig, db, scenario)
    [released] = events(db, "release")
    assert released.source == f"button:{rig.kind}"
    assert events(db, "press_noop", "press") == events(db, "press")  # no press from the hold
    assert len(events(db, "press")) == 1  # the setup's
    assert any(line.startswith("release: mode auto") for line in session.lines)


def test_bounce_is_ignored(rig: Any, db: Path) -> None:
    async def scenario(s: Session) -> None:
        # Switch chatter: a few fast toggles, then the press settles and ends.
        for _ in range(3):
            rig.down()
            await asyncio.sleep(0.003)
            rig.up()
            await asyncio.sleep(0.003)
        rig.down()
        await asyncio.sleep(0.06)
        rig.up()
        await eventually(lambda: mode(db) == "on")
        await asyncio.sleep(FAST.debounce_seconds + 0.1)

    run(rig, db, scenario)
    assert len(events(db, "press")) == 1
    assert events(db, "press_noop", "release") == []


def test_a_press_while_on_changes_nothing_but_is_logged(rig: Any, db: Path) -> None:
    with Store.open(db) as store:
        control.press(store, now=datetime.now(UTC), source="cli", who="ops")

    async def scenario(s: Session) -> None:
        await s.tap()
        await eventually(lambda: any("nothing changed" in line for line in s.lines))

    session = run(rig, db, scenario)
    assert mode(db) == "on"
    [noop] = events(db, "press_noop")
    assert noop.source == f"button:{rig.kind}"
    assert [line for line in session.lines if line.startswith("press")] == [
        "press: mode on, already so: nothing changed (logged)"
    ]


def test_unplug_and_replug_recovers(rig: Any, db: Path) -> None:
    async def scenario(s: Session) -> None:
        rig.unplug()
        await eventually(lambda: len(events(db, "button_unplugged")) == 1)
        await asyncio.sleep(0.3)  # several reconnect attempts fail meanwhile
        assert len(events(db, "button_unplugged")) == 1, "one event per outage"
        assert events(db, "button_replugged") == []
        rig.replug()
        await eventually(lambda: s.listening_count() == 2)
        await s.tap()
        await eventually(lambda: mode(db) == "on")

    run(rig, db, scenario)
    [unplugged] = events(db, "button_unplugged")
    [replugged] = events(db, "button_replugged")
    assert unplugged.source == replugged.source == f"button:{rig.kind}"
    assert unplugged.at <= replugged.at
    assert replugged.detail["attempts"] >= 2
    assert replugged.detail["outage_seconds"] >= 0.3


def test_a_button_missing_at_start_is_an_outage_until_it_appears(rig: Any, db: Path) -> None:
    rig.unplug()
    session = Session(rig, StoreEffects(db, source=f"button:{rig.kind}"))

    async def main() -> None:
        task = asyncio.create_task(session.listener.run())
        try:
            await eventually(lambda: len(events(db, "button_unplugged")) == 1)
            assert session.listening_count() == 0
            rig.replug()
            await eventually(lambda: session.listening_count() == 1)
            await session.tap()
            await eventually(lambda: mode(db) == "on")
        finally:
            task.cancel()
            await asyncio.wait({task})

    asyncio.run(main())
    assert len(events(db, "button_replugged")) == 1


def test_dry_run_prints_and_changes_nothing(rig: Any, db: Path) -> None:
    printed: list[str] = []
    effects = DryRunEffects(printed.append, source=f"button:{rig.kind}")

    async def scenario(s: Session) -> None:
        await s.tap()
        await eventually(lambda: any("would press" in line for line in s.lines))

    run(rig, db, scenario, effects=effects)
    assert mode(db) == "auto"
    assert events(db, "press", "press_noop") == []


def test_a_real_evdev_device_through_uinput(db: Path) -> None:
    """The keyboard kind against the kernel: a virtual key device made with UInput,
    found by name with the default opener, grabbed, unplugged and replugged."""
    if not os.access("/dev/uinput", os.W_OK):
        pytest.skip(
            "needs a writable /dev/uinput to create a virtual keyboard "
            "(modprobe uinput, and run as root or a member of the input group)"
        )
    from evdev import UInput, ecodes

    from brb.adapters.buttons.keyboard import KeyboardButton

    name = f"brb test button {os.getpid()}"
    capabilities = {ecodes.EV_KEY: [ecodes.KEY_F13]}
    devices = [UInput(capabilities, name=name)]

    def key(value: int) -> None:
        devices[-1].write(ecodes.EV_KEY, ecodes.KEY_F13, value)
        devices[-1].syn()

    listener_lines: list[str] = []
    listener = ButtonListener(
        KeyboardButton(device=name, key="KEY_F13"),
        StoreEffects(db, source="button:keyboard"),
        settings=FAST,
        out=listener_lines.append,
    )

    def listening() -> int:
        return sum(line.startswith("listening on") for line in listener_lines)

    async def main() -> None:
        task = asyncio.create_task(listener.run())
        try:
            await eventually(lambda: listening() == 1, within_s=5.0)
            key(1)
            await asyncio.sleep(0.05)
            key(0)
            await eventually(lambda: mode(db) == "on")
            devices[-1].close()  # unplug
            await eventually(lambda: len(events(db, "button_unplugged")) == 1)
            devices.append(UInput(capabilities, name=name))  # replug
            await eventually(lambda: listening() == 2, within_s=5.0)
            key(1)
            await eventually(lambda: mode(db) == "auto")  # a long press, still held
            key(0)
        finally:
            task.cancel()
            await asyncio.wait({task})
            devices[-1].close()

    asyncio.run(main())
    assert len(events(db, "button_replugged")) == 1
