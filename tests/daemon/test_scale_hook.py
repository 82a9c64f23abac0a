"""The scale hook: called once per activation when the breaker has been active longer
than ``scale_hook_after_seconds`` (by the ticks' own time), with the extra slots the
queue needs; a URL gets a JSON POST (a capture server on loopback), a command gets the
JSON on stdin (it writes it to a file); a failing hook is recorded and alerted, and
never raises into the daemon."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from brb.adapters.store import Store
from brb.config import BrbConfig, parse
from brb.core.breaker import Mode, Observation, Phase
from brb.core.queueing import QueueView
from brb.daemon.events import BreakerMoved, EventSink, ScaleHookCalled, Ticked
from brb.daemon.listeners.scale_hook import ScaleHookListener
from brb.daemon.store_writer import StoreWriter
from brb.sim.capture import CaptureServer
from brb.sim.server import serve

T0 = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
POOL = [
    {"name": "gpu-a", "url": "http://ops:s3cret@10.0.0.1:11434", "healthy": True},
    {"name": "gpu-b", "url": "http://10.0.0.2:11434", "healthy": False},
]
# 4 waiting on 1 slot each of gpu-a/gpu-b (2 in all), 10 s each, threshold 20 s:
# with k more slots, k start now and the rest take ceil((4-k)/(2+k)) rounds of 10 s.
# k=0: 2 rounds = 20 s, already fits -> 0; so make it 6 waiting: k=0: 3 rounds (30 s),
# k=1: ceil(5/3) = 2 rounds (20 s) -> 1 extra slot.
VIEWS = {"llama3": QueueView(slots=2, in_service_elapsed_s=(3.0, 4.0), waiting=6,
                             service_ewma_s=10.0)}  # fmt: skip


def config(tmp_path: Path, hook: dict[str, Any], after_s: float = 300) -> BrbConfig:
    return parse(
        {
            "big_red_button": {
                "upstreams": [
                    {"name": "gpu-a", "url": "http://ops:s3cret@10.0.0.1:11434", "parallel": 1},
                    {"name": "gpu-b", "url": "http://10.0.0.2:11434", "parallel": 1},
                ],
                "thresholds": {"wait_time_seconds": 20},
                "scale_hook": hook,
                "scale_hook_after_seconds": after_s,
            }
        }
    )


def tick(at: datetime, phase: Phase = Phase.ACTIVE) -> Ticked:
    return Ticked(at, VIEWS, Observation(6, 33.0), phase, Mode.AUTO, phase is Phase.ACTIVE)


class Harness:
    """A real sink, store writer and listener on the running loop."""

    def __init__(self, cfg: BrbConfig, db: Path) -> None:
        self.sink = EventSink()
        self.writer = StoreWriter(Store.open(db))
        self.calls: list[ScaleHookCalled] = []
        self.sink.subscribe(ScaleHookCalled, self.calls.append)
        assert cfg.scale_hook is not None
        self.listener = ScaleHookListener(
            cfg, cfg.scale_hook, writer=self.writer, sink=self.sink, pool=lambda: POOL,
            advice=lambda: {"extra_slots_needed": None, "window_days": 7,
                            "button_cost_usd": 41.5, "summary": "more than 8 ..."},
        )  # fmt: skip
        self.listener.subscribe(self.sink)

    async def activate_and_tick(self, seconds: list[float]) -> None:
        self.sink.bind(asyncio.get_running_loop())
        self.sink.publish(BreakerMoved(T0, "activated", "wait 33.00s > 20s", Observation(6, 33)))
        for s in seconds:
            self.sink.publish(tick(T0 + timedelta(seconds=s)))

    async def settle(self, n: int, timeout_s: float = 30.0) -> None:
        """Wait for ``n`` hook calls to finish (generous: a loaded machine)."""
        for _ in range(int(timeout_s / 0.05)):
            if len(self.calls) >= n:
                break
            await asyncio.sleep(0.05)
        await self.listener.aclose()
        await self.writer.drain()
        self.writer.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "brb.db"


def events(db: Path) -> list[Any]:
    with Store.open(db) as s:
        return s.events(kinds=["scale_hook"])


def test_a_url_gets_one_post_per_activation_after_the_delay(tmp_path: Path, db: Path) -> None:
    capture = CaptureServer(status=204, body="")

    async def main() -> None:
        async with serve(capture.app()) as url:
            h = Harness(config(tmp_path, {"url": url + "/brb-scale"}), db)
            # active 0..299 s: not yet; 300 s: called; 301.. s: not again
            await h.activate_and_tick([1, 120, 299.9, 300, 301, 900])
            await h.settle(1)
            assert len(capture.captured) == 1
            # a new activation calls again, once
            h2 = Harness(config(tmp_path, {"url": url + "/brb-scale"}), db)
            h2.sink.bind(asyncio.get_running_loop())
            h2.sink.publish(BreakerMoved(T0, "activated", "r", Observation(1, 1)))
            h2.sink.publish(tick(T0 + timedelta(seconds=400)))
            h2.sink.publish(BreakerMoved(T0, "deactivated", "calm", Observation(0, 0)))
            h2.sink.publish(tick(T0 + timedelta(seconds=401), Phase.STANDBY))
            h2.sink.publish(BreakerMoved(T0 + timedelta(seconds=500), "activated", "again",
                                         Observation(6, 33)))  # fmt: skip
            h2.sink.publish(tick(T0 + timedelta(seconds=700)))  # 200 s in: not yet
            h2.sink.publish(tick(T0 + timedelta(seconds=800)))  # 300 s in: called
            await h2.settle(2)
            assert len(capture.captured) == 3

    asyncio.run(main())
    post = capture.captured[0]
    assert post.method == "POST" and post.path == "/brb-scale"
    assert post.headers["content-type"] == "application/json"
    body = post.body
    assert isinstance(body, dict)
    assert body["event"] == "brb.scale_hook" and body["active_seconds"] == 300
    assert body["active_since"] == T0.isoformat()
    assert body["extra_slots_for_queue_now"] == 1
    # the recorded traffic needed more than the bound: the bound (8) wins
    assert body["extra_slots_from_recorded_traffic"] is None
    assert body["extra_slots_needed"] == 8
    assert (body["queue_depth"], body["wait_seconds"], body["slots"]) == (6, 33.0, 2)
    assert [(m["name"], m["parallel"], m["healthy"]) for m in body["pool"]] == [
        ("gpu-a", 1, True), ("gpu-b", 1, False),
    ]  # fmt: skip
    assert "s3cret" not in json.dumps(body)  # no secrets in the payload
    assert body["advice"]["button_cost_usd"] == 41.5
    [first, *_] = events(db)
    assert first.reason == "8 more slot(s) needed" and first.detail["ok"] is True
    assert first.who.startswith("http://127.0.0.1:") and first.who.endswith("/brb-scale")


def test_the_target_is_named_without_credentials_or_query() -> None:
    from brb.adapters.scale_hook import describe
    from brb.capacity_config import ScaleHook

    hook = ScaleHook(url="https://ops:s3cret@hooks.example/scale?token=t0ken")
    assert describe(hook) == "https://hooks.example/scale"
    assert describe(ScaleHook(command=["/usr/local/bin/add-box", "--key", "k"])) == (
        "command /usr/local/bin/add-box"
    )


def test_a_command_gets_the_json_on_stdin(tmp_path: Path, db: Path) -> None:
    out = tmp_path / "hook.json"
    write = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    cfg = config(tmp_path, {"command": [sys.executable, "-c", write]}, after_s=60)

    async def main() -> None:
        h = Harness(cfg, db)
        await h.activate_and_tick([59, 60, 61])
        await h.settle(1)
        assert [c.error for c in h.calls] == [None]

    asyncio.run(main())
    body = json.loads(out.read_text())
    assert body["active_seconds"] == 60 and body["extra_slots_for_queue_now"] == 1


@pytest.mark.parametrize(
    ("hook", "says"),
    [
        (
            {
                "command": [
                    sys.executable,
                    "-c",
                    "import sys; sys.stderr.write('no quota'); exit(3)",
                ]
            },
            "exited 3: no quota",
        ),
        ({"command": ["/nonexistent/brb-scale-hook"]}, "can't be run"),
        ({"url": "http://127.0.0.1:9/refused"}, "unreachable"),  # discard port: nobody
        ({"url": "HTTP_500"}, "answered HTTP 500"),
    ],
    ids=["exit-3", "missing-program", "refused", "http-500"],
)
def test_a_failing_hook_is_recorded_and_alerted_never_raised(
    tmp_path: Path, db: Path, hook: dict[str, Any], says: str
) -> None:
    capture = CaptureServer(status=500, body="boom")

    async def main() -> list[ScaleHookCalled]:
        async with serve(capture.app()) as url:
            h = Harness(config(tmp_path, {"url": url + "/x"} if hook.get("url") == "HTTP_500"
                                else hook, after_s=10), db)  # fmt: skip
            await h.activate_and_tick([10, 11])
            await h.settle(1)
            return h.calls

    [called] = asyncio.run(main())
    assert called.error is not None and called.extra_slots_needed == 8
    assert says in called.error  # the message says what went wrong
    [event] = events(db)
    assert event.detail["ok"] is False and event.reason == called.error


def test_a_slow_command_is_killed_after_its_timeout(tmp_path: Path, db: Path) -> None:
    slow = [sys.executable, "-c", "import time; time.sleep(60)"]
    cfg = config(tmp_path, {"command": slow, "timeout_seconds": 0.5}, after_s=10)

    async def main() -> list[ScaleHookCalled]:
        h = Harness(cfg, db)
        await h.activate_and_tick([10])
        await h.settle(1)
        return h.calls

    [called] = asyncio.run(main())
    assert called.error is not None and "still running after 0.5s: killed" in called.error


def test_a_failure_becomes_a_warning_alert_naming_the_target() -> None:
    from brb.core import alerts

    error = "scale hook http://10.0.0.9/x answered HTTP 500"
    alert = alerts.scale_hook_failed(T0, day="2026-11-27", target="http://10.0.0.9/x", error=error)
    assert alert.kind is alerts.AlertKind.SCALE_HOOK_FAILED
    assert alert.severity is alerts.Severity.WARNING
    assert "http://10.0.0.9/x" in alert.title and "HTTP 500" in alert.text


def test_a_running_daemon_calls_the_hook_once_when_its_breaker_stays_active(
    start_brb: Any,
) -> None:
    """The wiring: brb serve with a slow Ollama, a burst trips the breaker, and the
    hook (a capture server on loopback) gets one POST for the activation."""
    import threading

    from daemon_rig import LOCAL_REPLY, Req, chat_body, poll

    from brb.sim.ollama import FakeOllama
    from brb.sim.server import serve_in_thread

    capture = CaptureServer(status=200, body="ok")
    with serve_in_thread(capture.app()) as hook_url:
        rig = start_brb(
            ollama=FakeOllama(service_s=0.5, reply_text=LOCAL_REPLY),
            thresholds={"queue_depth": 1, "wait_time_seconds": 60, "min_active_seconds": 60},
            waiting_room={"enabled": False},
            scale_hook={"url": hook_url + "/scale"},
            scale_hook_after_seconds=0.5,
        )
        burst = threading.Thread(
            target=rig.burst,
            args=([Req("/api/chat", chat_body("/api/chat", f"q{i}")) for i in range(4)],),
            kwargs={"timeout_s": 60},
        )
        burst.start()
        try:
            poll(lambda: capture.captured, timeout_s=60, every_s=0.1)
        finally:
            burst.join(90)
        body = capture.captured[0].body
        assert isinstance(body, dict) and body["event"] == "brb.scale_hook"
        assert body["active_seconds"] >= 0.5 and body["pool"][0]["name"] == "default"
        poll(lambda: rig.events("scale_hook"), timeout_s=30)
        assert len(capture.captured) == 1  # once per activation (it is still active)
