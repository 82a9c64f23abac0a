"""The admin surface over HTTP: status, press/release with a bearer token, metrics, health."""

from __future__ import annotations

import os

import pytest
from daemon_rig import MODEL, Rig, StartRig, poll
from prometheus_client.parser import text_string_to_metric_families

from brb.adapters.store_instances import Heartbeat

TOKEN = "s3cret-admin-token"
PRESS = "/admin/big-red-button/press"
RELEASE = "/admin/big-red-button/release"
ORIGINAL_FIELDS = {
    "status",
    "current_queue_depth",
    "requests_diverted_today",
    "cost_today",
    "budget_remaining",
    "average_cost_per_request",
    "time_in_emergency_mode",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def samples(rig: Rig) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = rig.get("/metrics")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def requests_total(rig: Rig, backend: str) -> float:
    key = ("brb_requests_total", (("backend", backend), ("outcome", "ok")))
    return samples(rig)[key]


def test_status_has_the_dashboards_fields_and_more(brb: Rig) -> None:
    brb.ask()  # one local request, so the model has a queue entry
    status = brb.status()
    assert set(status) >= ORIGINAL_FIELDS
    assert status["status"] == "STANDBY" and status["mode"] == "auto"
    assert status["current_queue_depth"] == 0
    assert status["requests_diverted_today"] == 0
    assert status["cost_today"] == "$0.00"
    assert status["budget_remaining"] == f"${brb.cfg.budget.daily_limit_usd:.2f}"
    assert status["average_cost_per_request"] == "$0.0000"
    assert status["time_in_emergency_mode"] == "N/A"
    assert isinstance(status["reason"], str)
    assert status["queue"][MODEL]["queue_depth"] == 0
    # the start event is written off the request path: it may land a moment later
    events = poll(lambda: brb.status()["last_events"], timeout_s=2.0)
    assert events[-1]["kind"] == "daemon_start"


def test_press_and_release_are_off_without_a_token(brb: Rig) -> None:
    for path in (PRESS, RELEASE):
        answer = brb.post(path, b"", bearer("anything"))
        assert answer.status == 403
        assert "BRB_ADMIN_TOKEN" in answer.json()["error"]
    assert brb.status()["mode"] == "auto"


def test_press_and_release_need_the_right_bearer_token(
    brb: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRB_ADMIN_TOKEN", TOKEN)
    for headers in ({}, bearer("wrong"), {"Authorization": f"Basic {TOKEN}"}):
        answer = brb.post(PRESS, b"", headers)
        assert answer.status == 401, headers
        assert answer.headers["www-authenticate"] == "Bearer"
    assert brb.status()["mode"] == "auto"

    pressed = brb.post(PRESS, {"reason": "load test", "for": "10m"}, bearer(TOKEN))
    assert pressed.status == 200, pressed.text
    body = pressed.json()
    assert body["changed"] is True and body["mode"] == "on" and body["status"] == "ACTIVE"
    assert body["override_until"] is not None and "load test" in body["reason"]
    # in effect at once: the daemon's own press needs no store poll
    assert brb.ask().provider == "anthropic"
    poll(lambda: brb.status()["requests_diverted_today"] == 1, timeout_s=2.0)  # settled
    status = brb.status()
    assert status["time_in_emergency_mode"] != "N/A"
    assert status["cost_today"].startswith("$")

    released = brb.post(RELEASE, b"", bearer(TOKEN))
    assert released.status == 200 and released.json()["mode"] == "auto"
    assert brb.ask().provider == "ollama"
    assert brb.post(PRESS, {"for": "soon"}, bearer(TOKEN)).status == 400  # says what is wrong
    events = [e.kind for e in brb.events("press", "release")]
    assert events == ["press", "release"]


def test_metrics_parse_and_move_with_traffic(start_brb: StartRig) -> None:
    rig = start_brb()
    before = requests_total(rig, "ollama")
    for _ in range(3):
        assert rig.ask().status == 200
    # counted as each request finishes (just after its last byte)
    poll(lambda: requests_total(rig, "ollama") == before + 3, timeout_s=2.0)
    families = {f.name for f in text_string_to_metric_families(rig.get("/metrics").text)}
    assert {"brb_requests", "brb_breaker_active", "brb_budget_remaining_usd"} <= families
    # the gauges follow on the 1 s tick
    poll(lambda: samples(rig).get(("brb_budget_limit_usd", ())) == 100.0, timeout_s=3.0)


def test_healthz(brb: Rig) -> None:
    answer = brb.get("/healthz")
    assert answer.status == 200
    assert answer.json() == {"status": "ok", "mode": "auto", "breaker": "standby"}

    bound = brb.url.removeprefix("http://")

    def heartbeat() -> Heartbeat | None:  # the daemon says it is alive, and where, in the store
        with brb.store() as store:
            beat = store.read_heartbeat()
        return beat if beat is not None and beat.listen == bound else None

    assert poll(heartbeat, timeout_s=2.0).pid == os.getpid()
