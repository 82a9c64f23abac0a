"""The dashboard over plain HTTP: the page and its files, the status fields it reads,
the live stream, and the admin prefix never reaching Ollama."""

from __future__ import annotations

import json
import re
import urllib.request
from importlib import resources

import pytest
from daemon_rig import MODEL, Rig, StartRig, poll

PAGE = "/admin/big-red-button/"
TOKEN = "never-shown-token"


def test_the_page_and_its_files_are_served_from_the_package_with_a_strict_policy(
    brb: Rig,
) -> None:
    page = brb.get(PAGE)
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    for name, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
        answer = brb.get(PAGE + "static/" + name)
        assert answer.status == 200 and answer.headers["content-type"].startswith(kind)
    # every file the page loads is relative to the daemon: nothing from outside
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert links and all(not re.match(r"^(https?:)?//", link) for link in links), links
    static = resources.files("brb.daemon") / "static"
    css = (static / "dashboard.css").read_text(encoding="utf-8")
    assert "url(" not in css and "@import" not in css and "@font-face" not in css
    js = (static / "dashboard.js").read_text(encoding="utf-8")
    urls = set(re.findall(r"https?://[^\s\"']+", js))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls  # an XML namespace, never fetched


def test_the_admin_prefix_is_never_forwarded_to_ollama(brb: Rig) -> None:
    assert brb.get("/admin/big-red-button").status == 200  # redirected to the page
    for path in (PAGE + "nope", PAGE + "static/nope.js", PAGE + "static/index.html"):
        answer = brb.get(path)
        assert answer.status == 404 and "no such admin endpoint" in answer.json()["error"]
    assert [p for p in brb.ollama.received if p.startswith("/admin")] == []


def test_status_has_what_the_page_needs_and_never_the_token(
    start_brb: StartRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = start_brb(budget={"alert_at_percent": [50, 90]}, admin={"press_for": "30m"})
    assert rig.ask().status == 200
    status = rig.status()
    assert status["state"] == "STANDBY"
    assert status["alert_at_percent"] == [50.0, 90.0]
    assert status["thresholds"] == {"queue_depth": 50, "wait_time_seconds": 60.0}
    assert status["admin"] == {
        "token_configured": False,
        "token_env": "BRB_ADMIN_TOKEN",
        "press_for": "30m",
        "press_reason": "pressed from the dashboard",
    }
    assert status["incident"] is None and status["cost_per_request_usd"] is None
    history = poll(lambda: rig.status()["history"]["models"].get(MODEL))  # samples: 1 s tick
    assert len(history["queue_depth"]) == 90 and history["queue_depth"][-1] == 0

    monkeypatch.setenv("BRB_ADMIN_TOKEN", TOKEN)
    answer = rig.get("/admin/big-red-button/status")
    assert answer.json()["admin"]["token_configured"] is True
    assert TOKEN not in answer.text


def test_a_press_shows_its_incident_and_held_is_its_own_state(
    brb: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    brb.press()
    assert brb.ask().provider == "anthropic"
    # the incident counts the Settled event at once; the ledger row is written on the
    # store's writer thread a moment later: wait for both
    status = poll(
        lambda: (s := brb.status())["incident"]["requests"] == 1 and s["spend_today_usd"] > 0 and s,
        timeout_s=3.0,
    )
    assert status["state"] == "PRESSED"
    assert status["incident"]["cost_usd"] > 0 and status["incident"]["duration_seconds"] >= 0
    assert status["cost_per_request_usd"] == pytest.approx(status["spend_today_usd"])

    monkeypatch.setenv("BRB_ADMIN_TOKEN", TOKEN)
    held = brb.post(
        "/admin/big-red-button/release",
        {"hold": True, "for": "5m"},
        {"Authorization": f"Bearer {TOKEN}"},
    )
    assert held.status == 200 and held.json()["state"] == "HELD"
    assert held.json()["incident"] is None


def test_the_stream_sends_status_snapshots_every_second(brb: Rig) -> None:
    request = urllib.request.Request(brb.url + PAGE + "events")
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback
        assert resp.headers["Content-Type"] == "text/event-stream"
        snapshots: list[dict[str, object]] = []
        event = None
        while len(snapshots) < 3:  # the first at once, then one a second
            line = resp.readline().decode().rstrip("\n")
            if line.startswith("retry: "):
                assert int(line.removeprefix("retry: ")) <= 1000
            elif line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "status":
                snapshots.append(json.loads(line.removeprefix("data: ")))
    assert all(s["state"] == "STANDBY" for s in snapshots)
    assert len({s["now"] for s in snapshots}) == 3  # fresh each time, not one repeated
