"""``brb status``, ``brb press``, ``brb release``: the button from a shell.

Declares their options for the Typer app; what they do is
:mod:`brb.cli.light`, which the console script also runs without Typer
(:mod:`brb.cli.launch`). Work on the database directly, with or without the
daemon running (it sees a change within a second). Must not import aiohttp,
anthropic or ollama.
"""

from __future__ import annotations

from typing import Annotated

import typer

from brb.cli import light
from brb.cli.context import ConfigOpt, DbOpt, JsonOpt

ForOpt = Annotated[
    str | None, typer.Option("--for", help="Only for this long: 30s, 10m, 2h, 1h30m")
]
ReasonOpt = Annotated[
    str | None, typer.Option("--reason", "-r", help="Why (goes in the event log)")
]


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        json_out: JsonOpt = False,
        check: Annotated[
            bool,
            typer.Option(
                "--check", help="Exit 0 nothing diverted, 3 diverting, 4 budget exhausted"
            ),
        ] = False,
        watch: Annotated[
            bool, typer.Option("--watch", help="Live view, refreshed every second")
        ] = False,
        config: ConfigOpt = None,
        db: DbOpt = None,
    ) -> None:
        """What brb is doing now: mode, breaker, spend, queue, daemon."""
        code = light.status(json_out=json_out, check=check, watch=watch, config=config, db=db)
        if check:
            raise typer.Exit(code)

    @app.command()
    def press(
        for_: ForOpt = None,
        reason: ReasonOpt = None,
        json_out: JsonOpt = False,
        config: ConfigOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Press the button: divert every eligible request to the cloud."""
        light.press(for_=for_, reason=reason, json_out=json_out, config=config, db=db)

    @app.command()
    def release(
        hold: Annotated[
            bool, typer.Option("--hold", help="Hold off: divert nothing, even if the breaker would")
        ] = False,
        for_: ForOpt = None,
        reason: ReasonOpt = None,
        json_out: JsonOpt = False,
        config: ConfigOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Release the button: back to auto (or, with --hold, divert nothing)."""
        light.release(hold=hold, for_=for_, reason=reason, json_out=json_out, config=config, db=db)
