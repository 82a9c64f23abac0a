"""The ``brb`` command: the Typer app and the one place errors become exit codes.

Exit codes (documented in the README): 0 ok; 1 runtime error; 2 usage or
config error; ``status --check`` adds 3 (diverting) and 4 (budget exhausted).
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING

import typer
import typer.main
from typer.core import TyperGroup

from brb.cli import config_cmd, spend, state
from brb.errors import BrbError

if TYPE_CHECKING:
    # typer (0.2x) vendors click as typer._click and no longer imports click itself.
    from typer._click import Command, Context

# Commands imported only when run (or listed by --help): some import asyncio,
# aiohttp or urllib at module level, which `brb status` must not pay for.
_OPTIONAL = ("serve", "doctor", "incidents", "replay", "drill", "button", "estimate")


class _BrbGroup(TyperGroup):
    """Turns a BrbError into its message and exit code inside the app itself,
    so ``app()`` and Typer's test runner behave exactly like the console script;
    and loads the optional commands on first use."""

    def invoke(self, ctx: Context) -> object:
        try:
            return super().invoke(ctx)
        except BrbError as exc:
            typer.echo(f"brb: {exc}", err=True)
            ctx.exit(exc.exit_code)

    def list_commands(self, ctx: Context) -> list[str]:
        names = super().list_commands(ctx)
        return names + [n for n in _OPTIONAL if n not in names]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        return super().get_command(ctx, cmd_name) or _load_optional(cmd_name)


app = typer.Typer(
    cls=_BrbGroup,
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


@functools.cache
def _load_optional(name: str) -> Command | None:
    """Import ``brb.cli.<name>`` and build its command; each module registers itself."""
    if name not in _OPTIONAL:
        return None
    import importlib

    module = importlib.import_module(f"brb.cli.{name}")
    holder = typer.Typer()
    if name == "button":
        holder.add_typer(module.app, name="button", help="Listen to a physical big red button.")
    else:
        module.register(holder)
    return typer.main.get_group(holder).commands.get(name)


def run() -> None:
    try:
        app()
    except BrbError as exc:
        print(f"brb: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
