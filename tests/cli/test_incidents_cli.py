"""``brb incidents`` over a real database seeded through the store's own API."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import Result
from freezegun import freeze_time
from request_log_seed import log_one_slot_burst

from brb import control
from brb.adapters.ledger import Usage
from brb.adapters.store import Store
from brb.adapters.store_samples import QueueSample
from brb.core.breaker import BreakerState, Phase

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
Cli = Callable[..., Result]


def _charge(store: Store, rid: str, at: datetime, usd: str) -> None:
    assert store.ledger.reserve(
        rid, day=at.date(), amount_usd=Decimal("1"), limit_usd=Decimal("100"), at=at
    )
    store.ledger.settle(rid, cost_usd=Decimal(usd), usage=Usage(100, 50), at=at)


def _breaker_incident(store: Store, start: datetime, minutes: float, depth: int) -> None:
    reason = f"queue depth {depth} > 50"
    store.write_breaker(
        BreakerState(Phase.ACTIVE, start, reason),
        start,
        ("activated", {"queue_depth": depth, "wait_seconds": 2.0}),
    )
    end = start + timedelta(minutes=minutes)
    store.write_breaker(
        BreakerState(Phase.STANDBY, end, "calm"),
        end,
        ("deactivated", {"active_seconds": minutes * 60}),
    )


@pytest.fixture
def seeded(tmp_db: Path) -> Path:
    with Store.open(tmp_db) as store:
        old = NOW - timedelta(days=40)
        store.add_event("daemon_start", at=old - timedelta(hours=1), source="daemon")
        _breaker_incident(store, old, 5, 60)
        _charge(store, "r-old", old + timedelta(minutes=1), "9.00")

        start = NOW - timedelta(days=3)
        _breaker_incident(store, start, 20, 73)
        _charge(store, "r1", start + timedelta(minutes=1), "0.40")
        _charge(store, "r2", start + timedelta(minutes=19), "0.60")

        pressed = NOW - timedelta(days=1)
        store.add_queue_samples([QueueSample(pressed - timedelta(seconds=2), "llama3", 12, 1, 4.0)])
        control.press(store, now=pressed, source="cli", who="alice", reason="launch day")
        _charge(store, "r3", pressed + timedelta(minutes=5), "2.00")
        control.release(store, now=pressed + timedelta(minutes=10), source="http", who="bob")
    return tmp_db


def test_json_lists_each_incident_with_its_figures(cli: Cli, seeded: Path) -> None:
    with freeze_time(NOW):
        result = cli("incidents", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    first, second = out["incidents"]
    assert first["trigger"] == "queue depth 73 > 50" and first["queue_depth"] == 73
    assert first["duration_seconds"] == 1200 and first["time_to_normal_seconds"] == 1200
    assert first["requests_diverted"] == 2 and first["cost_usd"] == 1.0
    assert second["trigger"] == "pressed by alice via cli: launch day"
    assert second["queue_depth"] == 12  # from the queue sample just before the press
    assert second["ended_by"] == "released by bob via http"
    assert second["cost_usd"] == 2.0 and second["ongoing"] is False

    s = out["summary"]
    assert s["count"] == 2 and s["requests_diverted"] == 3
    assert s["total_cost_usd"] == 3.0 and s["mean_cost_per_incident_usd"] == 1.5
    assert s["mean_time_to_normal_seconds"] == (1200 + 600) / 2
    # $3 over 30 days (the database is older than the window), x 30.4375 days
    assert s["window_spend_usd"] == 3.0 and s["monthly_projection_usd"] == 3.04
    assert "another GPU" in s["projection"]


def test_days_narrows_the_window(cli: Cli, seeded: Path) -> None:
    with freeze_time(NOW):
        result = cli("incidents", "--days", "2", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [i["trigger_kind"] for i in out["incidents"]] == ["press"]
    assert out["summary"]["window_days"] == 2.0


def test_a_young_database_projects_from_its_own_age(cli: Cli, tmp_db: Path) -> None:
    with Store.open(tmp_db) as store:
        start = NOW - timedelta(days=2)
        store.add_event("daemon_start", at=start, source="daemon")
        _breaker_incident(store, start + timedelta(hours=1), 10, 80)
        _charge(store, "r1", start + timedelta(hours=1, minutes=2), "10.00")
    with freeze_time(NOW):
        out = json.loads(cli("incidents", "--json").stdout)
    assert out["summary"]["window_days"] == 2.0
    assert out["summary"]["monthly_projection_usd"] == 152.19  # $5/day, not $10/30 days


def test_human_table_and_an_ongoing_incident(cli: Cli, seeded: Path) -> None:
    with Store.open(seeded) as store:
        at = NOW - timedelta(minutes=30)
        store.write_breaker(
            BreakerState(Phase.ACTIVE, at, "wait 75.00s > 60s"),
            at,
            ("activated", {"queue_depth": 4, "wait_seconds": 75.0}),
        )
    with freeze_time(NOW):
        result = cli("incidents")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "incidents in the last 30 days" in text
    assert "pressed by alice via cli: launch day" in text
    assert "wait 75.00s > 60s" in text and "ongoing" in text
    assert "3 incidents (1 ongoing), 3 requests diverted, $3.00" in text
    assert "/month in cloud spend" in text and "another GPU" in text


def test_no_incidents(cli: Cli, tmp_db: Path) -> None:
    result = cli("incidents")
    assert result.exit_code == 0, result.output
    assert "none: brb did not divert" in result.stdout
    assert "0 incidents" in result.stdout


def test_the_command_stays_light(seeded: Path) -> None:
    code = (
        "import sys\n"
        "from datetime import datetime, UTC\n"
        "from brb.adapters.store import Store\n"
        "from brb.cli.incidents import build_report, render_table, report_json\n"
        f"store = Store.open({str(seeded)!r})\n"
        "r = build_report(store, since=datetime(2026, 1, 1, tzinfo=UTC), now=datetime.now(UTC))\n"
        "render_table(r, UTC); report_json(r)\n"
        "heavy = [m for m in ('aiohttp', 'anthropic', 'ollama') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- capacity advice -------------------------------------------------------------------


@pytest.fixture
def tight(tmp_path: Path) -> Path:
    """A config whose wait threshold (2 s) one slot can't hold for the burst."""
    path = tmp_path / "brb.yaml"
    path.write_text(
        "big_red_button:\n"
        "  thresholds: {queue_depth: 1000, wait_time_seconds: 2, min_active_seconds: 60}\n"
        "  waiting_room: {enabled: false}\n"
        "  capacity: {window_days: 3, max_extra_slots: 4}\n"
    )
    return path


def test_capacity_advice_names_the_slots_that_keep_the_overflow_local(
    cli: Cli, seeded: Path, tight: Path
) -> None:
    with Store.open(seeded) as store:
        log_one_slot_burst(store, NOW - timedelta(days=2), 20)
        log_one_slot_burst(store, NOW - timedelta(days=5), 200)  # outside the 3-day window
    with freeze_time(NOW):
        result = cli("incidents", "--json", "--config", str(tight))
    assert result.exit_code == 0, result.output
    c = json.loads(result.stdout)["capacity"]
    assert c["window_days"] == 3 and c["requests"] == 20 and c["slots"] == 1
    assert c["extra_slots_needed"] == 1 and c["more_than_max"] is False
    no_more, one_more = c["runs"]
    assert no_more["extra_slots"] == 0 and no_more["wait_diverted"] > 0 and no_more["cost_usd"] > 0
    assert (one_more["extra_slots"], one_more["diverted"], one_more["cost_usd"]) == (1, 0, 0)
    # what the button really cost in those 3 days: r1 + r2 ($1, the breaker's) and the
    # press's $2 (r3); the request log recorded no diversion (only the ledger did)
    assert c["button_cost_usd"] == 3.0 and c["recorded_diverted"] == 0

    with freeze_time(NOW):
        wider = json.loads(cli("incidents", "--json", "--config", str(tight),
                               "--capacity-days", "6").stdout)["capacity"]  # fmt: skip
    assert wider["requests"] == 220 and wider["button_cost_usd"] == 3.0  # r-old is older
    assert wider["extra_slots_needed"] is None or wider["extra_slots_needed"] >= 1

    with freeze_time(NOW):
        text = cli("incidents", "--config", str(tight)).stdout
    assert "capacity: 1 more local slot (per model: 1 -> 2) would have kept the" in text
    assert "the button cost $3.00 in 3 days" in text
    assert "+1 (2)" in text


def test_capacity_advice_with_no_traffic(cli: Cli, tmp_db: Path) -> None:
    with freeze_time(NOW):
        result = cli("incidents", "--json")
    c = json.loads(result.stdout)["capacity"]
    assert (c["requests"], c["extra_slots_needed"], c["window_days"]) == (0, 0, 7)
    assert [(r["extra_slots"], r["diverted"]) for r in c["runs"]] == [(0, 0)]
    assert "no overflow to keep local in the last 7 days" in cli("incidents").stdout
