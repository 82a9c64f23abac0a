"""``brb spend`` through Typer's runner: empty ledger, totals that add up,
grouping, CSV, and the budget day in the configured timezone."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from typer.testing import Result

from brb.adapters.ledger import Usage
from brb.adapters.store import Store

Cli = Callable[..., Result]
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 25)

# (request id, budget day offset, model, provider, session, cost USD)
ROWS = [
    ("a", 0, "claude-sonnet-5-5", "anthropic", "s1", "0.333333"),
    ("b", 0, "claude-sonnet-5-5", "anthropic", "s2", "0.333333"),
    ("c", 0, "claude-haiku-5-5", "anthropic", "s1", "0.333333"),
    ("d", -1, "claude-haiku-5-5", "anthropic", "s3", "0.004999"),
    ("e", -6, "claude-sonnet-5-5", "anthropic", "s1", "1.115"),
    ("f", -7, "claude-opus-5-5", "anthropic", "s1", "9.99"),  # outside the default 7 days
]


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with freeze_time(T0):
        yield


@pytest.fixture
def seeded(tmp_db: Path) -> Path:
    with Store.open(tmp_db) as store:
        for rid, offset, model, provider, session, cost in ROWS:
            day = TODAY + timedelta(days=offset)
            assert store.ledger.reserve(
                rid,
                day=day,
                amount_usd=Decimal("10"),
                limit_usd=Decimal("100"),
                at=T0,
                cloud_model=model,
                provider=provider,
                session=session,
            )
            store.ledger.settle(rid, cost_usd=Decimal(cost), usage=Usage(1000, 100), at=T0)
        # An open reservation and a released one are not spend.
        assert store.ledger.reserve(
            "open", day=TODAY, amount_usd=Decimal("5"), limit_usd=Decimal("100"), at=T0
        )
        assert store.ledger.reserve(
            "gone", day=TODAY, amount_usd=Decimal("5"), limit_usd=Decimal("100"), at=T0
        )
        store.ledger.release("gone", at=T0, outcome="provider_error")
    return tmp_db


def spend_json(cli: Cli, *args: str) -> dict[str, Any]:
    r = cli("spend", "--json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def cents(x: float | Decimal) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.01"))


def test_empty_ledger_gives_zeros(cli: Cli) -> None:
    out = spend_json(cli)
    assert {"total_usd", "requests", "rows"} <= set(out)
    assert (out["total_usd"], out["requests"], out["rows"]) == (0, 0, [])
    assert (out["since"], out["until"], out["by"]) == ("2026-11-19", "2026-11-25", "day")
    human = cli("spend")
    assert human.exit_code == 0 and "$0.00" in human.stdout


def test_totals_equal_the_sum_of_rows(cli: Cli, seeded: Path) -> None:
    out = spend_json(cli)
    assert out["requests"] == 5
    expected = sum(Decimal(c) for _, off, *_, c in ROWS if off >= -6)
    assert Decimal(str(out["total_usd"])) == expected == Decimal("2.119998")
    row_sum = sum(Decimal(str(r["cost_usd"])) for r in out["rows"])
    assert row_sum == Decimal(str(out["total_usd"]))
    assert cents(row_sum) == cents(out["total_usd"])
    assert [(r["day"], r["requests"]) for r in out["rows"]] == [
        ("2026-11-19", 1),
        ("2026-11-24", 1),
        ("2026-11-25", 3),
    ]
    assert sum(r["requests"] for r in out["rows"]) == out["requests"]


@pytest.mark.parametrize("by", ["day", "model", "provider", "session"])
def test_every_grouping_adds_up(cli: Cli, seeded: Path, by: str) -> None:
    out = spend_json(cli, "--by", by, "--days", "30")
    assert out["by"] == by and all(by in r for r in out["rows"])
    assert sum(Decimal(str(r["cost_usd"])) for r in out["rows"]) == Decimal("12.109998")
    assert Decimal(str(out["total_usd"])) == Decimal("12.109998") and out["requests"] == 6


def test_by_model(cli: Cli, seeded: Path) -> None:
    out = spend_json(cli, "--by", "model")
    assert [(r["model"], r["requests"], r["cost_usd"]) for r in out["rows"]] == [
        ("claude-haiku-5-5", 2, 0.338332),
        ("claude-sonnet-5-5", 3, 1.781666),
    ]
    assert all(r["input_tokens"] == 1000 * r["requests"] for r in out["rows"])


def test_days_and_since(cli: Cli, seeded: Path) -> None:
    assert spend_json(cli, "--days", "1")["requests"] == 3
    assert spend_json(cli, "--days", "2")["requests"] == 4
    out = spend_json(cli, "--since", "2026-11-18")
    assert out["requests"] == 6 and out["since"] == "2026-11-18"


def test_csv(cli: Cli, seeded: Path) -> None:
    r = cli("spend", "--csv", "--by", "session")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == ["session", "requests", "cost_usd", "input_tokens", "output_tokens"]
    assert [x["session"] for x in rows] == ["s1", "s2", "s3"]
    total = sum(Decimal(x["cost_usd"]) for x in rows)
    assert total == Decimal(str(spend_json(cli, "--by", "session")["total_usd"]))


def test_human_table(cli: Cli, seeded: Path) -> None:
    r = cli("spend", "--by", "model")
    assert r.exit_code == 0
    assert "claude-sonnet-5-5" in r.stdout and "$2.12" in r.stdout.splitlines()[-1]


def test_budget_day_follows_the_timezone(cli: Cli, tmp_db: Path, tmp_path: Path) -> None:
    """At 12:00 UTC it is already the 26th in Auckland: 'today' is the 26th there."""
    cfg = tmp_path / "brb.yaml"
    cfg.write_text("big_red_button:\n  timezone: Pacific/Auckland\n", encoding="utf-8")
    with Store.open(tmp_db) as store:
        assert store.ledger.reserve(
            "nz", day=date(2026, 11, 26), amount_usd=Decimal(1), limit_usd=Decimal(100), at=T0
        )
        store.ledger.settle("nz", cost_usd=Decimal("0.25"), usage=Usage(), at=T0)
    out = spend_json(cli, "--days", "1", "--config", str(cfg))
    assert out["until"] == "2026-11-26" and out["total_usd"] == 0.25
    assert spend_json(cli, "--days", "1")["total_usd"] == 0  # UTC: still the 25th


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--by", "color"), "--by must be"),
        (("--days", "3", "--since", "2026-11-01"), "not both"),
        (("--since", "last tuesday"), "--since"),
        (("--json", "--csv"), "not both"),
        (("--days", "0"), "--days"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: tuple[str, ...], message: str) -> None:
    r = cli("spend", *args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "Traceback" not in r.output


def test_reserved_is_shown_apart_from_settled(cli: Cli, seeded: Path) -> None:
    """The open reservation is not spend, but it is said: the budget counts it."""
    out = spend_json(cli)
    assert (out["reserved_requests"], out["reserved_usd"]) == (1, 5.0)
    assert Decimal(str(out["total_usd"])) == Decimal("2.119998")  # settled only
    human = cli("spend").stdout
    (line,) = [x for x in human.splitlines() if x.strip().startswith("reserved")]
    assert "1" in line and "$5.00" in line


def test_nothing_reserved_prints_no_reserved_line(cli: Cli) -> None:
    assert spend_json(cli)["reserved_requests"] == 0
    assert "reserved" not in cli("spend").stdout
