"""Fixtures every test directory may use: a throwaway database and the CLI.

Kept small and generic on purpose; a fixture only one directory needs lives
in that directory's own conftest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from typer.testing import Result


@pytest.fixture
def tmp_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database path in ``tmp_path`` (not created yet), exported as ``$BRB_DB``
    so every store opened without ``--db`` lands there."""
    path = tmp_path / "brb.db"
    monkeypatch.setenv("BRB_DB", str(path))
    return path


@pytest.fixture
def cli(tmp_db: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run ``brb ARGS...`` in-process through Typer's runner, against ``tmp_db``
    and with no config file (unless ``--config`` is passed)."""
    from typer.testing import CliRunner

    from brb.cli.main import app

    monkeypatch.delenv("BRB_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(*args: str, **kwargs: object) -> Result:
        return runner.invoke(app, list(args), **kwargs)  # type: ignore[arg-type]

    return invoke


@pytest.fixture(autouse=True)
def _own_cache_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The light commands remember a validated config under the cache
    directory: tests keep theirs out of the runner's home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
