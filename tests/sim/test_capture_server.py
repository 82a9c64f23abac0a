"""brb.sim.capture: a recording endpoint for notifier tests."""

from __future__ import annotations

import httpx

from brb.sim.capture import CaptureServer
from brb.sim.server import serve_in_thread


def test_records_json_posts_and_answers_like_slack() -> None:
    capture = CaptureServer.like_slack()
    with serve_in_thread(capture.app()) as url:
        response = httpx.post(
            f"{url}/services/T0/B0/xyz?x=1", json={"text": "brb pressed"}, headers={"X-Trace": "7"}
        )
    assert (response.status_code, response.text) == (200, "ok")
    [seen] = capture.captured
    assert (seen.method, seen.path, seen.query) == ("POST", "/services/T0/B0/xyz", {"x": "1"})
    assert seen.body == {"text": "brb pressed"} and seen.headers["x-trace"] == "7"


def test_answers_like_pagerduty_and_keeps_non_json_bodies() -> None:
    capture = CaptureServer.like_pagerduty()
    with serve_in_thread(capture.app()) as url:
        response = httpx.put(f"{url}/v2/enqueue", content=b"plain text")
        patched = httpx.patch(f"{url}/x", json=[1])
    assert response.status_code == 202 and response.json()["status"] == "success"
    assert "dedup_key" in response.json() and patched.status_code == 202
    assert [c.body for c in capture.captured] == ["plain text", [1]]
    assert [c.method for c in capture.captured] == ["PUT", "PATCH"]


def test_fail_next_then_recovers() -> None:
    capture = CaptureServer()
    capture.fail_next(2, status=429, body={"error": "slow down"})
    with serve_in_thread(capture.app()) as url:
        statuses = [httpx.post(f"{url}/hook", json={}).status_code for _ in range(3)]
        assert httpx.get(f"{url}/hook").status_code == 405
    assert statuses == [429, 429, 200]
    assert len(capture.captured) == 3
