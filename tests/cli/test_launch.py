"""The console script's fast path parses a light command exactly as the
Typer app does, and leaves everything else to the Typer app.

Its option table is checked against the Typer declarations, and each
accepted command line against what Typer parses from it, so the two can't
drift apart."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from brb.cli import light
from brb.cli.launch import OPTIONS, parse
from brb.cli.main import app

ACCEPTED = [
    ["status"],
    ["status", "--json"],
    ["status", "--check", "--config", "/etc/brb/x.yaml", "--db=/tmp/a.db"],
    ["status", "--watch", "-c", "rel/brb.yaml"],
    ["press", "--for", "10m", "-r", "incident 42", "--json"],
    ["press", "--reason=a=b", "--db", "brb.db"],
    ["release", "--hold", "--for=1h30m", "--reason", "maintenance"],
    ["release", "--json", "--config=c.yaml"],
    ["spend", "--days", "3", "--by", "model", "--csv"],
    ["spend", "--since", "2026-11-01", "--by=session", "--json", "--days", "007"],
]
REFUSED = [
    [],
    ["serve"],
    ["status", "--help"],
    ["status", "--jsn"],
    ["status", "--json", "--json"],
    ["status", "--json=yes"],
    ["status", "extra"],
    ["press", "--reason"],
    ["press", "-rquick"],
    ["press", "--reason", "-x"],
    ["press", "--for", ""],
    ["spend", "--days", "0"],
    ["spend", "--days", "-1"],
    ["spend", "--days", "three"],
    ["spend", "--days", "٣"],
    ["--help"],
    ["status", "--", "--json"],
]


def typer_command(name: str) -> Any:
    return typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]


def typer_params(argv: list[str]) -> dict[str, Any]:
    ctx = typer_command(argv[0]).make_context(argv[0], list(argv[1:]))
    return dict(ctx.params)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_the_table_matches_the_typer_declarations(name: str) -> None:
    declared = {opt: p for p in typer_command(name).params for opt in p.opts}
    for spelling, (param, kind) in OPTIONS[name].items():
        assert spelling in declared, f"{name} {spelling}"
        option = declared[spelling]
        assert option.name == param
        assert option.is_flag == (kind == "flag"), f"{name} {spelling}"
    # and the light command takes exactly the parameters Typer gives it
    signature = inspect.signature(getattr(light, name))
    assert set(signature.parameters) == {p.name for p in typer_command(name).params}


@pytest.mark.parametrize("argv", ACCEPTED, ids=" ".join)
def test_an_accepted_command_line_means_what_it_means_to_typer(argv: list[str]) -> None:
    parsed = parse(argv)
    assert parsed is not None
    name, params = parsed
    assert name == argv[0]
    defaults = {n: p.default for n, p in inspect.signature(getattr(light, name)).parameters.items()}
    assert {**defaults, **params} == typer_params(argv)


@pytest.mark.parametrize("argv", REFUSED, ids=" ".join)
def test_anything_else_is_left_to_typer(argv: list[str]) -> None:
    assert parse(argv) is None


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "BRB_DB": str(tmp_path / "brb.db"),
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "brb", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_exit_codes_and_errors_on_both_paths(tmp_path: Path) -> None:
    assert run(["press", "--json"], tmp_path).returncode == 0
    assert run(["status", "--check"], tmp_path).returncode == 3  # pressed: diverting
    bad = run(["release", "--for", "1h"], tmp_path)  # fast path, refused by the command
    assert bad.returncode == 2
    assert bad.stderr == "brb: --for only applies with --hold (a release to auto has no expiry)\n"
    typo = run(["status", "--jsn"], tmp_path)  # Typer's own usage error
    assert typo.returncode == 2 and "--jsn" in typo.stderr and "Traceback" not in typo.stderr
    zero = run(["spend", "--days", "0"], tmp_path)
    assert zero.returncode == 2 and "--days" in zero.stderr
    assert "brb status [OPTIONS]" in run(["status", "--help"], tmp_path).stdout
