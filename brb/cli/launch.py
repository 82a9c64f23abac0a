"""The ``brb`` console script: the light commands without Typer, the rest with it.

``brb status|press|release|spend`` are run in loops by shell scripts and the
button; building the Typer app (and the pydantic coercion Typer does for
every option) costs more than the command itself. So a plain invocation of
one of them -- known options, each at most once, ``--opt value``,
``--opt=value`` or ``-c value`` -- is parsed here and run directly
(:mod:`brb.cli.light`). Anything else (``--help``, a typo, an unusual
spelling, a bad value) goes to the Typer app (:mod:`brb.cli.main`), which
parses it and says what is wrong exactly as before. Owns only that split
and the table of options it accepts (tests/cli/test_launch.py checks the
table against the Typer declarations); the errors-to-exit-codes mapping is
the same as :func:`brb.cli.main.run`'s.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

Kind = Literal["flag", "text", "path", "count"]

_SHARED: dict[str, tuple[str, Kind]] = {
    "--config": ("config", "path"),
    "-c": ("config", "path"),
    "--db": ("db", "path"),
    "--json": ("json_out", "flag"),
}
_FOR_REASON: dict[str, tuple[str, Kind]] = {
    "--for": ("for_", "text"),
    "--reason": ("reason", "text"),
    "-r": ("reason", "text"),
}
# Every option the fast path accepts, per command: spelling -> (parameter, kind).
OPTIONS: dict[str, dict[str, tuple[str, Kind]]] = {
    "status": {"--check": ("check", "flag"), "--watch": ("watch", "flag"), **_SHARED},
    "press": {**_FOR_REASON, **_SHARED},
    "release": {"--hold": ("hold", "flag"), **_FOR_REASON, **_SHARED},
    "spend": {
        "--days": ("days", "count"),
        "--since": ("since", "text"),
        "--by": ("by", "text"),
        "--csv": ("csv_out", "flag"),
        **_SHARED,
    },
}


def parse(argv: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    """The command and its parameters, or None when Typer should parse ``argv``."""
    if not argv or argv[0] not in OPTIONS:
        return None
    options = OPTIONS[argv[0]]
    params: dict[str, Any] = {}
    rest = iter(argv[1:])
    for arg in rest:
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        spec = options.get(name)
        if spec is None or spec[0] in params:
            return None
        param, kind = spec
        if kind == "flag":
            if eq:
                return None
            params[param] = True
            continue
        value = inline if eq else next(rest, None)
        if not value or value.startswith("-"):
            return None
        if kind == "count":
            if not (value.isascii() and value.isdigit()) or int(value) < 1:
                return None
            params[param] = int(value)
        else:
            params[param] = Path(value) if kind == "path" else value
    return argv[0], params


def _command(name: str) -> Callable[..., int]:
    from brb.cli import light

    command: Callable[..., int] = getattr(light, name)
    return command


def run() -> None:
    parsed = parse(sys.argv[1:])
    if parsed is None:
        from brb.cli.main import run as run_app

        run_app()
        return
    from brb.errors import BrbError

    name, params = parsed
    try:
        code = _command(name)(**params)
        sys.stdout.flush()
    except BrbError as exc:
        print(f"brb: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `brb status --json | head -1`, as click handles it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code)
