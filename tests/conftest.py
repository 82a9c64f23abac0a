"""Fixtures every test directory may use: a throwaway database, the CLI, and a
throwaway PostgreSQL cluster (see pg_cluster.py).

Kept small and generic on purpose; a fixture only one directory needs lives
in that directory's own conftest.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings
from pg_cluster import Cluster, find_bin, fresh_database, running_cluster

if TYPE_CHECKING:
    from typer.testing import Result

# Hypothesis runs derandomized: the same examples on every run and machine, so a
# property test never blocks a landing by chance (an unseeded run once found a
# duplicate tool-call id bug in 3 runs of 4; that case is now a pinned @example).
# Loaded always, CI included; `HYPOTHESIS_PROFILE=explore` searches afresh locally.
# No per-example deadline: on a loaded 2-core machine (load 11) a 5-character glob
# match took 304 ms against the 200 ms default, and that failed a landing.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def no_fleet_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``$BRB_DATABASE_URL`` in the developer's shell must not send tests to it."""
    monkeypatch.delenv("BRB_DATABASE_URL", raising=False)


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


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One PostgreSQL cluster for the whole run (started on first use). Skipped only
    where PostgreSQL's server binaries are not installed, and never when
    ``$BRB_REQUIRE_POSTGRES`` is set (CI sets it: there a missing server fails)."""
    bin_dir = find_bin()
    if bin_dir is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        if os.environ.get("BRB_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    with running_cluster(bin_dir) as cluster:
        yield cluster


_DB_NUMBERS = itertools.count(1)


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """The URL (password included) of a fresh, empty database on the cluster."""
    return fresh_database(pg_cluster, f"t{next(_DB_NUMBERS)}")
