"""The event sink: dispatch by type, failing listeners contained, the thread hop;
and the daemon's events seen by an extra listener on the real rig."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from daemon_rig import LOCAL_TEXT, MODEL, StartRig, poll

from brb.core.breaker import Observation
from brb.daemon.events import (
    DaemonReady,
    DivertingStarted,
    DivertingStopped,
    Event,
    EventSink,
    RequestDone,
    Routed,
    Settled,
)

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def routed(divert: bool = False) -> Routed:
    return Routed(T0, "/api/chat", MODEL, "", divert, "pressed" if divert else "standby")


def test_the_sink_dispatches_by_type() -> None:
    sink = EventSink()
    got: dict[str, list[Event]] = {"routed": [], "ready": [], "all": []}
    sink.subscribe(Routed, got["routed"].append)
    sink.subscribe(DaemonReady, got["ready"].append)
    sink.subscribe(Event, got["all"].append)
    r, ready = routed(), DaemonReady("127.0.0.1:1")
    sink.publish(r)
    sink.publish(ready)
    sink.publish(DivertingStopped(T0, "released", "cli", "me"))  # nobody but "all" listens
    assert got["routed"] == [r]
    assert got["ready"] == [ready]
    assert [type(e) for e in got["all"]] == [Routed, DaemonReady, DivertingStopped]


def test_a_listener_subscribed_late_still_gets_events() -> None:
    sink = EventSink()
    first: list[Event] = []
    late: list[Event] = []
    sink.subscribe(Routed, first.append)
    sink.publish(routed())  # builds the dispatch table for Routed
    sink.subscribe(Routed, late.append)
    sink.publish(routed(True))
    assert len(first) == 2
    assert [e.divert for e in late if isinstance(e, Routed)] == [True]


def test_a_failing_listener_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = EventSink()
    after: list[Event] = []

    def explode(e: Event) -> None:
        raise RuntimeError("listener bug")

    sink.subscribe(DivertingStarted, explode)
    sink.subscribe(DivertingStarted, after.append)
    event = DivertingStarted(T0, "queue too deep", "breaker", "brb", Observation(9, 1.0))
    with caplog.at_level(logging.ERROR, logger="brb.daemon.events"):
        sink.publish(event)  # does not raise
    assert after == [event]
    (record,) = [r for r in caplog.records if r.name == "brb.daemon.events"]
    assert "DivertingStarted" in record.getMessage()
    assert record.exc_info is not None and "listener bug" in str(record.exc_info[1])


def test_publishing_from_another_thread_runs_the_listener_on_the_loop() -> None:
    async def main() -> tuple[int, list[int]]:
        sink = EventSink()
        sink.bind(asyncio.get_running_loop())
        threads: list[int] = []
        done = asyncio.Event()

        def on_ready(e: DaemonReady) -> None:
            threads.append(threading.get_ident())
            done.set()

        sink.subscribe(DaemonReady, on_ready)
        worker = threading.Thread(target=sink.publish, args=(DaemonReady("x"),))
        worker.start()
        worker.join(5)
        await asyncio.wait_for(done.wait(), 5)
        return threading.get_ident(), threads

    loop_thread, threads = asyncio.run(main())
    assert threads == [loop_thread]


# --- on the real daemon -----------------------------------------------------------------


class Exploding:
    """A listener that fails on everything it is given."""

    def __init__(self) -> None:
        self.calls = 0

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(Event, self.explode)

    def explode(self, e: Event) -> None:
        self.calls += 1
        raise RuntimeError(f"listener bug on {type(e).__name__}")


class Recording:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(Event, self.events.append)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in list(self.events) if isinstance(e, kind)]


def test_a_failing_listener_never_breaks_a_request(
    start_brb: StartRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="brb.daemon.events")
    exploding, recording = Exploding(), Recording()
    rig = start_brb(listeners=[exploding, recording])
    answer = rig.ask("/api/chat", "hi")
    assert answer.status == 200, answer.text
    assert answer.json()["message"]["content"] == LOCAL_TEXT

    def failed_on() -> set[str]:
        return {r.getMessage() for r in list(caplog.records) if r.name == "brb.daemon.events"}

    # RequestDone follows the answer's last byte: wait for it
    poll(lambda: {"a listener failed on Routed", "a listener failed on RequestDone"} <= failed_on())
    assert exploding.calls >= 2
    # the listeners subscribed after the failing one still got the events
    (done,) = poll(lambda: recording.of(RequestDone))
    row = done.row
    assert (row.endpoint, row.model, row.backend, row.status, row.outcome) == (
        "/api/chat",
        MODEL,
        "ollama",
        200,
        "ok",
    )
    # and so did the metrics listener, subscribed before it
    metrics = rig.get("/metrics").text
    assert 'brb_requests_total{backend="ollama",outcome="ok"} 1.0' in metrics


def test_a_diverted_request_publishes_routed_settled_and_done(start_brb: StartRig) -> None:
    recording = Recording()
    rig = start_brb(listeners=[recording])
    rig.press()
    answer = rig.ask("/api/chat", "hi")
    assert answer.status == 200, answer.text
    assert answer.provider == "anthropic"
    (started,) = poll(lambda: recording.of(DivertingStarted))
    assert started.source == "test" and started.who == "pytest"
    (r,) = recording.of(Routed)
    assert (r.divert, r.reason, r.model) == (True, "pressed", MODEL)
    (settled,) = poll(lambda: recording.of(Settled))
    assert settled.provider == "anthropic" and settled.cost_usd > 0
    assert settled.usage.output_tokens > 0
    (done,) = poll(lambda: recording.of(RequestDone))
    assert (done.row.backend, done.row.reason, done.row.status) == ("anthropic", "pressed", 200)
    assert done.row.output_tokens == settled.usage.output_tokens
