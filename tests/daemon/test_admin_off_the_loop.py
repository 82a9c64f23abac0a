"""Admin press/release never block the event loop (issue 16, point 11): while the
database is locked by another process, a press waits on SQLite's busy timeout off the
loop, and the daemon keeps answering meanwhile.

The test proves the lever reached the lock before it asks anything else: it looks at
every thread's Python stack until one is inside ``brb.control.press`` (or
``release``) and, on top, in the store's ``transaction`` (where SQLite's busy wait
happens), and checks that thread is not the one running the event loop. Only then
do ``/healthz`` and a ``/api/tags`` pass-through (both through the loop) have to
answer, with the lever still waiting on the lock; it completes once the lock goes."""

from __future__ import annotations

import sqlite3
import threading
import time

import lock_waiters
import pytest
from daemon_rig import Answer, Rig, StartRig

TOKEN = "loop-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RIG_LOOP_THREAD = "brb-rig"  # the daemon rig runs brb's event loop on this thread


def waiting_on_the_lock(lever: str) -> threading.Thread | None:
    return lock_waiters.waiting_on_the_lock("control.py", lever)


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
        locker.execute("BEGIN EXCLUSIVE")  # the write lock, as another process would hold it
        thread = threading.Thread(target=pull, daemon=True)
        thread.start()
        # the lever has reached the lock: a thread is inside control.<lever>, blocked in
        # the store's transaction (SQLite's busy timeout is 10 s: plenty to find it)
        deadline = time.monotonic() + 8.0
        waiter = waiting_on_the_lock(lever)
        while waiter is None and not done.is_set() and time.monotonic() < deadline:
            time.sleep(0.005)
            waiter = waiting_on_the_lock(lever)
        assert waiter is not None, f"{lever} never waited on the lock: {answers}"
        assert waiter.name != RIG_LOOP_THREAD  # off the loop
        # the daemon answers, through its loop, while the lever still waits on our lock
        assert rig.get("/healthz").status == 200
        assert rig.get("/api/tags").status == 200  # a pass-through to the fake Ollama
        assert not done.is_set()
        assert waiting_on_the_lock(lever) is not None
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    thread.join(30)
    assert done.is_set() and answers[0].status == 200, answers
    assert answers[0].json()["mode"] == ("on" if lever == "press" else "auto")
