"""A press made by another process reaches the running daemon within a second.

The CLI never talks to the daemon: it writes the store, and the daemon polls
``PRAGMA data_version``. Timed from the moment the press is committed (the
library call returned, or the ``brb press`` process exited) to the first
request that comes back diverted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime

from daemon_rig import Rig, poll

from brb import control

LIMIT_S = 1.0


def seconds_until(rig: Rig, provider: str) -> float:
    t0 = time.monotonic()
    poll(lambda: rig.ask().provider == provider, timeout_s=3.0, every_s=0.01)
    return time.monotonic() - t0


def brb_cli(rig: Rig, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BRB_CONFIG", "BRB_DB")}
    return subprocess.run(
        [sys.executable, "-m", "brb", *args, "--db", str(rig.db)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )


def test_a_press_on_another_connection_is_in_effect_within_a_second(brb: Rig) -> None:
    assert brb.ask().provider == "ollama"
    with brb.store() as store:  # a connection of its own, like the CLI's
        control.press(store, now=datetime.now(UTC), source="cli", who="ops")
        took_s = seconds_until(brb, "anthropic")
        assert took_s < LIMIT_S
        control.release(store, now=datetime.now(UTC), source="cli", who="ops")
        assert seconds_until(brb, "ollama") < LIMIT_S
    pressed = brb.events("press")[0]
    assert (pressed.source, pressed.who) == ("cli", "ops")


def test_brb_press_and_release_commands(brb: Rig) -> None:
    assert brb.ask().provider == "ollama"
    done = brb_cli(brb, "press", "--reason", "drill")
    assert done.returncode == 0, done.stderr
    assert seconds_until(brb, "anthropic") < LIMIT_S
    status = brb.status()
    assert (status["status"], status["mode"]) == ("ACTIVE", "on")
    assert "drill" in status["reason"]

    done = brb_cli(brb, "release")
    assert done.returncode == 0, done.stderr
    assert seconds_until(brb, "ollama") < LIMIT_S
    status = brb.status()
    assert (status["status"], status["mode"]) == ("STANDBY", "auto")
    assert brb.ask().headers["x-brb-route"] == "standby"  # auto again: the breaker decides
    assert [e.kind for e in brb.events("press", "release")] == ["press", "release"]
