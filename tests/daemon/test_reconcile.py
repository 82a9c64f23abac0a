"""A reservation left by a crash (kill -9 between reserve and settle) is settled at
its worst case when the next daemon starts, with an event saying so; one younger
than the provider timeout (another instance's, in flight) is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from daemon_rig import StartRig, poll

from brb.adapters.store import Store
from brb.core.budget import budget_day


def test_a_crashs_reservation_is_settled_at_its_worst_case_on_start(start_brb: StartRig) -> None:
    first = start_brb()
    db = first.db
    assert first.stop() is None
    now = datetime.now(UTC)
    day = budget_day(now, first.cfg.tz)
    with Store.open(db) as store:  # what a kill -9 mid-diversion leaves behind
        for rid, age_s in (("crashed", 3600), ("in-flight", 5)):
            assert store.ledger.reserve(
                rid, day=day, amount_usd=Decimal("0.25"), limit_usd=Decimal(100),
                at=now - timedelta(seconds=age_s), provider="anthropic",
            )  # fmt: skip
    rig = start_brb(db=db)
    with rig.store() as store:
        rows = {r["request_id"]: r for r in store.query("SELECT * FROM ledger")}
    crashed = rows["crashed"]
    assert (crashed["status"], crashed["cost_micro_usd"]) == ("settled", 250_000)
    assert crashed["outcome"] == "reconciled_worst_case"
    assert rows["in-flight"]["status"] == "reserved"  # younger than the provider timeout
    (event,) = poll(lambda: rig.events("reservation_reconciled"))
    assert event.detail["request_id"] == "crashed"
    status = rig.status()
    assert status["spend_today_usd"] == 0.25
    assert status["remaining_usd"] == float(Decimal(100) - Decimal("0.50"))  # both counted
