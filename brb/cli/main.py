"""The ``brb`` command: the Typer app and the one place errors become exit codes.

Exit codes (documented in the README): 0 ok; 1 runtime error; 2 usage or
config error; ``status --check`` adds 3 (diverting) and 4 (budget exhausted).
"""

from __future__ import annotations

import sys

import typer

from brb.cli import config_cmd, spend, state
from brb.errors import BrbError

app = typer.Typer(
    name="brb",
    help="The Big Red Button: divert overflow from a local Ollama to a cloud LLM under a "
    "hard daily budget.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

state.register(app)
spend.register(app)
app.add_typer(config_cmd.app, name="config")


def _register_optional() -> None:
    """Commands whose modules arrive with later work; each registers itself."""
    import importlib
    import importlib.util

    for name in ("serve", "doctor", "incidents", "replay", "drill", "button"):
        if importlib.util.find_spec(f"brb.cli.{name}") is None:
            continue
        module = importlib.import_module(f"brb.cli.{name}")
        if name == "button":
            app.add_typer(module.app, name="button", help="Listen to a physical big red button.")
        else:
            module.register(app)


_register_optional()


def run() -> None:
    try:
        app()
    except BrbError as exc:
        print(f"brb: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
