"""``brb spend``: what the cloud cost, by day, model, provider or session.

The total is the sum of the rows to the cent (both come from the same
integer micro-dollars). Declares the options for the Typer app; what it does is
:mod:`brb.cli.light`. Must not import aiohttp, anthropic or ollama.
"""

from __future__ import annotations

from typing import Annotated

import typer

from brb.cli import light
from brb.cli.context import ConfigOpt, DbOpt, JsonOpt


def register(app: typer.Typer) -> None:
    @app.command()
    def spend(
        days: Annotated[
            int | None,
            typer.Option(
                "--days", min=1, help="The last N budget days, today included (default 7)"
            ),
        ] = None,
        since: Annotated[
            str | None, typer.Option("--since", help="From this day, YYYY-MM-DD (budget timezone)")
        ] = None,
        by: Annotated[str, typer.Option("--by", help="day | model | provider | session")] = "day",
        json_out: JsonOpt = False,
        csv_out: Annotated[bool, typer.Option("--csv", help="CSV rows with a header")] = False,
        config: ConfigOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Cloud spend from the ledger (settled requests)."""
        light.spend(
            days=days,
            since=since,
            by=by,
            json_out=json_out,
            csv_out=csv_out,
            config=config,
            db=db,
        )
