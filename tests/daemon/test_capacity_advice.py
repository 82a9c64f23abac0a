"""The daemon keeps the capacity advice fresh in a worker process and shows it: the
admin status and ``brb status --json`` (which only reads what the daemon stored)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemon_rig import StartRig, poll
from request_log_seed import log_one_slot_burst

from brb import status
from brb.adapters.store import Store


def test_the_advice_reaches_the_admin_status_and_brb_status(
    start_brb: StartRig, tmp_path: Path
) -> None:
    db = tmp_path / "seeded.db"
    start = datetime.now(UTC) - timedelta(hours=2)
    with Store.open(db) as store:
        # 20 requests, one every 0.5 s, 1 s each, as one slot served them (request i
        # waited i/2 s): one slot can't hold a 2 s wait
        log_one_slot_burst(store, start, 20)
    rig = start_brb(
        db=db,
        thresholds={"queue_depth": 1000, "wait_time_seconds": 2, "min_active_seconds": 60},
        waiting_room={"enabled": False},
        capacity={"window_days": 1, "max_extra_slots": 3, "refresh_seconds": 1},
    )
    # the first computation comes a refresh after the first tick, in a worker process
    advice = poll(lambda: rig.status()["capacity"], timeout_s=120, every_s=0.2)
    assert advice["requests"] == 20 and advice["slots"] == 1
    assert advice["extra_slots_needed"] == 1
    assert [r["extra_slots"] for r in advice["runs"]] == [0, 1]
    assert advice["runs"][0]["wait_diverted"] > 0 and advice["runs"][1]["wait_diverted"] == 0
    assert advice["age_seconds"] >= 0 and "1 more local slot" in advice["summary"]

    with Store.open(db) as store:  # what `brb status --json` prints: the stored advice
        snap = status.snapshot(store, rig.cfg, datetime.now(UTC))
    assert snap["capacity"]["extra_slots_needed"] == 1
    assert snap["capacity"]["runs"] == advice["runs"]
