"""``brb drill``: see the button work, in-process, against simulated backends."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def drill(
        db: Annotated[
            Path | None,
            typer.Option(
                "--db",
                help="Keep the drill's database here (default: a temporary one, deleted after)",
            ),
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Machine-readable result")] = False,
    ) -> None:
        """A fire drill: burst, button on, overflow diverted, drain, off (no key, no config,
        loopback only, under a minute; exit 0 when every check passes)."""
        from brb.drill import main

        raise typer.Exit(main(db, as_json=json_out))
