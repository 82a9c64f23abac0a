"""The fleet's one pager (issue 14, point 5): two instances on one PostgreSQL
whose breakers trip at different moments page once, and resolve once, after the
last of them lets go.

Each instance is the daemon's own parts (its store writer, live state, incident
tracker and alerts listener, as the daemon wires them) against the same real
database, with a PagerDuty and a webhook notifier pointed at a capture server.
The breakers are stepped with explicit observations and times, so the trips and
the let-gos are at known moments, and each instance's own queue decides its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from brb.adapters.store import Store
from brb.adapters.store_instances import Instance
from brb.config import BrbConfig, parse
from brb.core.breaker import Observation, Phase
from brb.daemon.events import EventSink
from brb.daemon.listeners.alerts import AlertsListener
from brb.daemon.listeners.incidents import IncidentTracker, incident_id
from brb.daemon.live_state import LiveState
from brb.daemon.store_writer import StoreWriter
from brb.sim.capture import CaptureServer
from brb.sim.server import serve_in_thread

T0 = datetime.now(UTC).replace(microsecond=0)
BUSY = Observation(20, 0.0)  # over the queue depth of 10
CALM = Observation(0, 0.0)


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CaptureServer, str]]:
    server = CaptureServer(status=202, body={"status": "success", "message": "ok"})
    with serve_in_thread(server.app()) as url:
        monkeypatch.setenv("BRB_PAGERDUTY_ROUTING_KEY", "routing-key-0123")
        monkeypatch.setenv("BRB_WEBHOOK_URL", f"{url}/hook")
        yield server, url


def config(url: str) -> BrbConfig:
    return parse(
        {
            "big_red_button": {
                "notifications": {
                    "pagerduty_service": "chatbot-emergency",
                    "pagerduty_events_url": f"{url}/pd/v2/enqueue",
                },
                "thresholds": {
                    "queue_depth": 10,
                    "wait_time_seconds": 60,
                    "min_active_seconds": 1,
                },
            }
        }
    )


@dataclass
class Member:
    """One instance of the fleet: the parts that turn its breaker into pages."""

    id: str
    writer: StoreWriter
    live: LiveState
    alerts: AlertsListener

    def step(self, obs: Observation, at: datetime) -> None:
        self.live.observe(obs, at)

    async def settle(self) -> None:
        await self.writer.drain()
        while self.alerts._tasks:  # the pages decided after the fleet's breaker was read
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        await self.alerts.aclose()
        await self.writer.drain()
        self.writer.close()


def member(cfg: BrbConfig, pg_url: str, iid: str) -> Member:
    sink = EventSink()
    sink.bind(asyncio.get_running_loop())
    writer = StoreWriter(Store.open(pg_url))
    live = LiveState(reader=Store.open(pg_url), writer=writer, limits=cfg.breaker_thresholds(),
                     clock=lambda: T0, sink=sink, instance_id=iid)  # fmt: skip
    alerts = AlertsListener(cfg, writer, lambda: T0, sink)
    IncidentTracker().subscribe(sink)
    alerts.subscribe(sink)
    with Store.open(pg_url) as store:  # a live heartbeat: the other instances count it
        store.write_instance(
            Instance(
                iid, "host-" + iid, 1, "0", f"{iid}:11435", T0, T0, 3600.0, "standby", 0, False
            )  # fmt: skip
        )
    return Member(iid, writer, live, alerts)


def pages(server: CaptureServer) -> list[tuple[str, str]]:
    return [
        (c.body["event_action"], c.body["dedup_key"])
        for c in server.captured
        if c.path.startswith("/pd/")
    ]


def hooks(server: CaptureServer) -> list[dict[str, Any]]:
    return [c.body for c in server.captured if c.path.startswith("/hook")]


def test_two_instances_tripping_at_different_moments_page_once_and_resolve_once(
    pg_url: str, capture: tuple[CaptureServer, str]
) -> None:
    server, url = capture
    cfg = config(url)

    async def main() -> None:
        a = member(cfg, pg_url, "a")
        b = member(cfg, pg_url, "b")
        try:
            a.step(BUSY, T0 + timedelta(seconds=1))  # a trips first: the fleet's page
            await a.settle()
            b.step(BUSY, T0 + timedelta(seconds=2))  # b trips later: the same incident
            await b.settle()
            assert (a.live.phase, b.live.phase) == (Phase.ACTIVE, Phase.ACTIVE)
            a.step(CALM, T0 + timedelta(seconds=5))  # a lets go, b is still active
            await a.settle()
            assert (a.live.phase, b.live.phase) == (Phase.STANDBY, Phase.ACTIVE)
            b.step(CALM, T0 + timedelta(seconds=9))  # the last one lets go: the resolve
            await b.settle()
        finally:
            await a.close()  # waits for every delivery still pending
            await b.close()

    asyncio.run(main())
    (trigger, resolve) = pages(server)
    assert trigger == ("trigger", resolve[1]) and resolve[0] == "resolve"
    assert [h["kind"] for h in hooks(server)] == ["activated", "deactivated"]
    # the resolve is the last instance's (a's let-go would say 4 s), of the first's incident
    assert hooks(server)[1]["fields"]["duration_s"] == pytest.approx(8.0)
    assert hooks(server)[0]["dedup"] == "incident/activated:" + incident_id(
        T0 + timedelta(seconds=1)
    )
