"""What a provider's breaker shows: /metrics per provider, alerts on opening and on closing
(not per failure), ``brb status --json`` by name, and the ledger's provider column."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from daemon_rig import StartRig, poll

from brb import status
from brb.daemon.events import EventSink, ProviderClosed, ProviderOpened
from brb.sim.capture import CaptureServer
from brb.sim.openai import FakeOpenAI
from brb.sim.server import serve_in_thread


class Seen:
    """A test listener: the provider edges published."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def subscribe(self, sink: EventSink) -> None:
        sink.subscribe(ProviderOpened, self.events.append)
        sink.subscribe(ProviderClosed, self.events.append)


FAST = {"anthropic": {"breaker": {"failure_threshold": 2, "cooldown_seconds": 0.5}}}


def test_an_outage_alerts_once_when_it_opens_and_once_when_it_closes(
    start_brb: StartRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = CaptureServer(status=200, body={"ok": True})
    with serve_in_thread(hooks.app()) as url:
        monkeypatch.setenv("BRB_WEBHOOK_URL", f"{url}/hook")
        outage(start_brb, hooks)


def outage(start_brb: StartRig, hooks: CaptureServer) -> None:
    seen = Seen()
    rig = start_brb(openai=FakeOpenAI(), providers=FAST, listeners=[seen])
    rig.press()
    rig.anthropic.fail_next(3, 529, "overloaded_error")
    assert [rig.ask("/api/chat", f"q{i}").provider for i in range(3)] == ["openai"] * 3
    poll(lambda: rig.status()["providers"]["anthropic"]["state"] == "half_open", timeout_s=5)
    assert rig.ask("/api/chat", "probe fails").provider == "openai"  # the third 529
    poll(lambda: rig.status()["providers"]["anthropic"]["state"] == "half_open", timeout_s=5)
    assert rig.ask("/api/chat", "probe succeeds").provider == "anthropic"
    kinds = [(type(e).__name__, getattr(e, "reopened", None)) for e in seen.events]
    assert kinds == [("ProviderOpened", False), ("ProviderOpened", True), ("ProviderClosed", None)]

    # every edge is logged; the alert goes out once at opening, once at closing
    # (the failed probe's reopening is the same outage), never per failure
    def edges() -> list[str]:
        with rig.store() as store:
            return [e.kind for e in store.events(kinds=["provider_opened", "provider_closed"])]

    poll(lambda: edges() == ["provider_opened", "provider_opened", "provider_closed"])

    def provider_alerts() -> list[tuple[str, str]]:
        bodies = [c.body for c in hooks.captured if c.path == "/hook"]
        return [(b["kind"], b["action"]) for b in bodies if b["kind"].startswith("provider_")]

    poll(lambda: len(provider_alerts()) >= 2)
    assert provider_alerts() == [("provider_opened", "trigger"), ("provider_closed", "resolve")]

    metrics = rig.get("/metrics").text
    assert 'brb_provider_state{provider="anthropic",state="closed"} 1.0' in metrics
    assert 'brb_provider_opened_total{provider="anthropic"} 2.0' in metrics
    assert 'brb_provider_requests_total{provider="openai"} 4.0' in metrics
    assert 'brb_provider_errors_total{provider="anthropic",status="529"} 3.0' in metrics


def test_status_json_shows_each_breaker_without_asking_the_daemon(start_brb: StartRig) -> None:
    rig = start_brb(openai=FakeOpenAI(), providers=FAST)
    rig.press()
    rig.anthropic.fail_next(2, 529, "overloaded_error")
    rig.ask("/api/chat", "a")
    rig.ask("/api/chat", "b")

    def snap() -> dict[str, Any] | None:
        with rig.store() as store:
            s = status.snapshot(store, rig.cfg, datetime.now(UTC))
        return s if s["providers"]["anthropic"]["state"] != "closed" else None

    providers = poll(snap)["providers"]
    assert set(providers) == {"anthropic", "openai"}
    assert providers["anthropic"]["state"] in ("open", "half_open")
    assert providers["anthropic"]["failures"] == 2 and "529" in providers["anthropic"]["last_error"]
    assert providers["openai"] == {
        "state": "closed", "failures": 0, "open_until": None, "last_error": None
    }  # fmt: skip
    rows = rig.settled_rows(4)
    assert {(r["provider"], r["status"]) for r in rows} == {
        ("anthropic", "released"),
        ("openai", "settled"),
    }
