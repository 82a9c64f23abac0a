"""``brb spend``: what the cloud cost, by day, model, provider or session.

The total is the sum of the rows to the cent (both come from the same
integer micro-dollars). Must not import aiohttp, anthropic or ollama.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal, cast

import typer

from brb.cli.context import ConfigOpt, DbOpt, JsonOpt, load_light, now, open_store
from brb.errors import UsageError

if TYPE_CHECKING:
    from brb.adapters.ledger import GroupBy

By = Literal["day", "model", "provider", "session"]


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
        from brb.core.budget import budget_day
        from brb.status import money

        if by not in ("day", "model", "provider", "session"):
            raise UsageError(f"--by must be day, model, provider or session, not {by!r}")
        if days is not None and since is not None:
            raise UsageError("give --days or --since, not both")
        if json_out and csv_out:
            raise UsageError("give --json or --csv, not both")
        cfg = load_light(config, quiet=json_out or csv_out)
        today = budget_day(now(), cfg.tz)
        if since is not None:
            try:
                first = date.fromisoformat(since)
            except ValueError:
                raise UsageError(f"--since: {since!r} is not a date like 2026-11-25") from None
        else:
            first = today - timedelta(days=(days or 7) - 1)
        with open_store(db, cfg) as store:
            report = store.ledger.spend(since_day=first, until_day=today, by=cast("GroupBy", by))

        if json_out:
            out = {
                "since": first.isoformat(),
                "until": today.isoformat(),
                "by": by,
                "total_usd": money(report["total_usd"]),
                "requests": report["requests"],
                "rows": [{**r, "cost_usd": money(r["cost_usd"])} for r in report["rows"]],
            }
            print(json.dumps(out, indent=2))
            return
        if csv_out:
            w = csv.writer(sys.stdout)
            w.writerow([by, "requests", "cost_usd", "input_tokens", "output_tokens"])
            for r in report["rows"]:
                w.writerow(
                    [
                        r[by],
                        r["requests"],
                        f"{r['cost_usd']:.6f}",
                        r["input_tokens"],
                        r["output_tokens"],
                    ]
                )
            return
        print(f"cloud spend {first} .. {today} ({cfg.timezone}), by {by}")
        width = max([len(str(r[by])) for r in report["rows"]] + [len(by), 5])
        print(f"  {by:<{width}}  {'requests':>8}  {'cost':>12}")
        for r in report["rows"]:
            print(f"  {str(r[by]):<{width}}  {r['requests']:>8}  {_cents(r['cost_usd']):>12}")
        print(f"  {'total':<{width}}  {report['requests']:>8}  {_cents(report['total_usd']):>12}")


def _cents(d: Decimal) -> str:
    return f"${d:.2f}"
