"""``brb serve``: run the proxy daemon in the foreground.

Imports the HTTP stack and provider SDKs only when the command runs.
Logs go to stderr; under systemd (``$JOURNAL_STREAM`` set) without
timestamps, since journald adds its own.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from brb.cli.context import ConfigOpt, DbOpt, load_config


def setup_logging(level: str) -> None:
    under_systemd = bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))
    fmt = (
        "%(levelname)s %(name)s: %(message)s"
        if under_systemd
        else ("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=level.upper(), format=fmt, stream=sys.stderr)
    for noisy in ("aiohttp.access", "httpx", "httpx2", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        config: ConfigOpt = None,
        db: DbOpt = None,
        listen: Annotated[
            str | None, typer.Option("--listen", help="host:port (overrides config listen)")
        ] = None,
        upstream: Annotated[
            str | None, typer.Option("--upstream", help="Ollama URL (overrides config upstream)")
        ] = None,
        log_level: Annotated[
            str, typer.Option("--log-level", help="debug|info|warning|error")
        ] = "info",
    ) -> None:
        """Run the proxy in front of Ollama (Ctrl-C or SIGTERM drains and stops)."""
        import asyncio

        from brb.config import BrbConfig
        from brb.daemon.app import serve as run_daemon

        setup_logging(log_level)
        cfg = load_config(config)
        overrides = {k: v for k, v in (("listen", listen), ("upstream", upstream)) if v}
        if overrides:
            from brb.config import parse

            cfg = parse(
                {
                    "big_red_button": {
                        **cfg.model_dump(mode="json", exclude_unset=False),
                        **overrides,
                    }
                }
            )
        assert isinstance(cfg, BrbConfig)
        asyncio.run(run_daemon(cfg, db))
