"""A running daemon with every notifier pointed at a capture server.

A press (and its release) and a burst (and its drain) each give one Slack
message per transition, a PagerDuty trigger then a resolve with the same
dedup_key, and a Statuspage component degraded then operational: once each,
no storms.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from daemon_rig import Req, StartRig, chat_body, poll

from brb import control
from brb.sim.capture import CaptureServer
from brb.sim.ollama import FakeOllama
from brb.sim.server import serve_in_thread


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CaptureServer, str]]:
    server = CaptureServer(status=202, body={"status": "success", "message": "ok"})
    with serve_in_thread(server.app()) as url:
        monkeypatch.setenv("BRB_SLACK_WEBHOOK_URL", f"{url}/slack/T000/B000/secret")
        monkeypatch.setenv("BRB_PAGERDUTY_ROUTING_KEY", "routing-key-0123")
        monkeypatch.setenv("BRB_WEBHOOK_URL", f"{url}/hook")
        monkeypatch.setenv("BRB_STATUSPAGE_API_KEY", "sp-key")
        yield server, url


def _settings(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "notifications": {
            "slack_channel": "#ops-emergency",
            "pagerduty_service": "chatbot-emergency",
            "pagerduty_events_url": f"{url}/pd/v2/enqueue",
            "statuspage": {"api_base": f"{url}/sp/v1", "page_id": "page1", "component_id": "comp1"},
        },
        **extra,
    }


def _by_path(server: CaptureServer, prefix: str) -> list[Any]:
    return [c for c in server.captured if c.path.startswith(prefix)]


def _wait_for(server: CaptureServer, prefix: str, n: int) -> list[Any]:
    return poll(
        lambda: len(_by_path(server, prefix)) >= n and _by_path(server, prefix), timeout_s=8.0
    )


def test_press_and_release_alert_once_each(
    start_brb: StartRig, capture: tuple[CaptureServer, str]
) -> None:
    server, url = capture
    rig = start_brb(**_settings(url))
    rig.press()
    _wait_for(server, "/pd/", 1)
    with rig.store() as store:
        control.press(store, now=datetime.now(UTC), source="test", who="pytest")  # a no-op press
        control.release(
            store, now=datetime.now(UTC), source="test", who="pytest", reason="drill over"
        )
    poll(lambda: rig.get("/healthz").json()["mode"] == "auto", timeout_s=2.0)
    pd = _wait_for(server, "/pd/", 2)
    slack = _wait_for(server, "/slack/", 2)
    sp = _wait_for(server, "/sp/", 2)
    hook = _wait_for(server, "/hook", 2)

    assert [e.body["event_action"] for e in pd] == ["trigger", "resolve"]
    assert pd[0].body["dedup_key"] == pd[1].body["dedup_key"]
    assert pd[0].body["routing_key"] == "routing-key-0123"
    assert [c.body["component"]["status"] for c in sp] == ["degraded_performance", "operational"]
    assert sp[0].path == "/sp/v1/pages/page1/components/comp1"
    assert sp[0].headers["authorization"] == "OAuth sp-key"
    assert len(slack) == 2 and len(hook) == 2
    # No storm: a later press is a barrier. Each notifier delivers in order, so a
    # duplicate of the first incident's alerts would have arrived before its alerts.
    rig.press()
    pd = _wait_for(server, "/pd/", 3)
    assert [e.body["event_action"] for e in pd] == ["trigger", "resolve", "trigger"]
    assert pd[2].body["dedup_key"] != pd[0].body["dedup_key"]  # a new incident
    for prefix in ("/slack/", "/sp/", "/hook"):
        assert len(_wait_for(server, prefix, 3)) == 3, prefix
    # and the secrets never reached the event log
    for e in rig.events("alert_delivery"):
        assert "secret" not in str(e.detail) and "routing-key-0123" not in str(e.detail)


def test_a_burst_activates_and_the_drain_resolves(
    start_brb: StartRig, capture: tuple[CaptureServer, str]
) -> None:
    server, url = capture
    rig = start_brb(
        ollama=FakeOllama(num_parallel=1, service_s=0.2),
        **_settings(
            url, thresholds={"queue_depth": 50, "wait_time_seconds": 0.3, "min_active_seconds": 0.5}
        ),
    )
    for i in range(2):  # a running daemon has seen traffic: it knows the service time
        assert rig.post("/api/chat", chat_body("/api/chat", f"warm {i}")).status == 200
    answers = rig.burst([Req("/api/chat", chat_body("/api/chat", f"q{i}")) for i in range(12)])
    assert all(a.status == 200 for a in answers)
    assert any(a.provider == "anthropic" for a in answers)
    pd = _wait_for(server, "/pd/", 2)
    assert [e.body["event_action"] for e in pd] == ["trigger", "resolve"]
    assert pd[0].body["dedup_key"] == pd[1].body["dedup_key"]
    sp = _wait_for(server, "/sp/", 2)
    assert [c.body["component"]["status"] for c in sp] == ["degraded_performance", "operational"]
    assert len(_by_path(server, "/slack/")) == 2


def test_the_learned_service_time_is_kept_for_the_next_daemon(start_brb: StartRig) -> None:
    """The first burst after a restart is not blind: the service time learned is
    sampled to the store, where a starting daemon seeds its estimate from."""
    slow = {
        "thresholds": {"queue_depth": 50, "wait_time_seconds": 0.3, "min_active_seconds": 0.5},
        "database": None,
    }
    first = start_brb(ollama=FakeOllama(num_parallel=1, service_s=0.2), **slow)
    for i in range(3):
        assert first.post("/api/chat", chat_body("/api/chat", f"warm {i}")).status == 200
    poll(lambda: first.status()["queue"], timeout_s=3.0)  # a sample with the estimate is on disk
    with first.store() as store:
        estimates = poll(
            lambda: store.last_service_estimates(since=datetime(2000, 1, 1, tzinfo=UTC))
        )
    assert 0.15 < estimates["llama3"] < 0.3
    assert first.stop() is None
    # The next daemon on the same state knows it before serving a single request.
    second = start_brb(db=first.db, ollama=FakeOllama(num_parallel=1, service_s=0.2), **slow)
    seeded = second.status()["queue"]["llama3"]["service_seconds_avg"]
    assert seeded == pytest.approx(estimates["llama3"], abs=0.001)
    assert sum(second.ollama.received[p] for p in ("/api/chat", "/api/generate")) == 0


def test_a_budget_percentage_alerts_once_a_day(
    start_brb: StartRig, capture: tuple[CaptureServer, str]
) -> None:
    server, url = capture
    rig = start_brb(
        **_settings(url),
        budget={"daily_limit_usd": 5, "alert_at_percent": [1, 90]},
        models={"max_tokens": 64},
        pricing={"claude-sonnet-5-5": {"input_per_mtok": 1000, "output_per_mtok": 1000}},
    )
    rig.press()
    for i in range(4):
        assert rig.post("/api/chat", chat_body("/api/chat", f"q{i}")).provider == "anthropic"
    rig.settled_rows(4)

    def budget_messages() -> list[Any]:
        return [c for c in _by_path(server, "/hook") if c.body.get("kind") == "budget_percent"]

    (alert,) = poll(budget_messages, timeout_s=5.0)
    assert alert.body["fields"]["percent"] == 1
    assert rig.post("/api/chat", chat_body("/api/chat", "one more")).provider == "anthropic"
    rig.settled_rows(5)
    # A release after the settlement is a barrier: alerts reach the webhook in the
    # order they were raised, so a repeat of the 1% alert would arrive before it.
    with rig.store() as store:
        control.release(store, now=datetime.now(UTC), source="test", who="pytest")
    poll(lambda: [c for c in _by_path(server, "/hook") if c.body.get("kind") == "deactivated"])
    assert len(budget_messages()) == 1  # the 1% line was crossed once today: no repeat


def test_a_release_after_a_restart_resolves_the_page_opened_before(
    start_brb: StartRig, capture: tuple[CaptureServer, str]
) -> None:
    server, url = capture
    first = start_brb(**_settings(url))
    first.press()
    (trigger,) = _wait_for(server, "/pd/", 1)
    assert first.stop() is None  # the first daemon is gone (SIGTERM's way)
    second = start_brb(db=first.db, **_settings(url))  # a new daemon, same state
    assert second.get("/healthz").json()["mode"] == "on"
    with second.store() as store:
        control.release(store, now=datetime.now(UTC), source="test", who="pytest")
    pd = _wait_for(server, "/pd/", 2)
    assert [e.body["event_action"] for e in pd] == ["trigger", "resolve"]
    assert pd[1].body["dedup_key"] == trigger.body["dedup_key"]
