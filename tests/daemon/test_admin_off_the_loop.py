"""Admin press/release never block the event loop (issue 16, point 11): while the
database is locked by another process, a press waits on SQLite's busy timeout off the
loop, and the daemon keeps answering meanwhile."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from daemon_rig import Answer, Rig, StartRig

TOKEN = "loop-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("lever", ["press", "release"])
def test_a_lever_waiting_on_a_locked_database_leaves_the_daemon_answering(
    start_brb: StartRig, monkeypatch: pytest.MonkeyPatch, lever: str
) -> None:
    monkeypatch.setenv("BRB_ADMIN_TOKEN", TOKEN)
    rig: Rig = start_brb()
    answers: list[Answer] = []
    done = threading.Event()

    def pull() -> None:
        answers.append(rig.post(f"/admin/big-red-button/{lever}", {}, AUTH, timeout_s=30))
        done.set()

    locker = sqlite3.connect(str(rig.db), isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")  # the write lock, as another process would hold it
        thread = threading.Thread(target=pull, daemon=True)
        thread.start()
        # the daemon answers while the lever is (causally) still waiting on our lock
        assert rig.get("/healthz").status == 200
        assert rig.get("/api/tags").status == 200  # a pass-through, through the loop
        assert not done.is_set()
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    thread.join(30)
    assert done.is_set() and answers[0].status == 200, answers
