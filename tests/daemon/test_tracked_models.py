"""The model names brb keeps live state for are bounded (issue 16, point 8):
``max_tracked_models``. A client sending endless distinct names grows neither the
queue monitor, nor a waiting room, nor its service model, nor /metrics' series;
the least recently used idle name is forgotten (a busy one never: its counts
stay), requests for any name are still served, and the bound is logged once."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from daemon_rig import Req, StartRig, chat_body

from brb.core.service_model import RequestShape, ServiceFigures
from brb.core.waiting_room import RoomRules, Verdict
from brb.daemon.dashboard import HISTORY_MODELS
from brb.daemon.local_queue import LocalQueue
from brb.daemon.queue_monitor import QueueMonitor
from brb.sim.ollama import FakeOllama

NAMES = 2000
BOUND = 16
BURSTS, BURST = 10, 50  # the end-to-end run: 500 distinct names, 50 at a time


def test_the_queue_monitor_keeps_at_most_the_bound_and_never_a_busy_model(
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitor = QueueMonitor(slots=1, max_models=BOUND)
    busy = monitor.arrive("busy", 0.0)  # in flight all along: never forgotten
    for i in range(NAMES):
        t = monitor.arrive(f"m{i}", float(i))
        monitor.done(t, f"m{i}", float(i) + 0.5, service_s=0.5)
        assert monitor.tracked <= BOUND
    views = monitor.views(NAMES + 1.0)
    assert "busy" in views and views["busy"].in_service_elapsed_s
    assert f"m{NAMES - 1}" in views  # the most recent are kept
    assert monitor.first_byte(busy, "busy", NAMES + 1.0) > 0  # its ticket still counts
    said = [r for r in caplog.records if "max_tracked_models" in r.getMessage()]
    assert len(said) == 1


def test_a_full_monitor_of_busy_models_grows_only_by_requests_in_flight() -> None:
    monitor = QueueMonitor(slots=1, max_models=4)
    tickets = [(monitor.arrive(f"m{i}", 0.0), f"m{i}") for i in range(10)]
    assert monitor.tracked == 10  # each holds a request: nothing may be forgotten
    for t, model in tickets:
        monitor.done(t, model, 1.0, service_s=1.0)
    assert monitor.tracked == 4  # back to the bound as they fall idle
    monitor.arrive("new", 2.0)
    assert monitor.tracked == 4  # the least recently used idle one made room
    assert set(monitor.views(2.0)) == {"m7", "m8", "m9", "new"}


def test_a_waiting_room_and_its_service_model_keep_at_most_the_bound() -> None:
    async def run() -> tuple[int, int]:
        room = LocalQueue(slots=1, rules=RoomRules(60.0, 0.25), max_models=BOUND)
        for i in range(NAMES):
            model = f"m{i}"
            key, verdict = await room.turn(
                model, RequestShape(10), 0.0, is_divertible=False, may_divert=lambda: False
            )
            assert verdict is Verdict.SEND  # an untracked name is served as any other
            room.done(model, key, ServiceFigures(10, 5, 0.1, 0.2, 0.0))
            assert len(room.queues) <= BOUND
        room.close()
        return len(room.queues), len(room.model.models())

    queues, learned = asyncio.run(run())
    assert queues == BOUND and learned == BOUND


def test_hundreds_of_model_names_leave_status_and_metrics_bounded(
    start_brb: StartRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rig = start_brb(ollama=FakeOllama(), max_tracked_models=BOUND)
    rig.ask()
    series_before = series(rig.get("/metrics").text)
    for batch in range(BURSTS):
        answers = rig.burst(
            [
                Req("/api/chat", chat_body("/api/chat", "hi", model=f"name-{batch}-{i}"))
                for i in range(BURST)
            ],
            timeout_s=60.0,
        )
        assert [a.status for a in answers] == [200] * BURST  # every name is served
    status = rig.status()
    assert len(status["queue"]) <= BOUND
    assert len(status["history"]["models"]) <= HISTORY_MODELS  # the rest are "other"
    text = rig.get("/metrics").text
    assert "name-" not in text  # no model label at all
    assert (
        len(series(text)) <= len(series_before) + 10
    )  # a few counters' new outcomes, not per name
    said = [r for r in caplog.records if "max_tracked_models" in r.getMessage()]
    assert 1 <= len(said) <= 2  # once for the monitor, once for the waiting room


def series(metrics: str) -> set[str]:
    """The metric names with their label sets (one per line that is not a comment)."""
    return {
        re.sub(r"\s+\S+$", "", line)
        for line in metrics.splitlines()
        if line and not line.startswith("#")
    }
