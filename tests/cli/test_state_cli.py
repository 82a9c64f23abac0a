"""``brb status / press / release`` through Typer's runner, on a real database,
with the clock frozen; no daemon involved."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from typer.testing import Result

from brb.adapters.database import iso
from brb.adapters.ledger import Usage
from brb.adapters.store import Store
from brb.core.breaker import BreakerState, Phase
from brb.core.budget import budget_day

Cli = Callable[..., Result]
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[FrozenDateTimeFactory]:
    with freeze_time(T0) as frozen:
        yield frozen


def status(cli: Cli, *args: str) -> dict[str, Any]:
    r = cli("status", "--json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def ok_json(r: Result) -> dict[str, Any]:
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def events(db: Path) -> list[tuple[str, str, str, dict[str, Any]]]:
    with Store.open(db) as s:
        return [(e.kind, e.source, e.reason, e.detail) for e in s.events()]


def test_fresh_status_has_the_documented_schema(cli: Cli, clock: FrozenDateTimeFactory) -> None:
    s = status(cli)
    assert {
        "mode",
        "breaker",
        "reason",
        "override_until",
        "spend_today_usd",
        "daily_limit_usd",
        "remaining_usd",
        "diverted_today",
    } <= set(s)
    assert (s["mode"], s["breaker"], s["override_until"], s["diverting"]) == (
        "auto",
        "standby",
        None,
        False,
    )
    assert (s["spend_today_usd"], s["daily_limit_usd"], s["remaining_usd"]) == (0, 100, 100)
    assert s["diverted_today"] == 0 and s["now"] == iso(T0)
    assert s["queue"] is None and s["daemon"] is None


def test_press_for_then_status_then_release(
    cli: Cli, tmp_db: Path, clock: FrozenDateTimeFactory
) -> None:
    pressed = ok_json(cli("press", "--for", "10m", "--reason", "drill", "--json"))
    assert pressed["changed"] is True and pressed["mode"] == "on"

    s = status(cli)
    assert s["mode"] == "on" and s["diverting"] is True
    assert s["override_until"] == iso(T0 + timedelta(minutes=10))
    assert s["override"]["reason"] == "drill" and s["override"]["source"] == "cli"
    assert "drill" in s["reason"]

    clock.tick(timedelta(minutes=5))
    released = ok_json(cli("release", "--json"))
    assert released["changed"] is True and released["mode"] == "auto"
    assert released["override_until"] is None and released["diverting"] is False
    assert [e[0] for e in events(tmp_db)] == ["press", "release"]
    _, source, reason, detail = events(tmp_db)[0]
    assert (source, reason) == ("cli", "drill")
    assert (detail["from_mode"], detail["to_mode"]) == ("auto", "on")


def test_press_expires_by_itself(cli: Cli, clock: FrozenDateTimeFactory) -> None:
    assert cli("press", "--for", "10m").exit_code == 0
    clock.tick(timedelta(minutes=10) - timedelta(seconds=1))
    assert status(cli)["mode"] == "on"
    clock.tick(timedelta(seconds=1))
    s = status(cli)
    assert s["mode"] == "auto" and s["override_until"] is None and not s["diverting"]


def test_release_hold_for(cli: Cli, tmp_db: Path, clock: FrozenDateTimeFactory) -> None:
    held = ok_json(cli("release", "--hold", "--for", "1h", "--reason", "cost review", "--json"))
    assert held["mode"] == "off" and held["override_until"] == iso(T0 + timedelta(hours=1))
    assert events(tmp_db)[-1][0] == "hold"
    # Held off wins over an active breaker.
    with Store.open(tmp_db) as store:
        store.write_breaker(BreakerState(Phase.ACTIVE, T0, "queue depth 60 > 50"), T0)
    s = status(cli)
    assert (s["mode"], s["breaker"], s["diverting"]) == ("off", "active", False)
    assert cli("status", "--check").exit_code == 0


def test_press_is_idempotent_and_still_logged(
    cli: Cli, tmp_db: Path, clock: FrozenDateTimeFactory
) -> None:
    assert ok_json(cli("press", "--reason", "incident 42", "--json"))["changed"] is True
    clock.tick(30)
    again = cli("press", "--reason", "incident 42", "--json")
    assert ok_json(again)["changed"] is False and ok_json(again)["mode"] == "on"
    # The first press's time stays in force.
    assert ok_json(again)["override"]["since"] == iso(T0)
    kinds = [e[0] for e in events(tmp_db)]
    assert kinds == ["press", "press_noop"]
    assert events(tmp_db)[1][3]["changed"] is False
    # The human form says so.
    human = cli("press")
    assert human.exit_code == 0 and "no change" in human.stderr and "PRESSED" in human.stdout
    # Releasing what is already auto is a no-op too.
    assert ok_json(cli("release", "--json"))["changed"] is True
    assert ok_json(cli("release", "--json"))["changed"] is False
    assert [e[0] for e in events(tmp_db)][-2:] == ["release", "release_noop"]


def write_config(tmp_path: Path, limit: str) -> Path:
    p = tmp_path / "brb.yaml"
    p.write_text(f"big_red_button:\n  budget:\n    daily_limit_usd: {limit}\n", encoding="utf-8")
    return p


def test_status_check_exit_codes_follow_the_state(
    cli: Cli, tmp_db: Path, tmp_path: Path, clock: FrozenDateTimeFactory
) -> None:
    cfg = str(write_config(tmp_path, "0.05"))
    check = lambda: cli("status", "--check", "--config", cfg)  # noqa: E731
    r = check()
    assert r.exit_code == 0 and r.stdout == ""

    assert cli("press", "--config", cfg).exit_code == 0
    assert check().exit_code == 3
    assert cli("release", "--config", cfg).exit_code == 0
    assert check().exit_code == 0

    with Store.open(tmp_db) as store:  # the automatic breaker trips
        store.write_breaker(BreakerState(Phase.ACTIVE, T0, "wait 75.00s > 60s"), T0)
    assert check().exit_code == 3

    # Spend the whole (tiny) day through the ledger, as the daemon would.
    day = budget_day(T0, UTC)
    with Store.open(tmp_db) as store:
        assert store.ledger.reserve(
            "r1", day=day, amount_usd=Decimal("0.05"), limit_usd=Decimal("0.05"), at=T0
        )
        assert not store.ledger.reserve(
            "r2", day=day, amount_usd=Decimal("0.01"), limit_usd=Decimal("0.05"), at=T0
        )
        store.ledger.settle("r1", cost_usd=Decimal("0.05"), usage=Usage(10, 10), at=T0)
    assert check().exit_code == 4  # 4 wins over an active breaker
    assert cli("press", "--config", cfg).exit_code == 0
    assert check().exit_code == 4  # and over a press: nothing can be diverted
    s = status(cli, "--config", cfg)
    assert s["budget_exhausted"] is True and s["remaining_usd"] == 0
    assert s["spend_today_usd"] == 0.05 and s["diverted_today"] == 1
    assert any("exhausted" in b for b in s["diversion_blocked_by"])

    clock.tick(timedelta(days=1))  # a new budget day
    assert check().exit_code == 3


def test_human_panel(cli: Cli, tmp_db: Path, clock: FrozenDateTimeFactory) -> None:
    r = cli("status")
    assert r.exit_code == 0
    assert "STANDBY (auto)" in r.stdout and "$0.00 of $100.00" in r.stdout
    assert "never seen" in r.stdout  # no daemon heartbeat yet
    with Store.open(tmp_db) as store:
        store.write_heartbeat(
            at=T0 - timedelta(seconds=3),
            pid=4242,
            version="0.1.0",
            listen="127.0.0.1:11435",
            started_at=T0 - timedelta(hours=1),
        )
    r = cli("status")
    assert "pid 4242" in r.stdout and "3s ago" in r.stdout
    s = status(cli)
    assert s["daemon"]["heartbeat_age_seconds"] == 3.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("press", "--for", "10x"), "--for: can't read duration '10x'"),
        (("press", "--for", "0s"), "must be positive"),
        (("release", "--for", "1h"), "--for only applies with --hold"),
        (("release", "--hold", "--for", "soon"), "can't read duration"),
    ],
)
def test_bad_input_exits_2_without_a_traceback(
    cli: Cli, tmp_db: Path, args: tuple[str, ...], message: str
) -> None:
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert "Traceback" not in r.output
    assert isinstance(r.exception, SystemExit)  # a clean exit, not an escaped exception
    assert not tmp_db.exists() or events(tmp_db) == []  # and nothing was recorded


def test_corrupt_db_exits_1_with_a_clear_message(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.db"
    bad.write_bytes(b"\x8f" * 4096)
    for args in (("status", "--json"), ("press",), ("release",), ("status", "--check")):
        r = cli(*args, "--db", str(bad))
        assert r.exit_code == 1, r.output
        assert "not a usable brb database" in r.stderr and str(bad) in r.stderr
        assert "Traceback" not in r.output and r.stdout == ""
        assert isinstance(r.exception, SystemExit)
    assert bad.read_bytes() == b"\x8f" * 4096
