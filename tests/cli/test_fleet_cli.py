"""Fleet mode from the command line: with ``$BRB_DATABASE_URL`` set, every command
works on the shared PostgreSQL database, and none prints its password."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from pg_cluster import Cluster

from brb.adapters.store import Store
from brb.core.breaker import Mode

Cli = Callable[..., Result]


@pytest.fixture
def fleet_url(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BRB_DATABASE_URL", pg_url)
    return pg_url


def test_press_and_release_land_in_the_shared_database(
    cli: Cli, fleet_url: str, tmp_db: Path, pg_cluster: Cluster
) -> None:
    pressed = cli("press", "--reason", "drill", "--json")
    assert pressed.exit_code == 0, pressed.output
    with Store.open(fleet_url) as other_host:
        assert other_host.read_override().mode is Mode.ON
    status = cli("status", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["mode"] == "on"
    assert cli("release", "--json").exit_code == 0
    with Store.open(fleet_url) as other_host:
        assert other_host.read_override().mode is Mode.AUTO
        assert [e.kind for e in other_host.events()] == ["press", "release"]
    spend = cli("spend", "--json")
    assert spend.exit_code == 0 and json.loads(spend.stdout)["total_usd"] == 0
    assert not tmp_db.exists()  # $BRB_DB was set too: the URL wins over it
    for result in (pressed, status, spend):
        assert pg_cluster.password not in result.output


def test_doctor_says_which_store(cli: Cli, fleet_url: str, pg_cluster: Cluster) -> None:
    result = cli("doctor")
    (line,) = [x for x in result.stdout.splitlines() if x[4:].startswith("database ")]
    assert "PostgreSQL postgresql://brb:***@127.0.0.1" in line and "fleet mode" in line
    assert pg_cluster.password not in result.output


def test_db_flag_still_picks_a_file(cli: Cli, fleet_url: str, tmp_path: Path) -> None:
    result = cli("press", "--db", str(tmp_path / "own.db"), "--json")
    assert result.exit_code == 0, result.output
    with Store.open(fleet_url) as shared:
        assert shared.read_override().mode is Mode.AUTO
    with Store.open(tmp_path / "own.db") as own:
        assert own.read_override().mode is Mode.ON


def test_a_url_that_is_not_postgresql_is_refused(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_db: Path
) -> None:
    monkeypatch.setenv("BRB_DATABASE_URL", "mysql://root:hunter2@db/brb")
    result = cli("status", "--json")
    assert result.exit_code == 2
    assert "BRB_DATABASE_URL is set but is not a postgresql:// URL" in result.output
    assert "hunter2" not in result.output and not tmp_db.exists()


def test_a_down_database_is_a_clear_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, pg_cluster: Cluster
) -> None:
    monkeypatch.setenv("BRB_DATABASE_URL", f"postgresql://brb:{pg_cluster.password}@127.0.0.1:1/x")
    result = cli("press", "--json")
    assert result.exit_code == 1 and "can't use the brb database" in result.output
    assert pg_cluster.password not in result.output and "Traceback" not in result.output
