"""``brb status --watch``: the view rendered to text, and the live loop in a pty."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

from rich.console import Console

from brb import control, status
from brb.adapters.ledger import Usage
from brb.adapters.store import Store
from brb.adapters.store_samples import QueueSample
from brb.cli.watch import SPARK_WIDTH, depth_series, render, sparkline
from brb.config import BrbConfig
from brb.core.breaker import BreakerState, Phase

NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


def text_of(renderable: object, width: int = 140) -> str:
    console = Console(file=StringIO(), width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def view(store: Store, cfg: BrbConfig, at: datetime = NOW) -> str:
    snap = status.snapshot(store, cfg, at)
    samples = store.queue_samples(since=at - timedelta(minutes=5))
    events = store.events(limit=8, newest_first=True)
    return text_of(render(snap, samples, events, queue_threshold=50, wait_threshold_s=60))


def test_sparkline_scales_to_the_peak_and_shows_gaps() -> None:
    assert sparkline([0, 4, 8, None, 2]) == "▁▅█ ▃"
    assert sparkline([0, 0]) == "▁▁" and sparkline([None, None]) == "  "


def test_depth_series_buckets_the_last_five_minutes_and_sums_models() -> None:
    step = timedelta(minutes=5) / SPARK_WIDTH
    samples = [
        QueueSample(NOW - timedelta(minutes=10), "old", 99, 0, 0.0),  # before the window
        QueueSample(NOW - timedelta(minutes=5), "a", 3, 1, 0.0),
        QueueSample(NOW - timedelta(minutes=5) + step / 2, "a", 7, 1, 0.0),
        QueueSample(NOW - timedelta(minutes=5) + step / 3, "b", 2, 1, 0.0),
        QueueSample(NOW - step / 2, "a", 5, 1, 0.0),
    ]
    series = depth_series(samples, NOW)
    assert len(series) == SPARK_WIDTH
    assert series[0] == 9 and series[-1] == 5
    assert series[1:-1] == [None] * (SPARK_WIDTH - 2)


def test_view_of_a_pressed_brb_under_load(tmp_path: Path) -> None:
    cfg = BrbConfig.model_validate(
        {"timezone": "Europe/London", "budget": {"daily_limit_usd": "100"}}
    )
    with Store.open(tmp_path / "brb.db") as store:
        store.add_queue_samples(
            [
                QueueSample(NOW - timedelta(seconds=295 - 10 * i), "llama3", 3 * i, 2, 70.0)
                for i in range(30)
            ]
        )
        at = NOW - timedelta(minutes=4)
        store.write_breaker(
            BreakerState(Phase.ACTIVE, at, "queue depth 73 > 50"),
            at,
            ("activated", {"queue_depth": 73, "wait_seconds": 70.0}),
        )
        control.press(
            store, now=NOW - timedelta(minutes=2), source="http", who="alice", reason="launch day"
        )
        assert store.ledger.reserve(
            "r1", day=NOW.date(), amount_usd=Decimal("90"), limit_usd=Decimal("100"), at=NOW
        )
        store.ledger.settle("r1", cost_usd=Decimal("85.50"), usage=Usage(10, 10), at=NOW)
        assert store.ledger.reserve(
            "r2", day=NOW.date(), amount_usd=Decimal("4"), limit_usd=Decimal("100"), at=NOW
        )
        store.write_heartbeat(
            at=NOW - timedelta(seconds=1),
            pid=4242,
            version="0.1.0",
            listen="127.0.0.1:11435",
            started_at=NOW - timedelta(hours=1),
        )
        text = view(store, cfg)

    assert "brb  2026-11-25 14:30:00 GMT" in text
    assert "PRESSED (mode on): diverting every eligible request" in text
    assert "breaker active" in text
    assert "pressed by alice via http: launch day" in text
    assert "▁" in text and "█" in text  # the rising queue
    assert "now 87, 5 min max 87 (activates > 50)" in text
    assert "70.0s, 2 in flight (activates > 60s)" in text
    bar = next(line for line in text.splitlines() if "spend" in line)
    assert bar.count("█") == 34 and bar.count("▒") == 2 and bar.count("░") == 4
    assert "$85.50 of $100.00 (86%), $4.00 reserved" in bar
    assert "1 requests today" in text
    assert "pid 4242 on 127.0.0.1:11435, heartbeat 1s ago" in text
    # newest event first, in the budget timezone
    events = text[text.index("last events") :].splitlines()
    assert "press" in events[3] and "alice@http" in events[3] and "launch day" in events[3]
    assert "activated" in events[4] and "14:26:00" in events[4]


def test_view_of_a_fresh_install(tmp_path: Path) -> None:
    with Store.open(tmp_path / "brb.db") as store:
        text = view(store, BrbConfig())
    assert "STANDBY (auto): all traffic local" in text
    assert "no sample yet" in text and "never seen (run `brb serve`)" in text
    assert "$0.00 of $100.00 (0%)" in text and "no events yet" in text


def test_watch_redraws_until_ctrl_c_and_exits_0(tmp_path: Path) -> None:
    """The real command in a pseudo-terminal: frames appear, a change made by
    another process shows up, and SIGINT ends it with exit 0, no traceback."""
    db = tmp_path / "brb.db"
    Store.open(db).close()
    env = {
        **os.environ,
        "BRB_DB": str(db),
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        "LINES": "40",
    }
    env.pop("BRB_CONFIG", None)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from brb.cli.main import run; run()", "status", "--watch"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    seen = b""

    def read_until(marker: bytes, timeout_s: float = 20.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout_s
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
        assert marker in seen, seen.decode(errors="replace")[-2000:]

    try:
        read_until(b"STANDBY (auto)")
        with Store.open(db) as store:
            control.press(store, now=datetime.now(UTC), source="cli", who="bob", reason="drill")
        read_until(b"pressed by bob via cli: drill")  # the next frame, within a second
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        try:
            while True:
                chunk = os.read(leader, 65536)
                if not chunk:
                    break
                seen += chunk
        except OSError:
            pass
        os.close(leader)
    assert b"Traceback" not in seen
