"""A locked database never turns a diverted request into a 500 (issue 16, point 5):
while another process holds the SQLite write lock, a pressed daemon serves every
request locally (route ``store_unavailable``), sends one alert for the outage (not
one per request), leaves no reservation behind, and diverts again once the lock is
gone."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from daemon_rig import Answer, Req, Rig, StartRig, chat_body, poll

from brb import control
from brb.sim.capture import CaptureServer
from brb.sim.server import serve_in_thread


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[CaptureServer]:
    server = CaptureServer(status=200, body={})
    with serve_in_thread(server.app()) as url:
        monkeypatch.setenv("BRB_WEBHOOK_URL", f"{url}/hook")
        yield server


def alerts(server: CaptureServer, kind: str) -> list[dict[str, object]]:
    return [c.body for c in server.captured if c.body.get("kind") == kind]


def ask(rig: Rig, text: str) -> Answer:
    return rig.post("/api/chat", chat_body("/api/chat", text), timeout_s=60.0)


def poll_answers(rig: Rig, caplog: pytest.LogCaptureFixture) -> list[Answer]:
    """Ask until a reservation has been tried (and refused) again in this outage."""
    answers: list[Answer] = []
    deadline = time.monotonic() + 60.0
    while not any("still down" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "no second try of the store within 60 s"
        answers.append(ask(rig, f"still held {len(answers)}"))
        time.sleep(0.5)
    return answers


def test_a_locked_database_keeps_requests_local_with_one_alert(
    start_brb: StartRig, hook: CaptureServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="brb.daemon.spending")
    rig = start_brb()
    rig.press()
    assert ask(rig, "before").provider == "anthropic"
    hits = rig.cloud_hits()

    locker = sqlite3.connect(str(rig.db), isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        first = ask(rig, "the lock is held")
        burst = rig.burst(
            [Req("/api/chat", chat_body("/api/chat", f"during {i}")) for i in range(6)],
            timeout_s=60.0,
        )
        # past the retry pause, a request tries the store again: more failures in the
        # same outage (they must not alert again)
        later = poll_answers(rig, caplog)
        for answer in [first, *burst, *later]:
            assert answer.status == 200, answer.text
            assert answer.provider == "ollama"
            assert answer.headers.get("x-brb-route") == "store_unavailable"
        assert rig.cloud_hits() == hits  # nothing went to the cloud unreserved
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    # the lock is gone: diversions resume (after the short retry pause)
    poll(lambda: ask(rig, "after").provider == "anthropic", timeout_s=60.0)
    # no reservation is left behind: every row settled, or given back
    rows = rig.settled_rows(2, timeout_s=30.0)
    assert all(r["status"] in ("settled", "released") for r in rows)
    assert sum(r["status"] == "settled" for r in rows) >= 2

    # One alert for the outage. The release is a barrier: the webhook gets its alerts
    # in order, so a second outage alert would arrive before the release's.
    with rig.store() as store:
        control.release(store, now=datetime.now(UTC), source="test", who="pytest")
    poll(lambda: alerts(hook, "deactivated"), timeout_s=60.0)
    (outage,) = alerts(hook, "store_unavailable")
    assert str(rig.db) in str(outage["text"])


def test_a_database_refusing_the_reservation_write_keeps_the_request_local(
    start_brb: StartRig, hook: CaptureServer
) -> None:
    """Not a lock: the write itself fails (as on a full disk). Still served, locally."""
    rig = start_brb()
    rig.press()
    full = sqlite3.connect(str(rig.db), isolation_level=None)
    try:
        full.execute(
            "CREATE TRIGGER test_full BEFORE INSERT ON ledger BEGIN "
            "SELECT RAISE(FAIL, 'database or disk is full'); END"
        )
        answers = [ask(rig, f"full {i}") for i in range(3)]
        assert [(a.status, a.provider, a.headers.get("x-brb-route")) for a in answers] == [
            (200, "ollama", "store_unavailable")
        ] * 3
        assert rig.cloud_hits() == 0
    finally:
        full.execute("DROP TRIGGER IF EXISTS test_full")
        full.close()
    poll(lambda: ask(rig, "room again").provider == "anthropic", timeout_s=60.0)
    (row,) = rig.settled_rows(1, timeout_s=30.0)  # nothing half-written before it
    assert row["status"] == "settled"
    poll(lambda: alerts(hook, "store_unavailable"), timeout_s=60.0)
