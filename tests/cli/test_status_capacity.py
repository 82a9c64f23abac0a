"""``brb status`` shows the capacity advice the daemon stored, without computing it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import Result
from freezegun import freeze_time

from brb.adapters.store import Store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ADVICE = {"extra_slots_needed": 2, "runs": [], "summary": "2 more local slots would have ..."}


def test_status_shows_the_stored_advice_and_its_age(
    cli: Callable[..., Result], tmp_db: Path
) -> None:
    with Store.open(tmp_db) as store:
        assert cli("status", "--json").exit_code == 0
        assert json.loads(cli("status", "--json").stdout)["capacity"] is None
        store.write_capacity_advice(NOW - timedelta(minutes=4), ADVICE)
    with freeze_time(NOW):
        out = json.loads(cli("status", "--json").stdout)["capacity"]
        text = cli("status").stdout
    assert out["extra_slots_needed"] == 2 and out["age_seconds"] == 240
    assert datetime.fromisoformat(out["computed_at"]) == NOW - timedelta(minutes=4)
    assert "capacity   2 more local slots would have ... (4m ago)" in text
