"""``brb serve``: run the proxy daemon in the foreground.

Imports the HTTP stack and provider SDKs only when the command runs.
Logs go to stderr; under systemd (``$JOURNAL_STREAM`` set) without
timestamps, since journald adds its own. Runs on uvloop when it is installed
(``pip install 'brb[fast]'``), else on asyncio's own loop; ``--loop`` chooses.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import typer

from brb.cli.context import ConfigOpt, DbOpt, load_config
from brb.errors import UsageError

LOOPS = ("auto", "uvloop", "asyncio")
Runner = Callable[[Coroutine[Any, Any, None]], None]


def event_loop(choice: str) -> tuple[str, Runner]:
    """The event loop to run the daemon on, by name, and its runner: uvloop
    when asked for or (``auto``) when installed, else asyncio's own."""
    if choice not in LOOPS:
        raise UsageError(f"--loop must be auto, uvloop or asyncio, not {choice!r}")
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise UsageError(
                    "--loop uvloop: uvloop is not installed (pip install 'brb[fast]')"
                ) from None
        else:
            from importlib.metadata import version

            return f"uvloop {version('uvloop')}", uvloop.run
    import asyncio

    return "asyncio", asyncio.run


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
        loop: Annotated[
            str,
            typer.Option(
                "--loop", help="auto (uvloop when installed) | uvloop | asyncio: the event loop"
            ),
        ] = "auto",
    ) -> None:
        """Run the proxy in front of Ollama (Ctrl-C or SIGTERM drains and stops)."""
        from brb.config import BrbConfig
        from brb.daemon.app import serve as run_daemon
        from brb.daemon.app import settle_heap

        loop_name, run = event_loop(loop)
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
        logging.getLogger("brb.serve").info("event loop: %s", loop_name)
        run(run_daemon(cfg, db, ready=settle_heap))
