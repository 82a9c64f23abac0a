"""``brb button listen``: run the physical button listener in the foreground.

Owns turning options and the config's ``button:`` section into a button
source and a :class:`~brb.button_listener.ButtonListener`, and stopping it
cleanly (exit 0, no traceback) on SIGINT or SIGTERM -- the way systemd stops
``brb-button.service``. Must not import a button library other than the
chosen kind's, nor the HTTP stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from brb.cli.context import ConfigOpt, DbOpt, load_config
from brb.errors import BrbError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


class Kind(StrEnum):
    KEYBOARD = "keyboard"
    HID = "hid"
    GPIO = "gpio"


@app.callback()
def button() -> None:
    """Listen to a physical big red button (USB keyboard-type, USB HID, GPIO)."""


@app.command()
def listen(
    kind: Annotated[
        Kind | None, typer.Option("--kind", help="Button kind (default: config button.kind)")
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            help="keyboard: /dev/input/by-id/... path or device name; "
            "hid: /dev/hidrawN (default: the first 1d34:000d)",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="keyboard: evdev key name (default KEY_F13)")
    ] = None,
    pin: Annotated[
        int | None, typer.Option("--pin", help="gpio: BCM pin number (default 17)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what each press would do; change nothing")
    ] = False,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Turn button presses into `brb press` (short) and `brb release` (held)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Until the loop's own handlers are in place, SIGTERM behaves like Ctrl-C.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        _listen(kind, device, key, pin, dry_run=dry_run, db=db, config=config)
    except KeyboardInterrupt:
        pass
    except BrbError as err:
        typer.echo(f"brb: {err}", err=True)
        raise typer.Exit(err.exit_code) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    typer.echo("brb button: stopped")


def _listen(
    kind: Kind | None,
    device: str | None,
    key: str | None,
    pin: int | None,
    *,
    dry_run: bool,
    db: Path | None,
    config: Path | None,
) -> None:
    from brb.adapters.buttons import build_source
    from brb.button_listener import ButtonListener, DryRunEffects, ListenerSettings, StoreEffects

    cfg = load_config(config)
    b = cfg.button
    chosen = kind.value if kind is not None else b.kind
    source = build_source(
        chosen,
        device=device or b.device,
        key=key or b.key,
        pin=b.pin if pin is None else pin,
        pull_up=b.pull_up,
        bounce_time_s=b.bounce_time_seconds,
        hold_time_s=b.long_press_seconds,
        poll_interval_s=b.poll_interval_seconds,
    )
    tag = f"button:{chosen}"
    if dry_run:
        effects: DryRunEffects | StoreEffects = DryRunEffects(typer.echo, source=tag)
    else:
        from brb.adapters.store import Store, locate

        db_path = locate(db, cfg)
        Store.open(db_path).close()  # an unusable database fails now, not at the first press
        effects = StoreEffects(db_path, source=tag)
    settings = ListenerSettings(
        long_press_seconds=b.long_press_seconds, debounce_seconds=b.debounce_seconds
    )
    listener = ButtonListener(source, effects, settings=settings, out=typer.echo)
    if dry_run:
        typer.echo(f"brb button: dry run on {source.describe()}: presses change nothing")
    asyncio.run(_run_until_signal(listener.run()))


async def _run_until_signal(work: Coroutine[Any, Any, None]) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(work)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
