"""brb.adapters.notifiers: payload shapes, which notifiers are on, and one HTTP attempt
against a real capture server."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from brb.adapters.notifiers import checks, enabled_notifiers, http, pagerduty, slack, statuspage
from brb.adapters.notifiers import webhook as generic
from brb.adapters.notifiers.http import Outcome, Request
from brb.config import parse
from brb.core import alerts, provider_alerts
from brb.sim.capture import CaptureServer
from brb.sim.server import serve

T0 = datetime(2026, 3, 8, 14, 30, tzinfo=UTC)
PRESS = alerts.activated(
    T0, incident_id="7", reason="drill", queue_depth=4, wait_s=2.0, source="cli", who="alice"
)
RELEASE = alerts.deactivated(
    T0 + timedelta(minutes=5),
    incident_id="7",
    duration_s=300,
    diverted=12,
    cost_usd=0.42,
    source="cli",
    who="alice",
)
AUTO = alerts.activated(
    T0,
    incident_id="8",
    reason="queue depth 63 > 50",
    queue_depth=63,
    wait_s=9.0,
    source="breaker",
    who="brb",
)
PERCENT = alerts.budget_percent(T0, day="2026-03-08", percent=80, spent_usd=80, limit_usd=100)
EXHAUSTED = alerts.budget_exhausted(T0, day="2026-03-08", spent_usd=100, limit_usd=100)
ROLLOVER = alerts.rollover(
    T0, new_day="2026-03-09", previous_day="2026-03-08", previous_spend_usd=100
)
ROLLOVER_RESOLVING = alerts.rollover(
    T0,
    new_day="2026-03-09",
    previous_day="2026-03-08",
    previous_spend_usd=100,
    resolve_exhausted=True,
)
ERRORS = provider_alerts.provider_errors(
    T0,
    day="2026-03-08",
    provider="anthropic",
    count=6,
    threshold=5,
    episode_start=T0,
    last_error="HTTP 529",
)
ALL = [PRESS, RELEASE, AUTO, PERCENT, EXHAUSTED, ROLLOVER, ROLLOVER_RESOLVING, ERRORS]

SLACK_URL_SECRET = "/services/T0SECRET/B0SECRET/xoxSlackSecretToken"
ROUTING_KEY = "R0UTINGKEYsecret0123456789abcdef"
STATUSPAGE_KEY = "sp-api-key-secret-42"

# --- payloads (pure) -------------------------------------------------------------


def test_slack_message_has_text_blocks_and_channel() -> None:
    body = slack.message(AUTO, "#ops-emergency")
    assert body["channel"] == "#ops-emergency"
    assert body["text"] == ":red_circle: brb activated: queue depth 63 > 50"
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"] == {
        "type": "plain_text",
        "text": "brb activated: queue depth 63 > 50",
    }
    fields = [f["text"] for f in body["blocks"][2]["fields"]]
    assert "*queue_depth*\n63" in fields and "*source*\nbreaker" in fields
    assert "channel" not in slack.message(AUTO, None)


def test_slack_sends_every_alert() -> None:
    n = slack.SlackNotifier("https://hooks.slack.com" + SLACK_URL_SECRET, None)
    assert all(n.request_for(a) is not None for a in ALL)


@pytest.mark.parametrize(
    ("alert", "action"),
    [
        (PRESS, "trigger"),
        (AUTO, "trigger"),
        (EXHAUSTED, "trigger"),
        (RELEASE, "resolve"),
        (ROLLOVER_RESOLVING, "resolve"),
        (PERCENT, None),
        (ROLLOVER, None),
        (ERRORS, None),
    ],
)
def test_pagerduty_takes_only_incident_alerts(alert: alerts.Alert, action: str | None) -> None:
    body = pagerduty.event(alert, routing_key="rk", service="chatbot-emergency", host="h1")
    assert (body or {}).get("event_action") == action


def test_pagerduty_trigger_and_resolve_share_the_dedup_key() -> None:
    trigger = pagerduty.event(PRESS, routing_key="rk", service="chatbot-emergency", host="h1")
    resolve = pagerduty.event(RELEASE, routing_key="rk", service="chatbot-emergency", host="h1")
    assert trigger is not None and resolve is not None
    assert trigger["dedup_key"] == resolve["dedup_key"] == "brb:chatbot-emergency:incident:7"
    assert resolve == {
        "routing_key": "rk",
        "event_action": "resolve",
        "dedup_key": "brb:chatbot-emergency:incident:7",
    }
    payload = trigger["payload"]
    assert payload["summary"] == PRESS.title
    assert (payload["source"], payload["component"]) == ("chatbot-emergency", "chatbot-emergency")
    assert payload["severity"] == "warning" and payload["class"] == "activated"
    assert payload["timestamp"] == "2026-03-08T14:30:00+00:00"
    assert payload["custom_details"]["who"] == "alice"


def test_pagerduty_without_a_service_names_the_host() -> None:
    body = pagerduty.event(AUTO, routing_key="rk", service=None, host="gpu-box-1")
    assert body is not None
    assert (body["payload"]["source"], body["payload"]["component"]) == ("gpu-box-1", "brb")
    assert body["payload"]["severity"] == "critical"
    assert len(pagerduty.dedup_key("x" * 400, "svc")) == 255


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        (
            PRESS,
            {
                "component": {
                    "status": "degraded_performance",
                    "description": "High load - using backup AI provider",
                }
            },
        ),
        (
            AUTO,
            {
                "component": {
                    "status": "degraded_performance",
                    "description": "High load - using backup AI provider",
                }
            },
        ),
        (RELEASE, {"component": {"status": "operational", "description": ""}}),
        (PERCENT, None),
        (EXHAUSTED, None),
        (ROLLOVER, None),
        (ERRORS, None),
    ],
)
def test_statuspage_degraded_on_activation_operational_on_release(
    alert: alerts.Alert, expected: dict[str, object] | None
) -> None:
    assert statuspage.component_update(alert) == expected


def test_statuspage_url_quotes_ids() -> None:
    assert statuspage.component_url("https://api.statuspage.io/v1/", "pg 1", "c/2") == (
        "https://api.statuspage.io/v1/pages/pg%201/components/c%2F2"
    )


def test_generic_webhook_body_is_the_alert() -> None:
    body = generic.body(EXHAUSTED)
    assert body["source"] == "brb" and body["schema"] == 1
    assert body["kind"] == "budget_exhausted" and body["action"] == "trigger"
    assert body["incident"] == "budget-exhausted:2026-03-08"
    assert body["fields"] == {"day": "2026-03-08", "spent_usd": 100.0, "limit_usd": 100.0}


# --- which notifiers are on ----------------------------------------------------------


def _cfg(**notifications: object):
    return parse({"big_red_button": {"notifications": notifications}})


@pytest.fixture
def no_notifier_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "BRB_SLACK_WEBHOOK_URL",
        "BRB_PAGERDUTY_ROUTING_KEY",
        "BRB_WEBHOOK_URL",
        "BRB_STATUSPAGE_API_KEY",
        "CREDENTIALS_DIRECTORY",
        "MY_SLACK",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_nothing_set_means_nothing_enabled(no_notifier_env: pytest.MonkeyPatch) -> None:
    cfg = _cfg(slack_channel="#ops", statuspage={"page_id": "p", "component_id": "c"})
    assert enabled_notifiers(cfg) == []
    found = {c.name: c for c in checks(cfg)}
    assert not any(c.enabled for c in found.values())
    assert found["slack"].detail == "off: set BRB_SLACK_WEBHOOK_URL to the webhook URL"
    assert found["statuspage"].detail == "off: set BRB_STATUSPAGE_API_KEY"


def test_env_and_credentials_turn_notifiers_on(
    no_notifier_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mp = no_notifier_env
    mp.setenv("MY_SLACK", "https://hooks.slack.com" + SLACK_URL_SECRET)
    mp.setenv("BRB_WEBHOOK_URL", "not a url")
    (tmp_path / "pagerduty-routing-key").write_text(ROUTING_KEY + "\n")
    (tmp_path / "statuspage-api-key").write_text(STATUSPAGE_KEY)
    mp.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    cfg = _cfg(
        slack_webhook_url_env="MY_SLACK",
        slack_channel="#ops",
        statuspage={"page_id": "pg1", "component_id": "cmp1"},
    )
    assert [n.name for n in enabled_notifiers(cfg)] == ["slack", "pagerduty", "statuspage"]
    report = {c.name: c for c in checks(cfg)}
    assert report["webhook"].detail == "off: BRB_WEBHOOK_URL is not an http(s) URL"
    assert report["slack"].detail == "slack webhook https://hooks.slack.com/***, channel #ops"
    everything = repr(checks(cfg)) + repr([n.request_for(PRESS) for n in enabled_notifiers(cfg)])
    for secret in (SLACK_URL_SECRET, ROUTING_KEY, STATUSPAGE_KEY, "not a url"):
        assert secret not in everything


# --- one attempt over HTTP -----------------------------------------------------------


async def _attempt(capture: CaptureServer, build) -> tuple[Outcome, CaptureServer]:
    async with serve(capture.app()) as base, aiohttp.ClientSession() as session:
        outcome = await http.send(session, build(base), timeout_s=5)
    return outcome, capture


def test_slack_request_on_the_wire() -> None:
    def build(base: str) -> Request:
        req = slack.SlackNotifier(base + SLACK_URL_SECRET, "#ops").request_for(PRESS)
        assert req is not None
        return req

    outcome, cap = asyncio.run(_attempt(CaptureServer.like_slack(), build))
    assert outcome == Outcome(True, 200)
    [seen] = cap.captured
    assert (seen.method, seen.path) == ("POST", SLACK_URL_SECRET)
    assert seen.headers["content-type"].startswith("application/json")
    assert seen.headers["user-agent"].startswith("brb/")
    assert seen.body == slack.message(PRESS, "#ops")


def test_pagerduty_request_on_the_wire() -> None:
    def build(base: str) -> Request:
        req = pagerduty.PagerDutyNotifier(
            ROUTING_KEY, events_url=f"{base}/v2/enqueue", service="chatbot-emergency"
        ).request_for(EXHAUSTED)
        assert req is not None
        return req

    outcome, cap = asyncio.run(_attempt(CaptureServer.like_pagerduty(), build))
    assert outcome == Outcome(True, 202)
    [seen] = cap.captured
    assert (seen.method, seen.path) == ("POST", "/v2/enqueue")
    assert isinstance(seen.body, dict)
    assert seen.body["routing_key"] == ROUTING_KEY and seen.body["event_action"] == "trigger"
    assert seen.body["dedup_key"] == "brb:chatbot-emergency:budget-exhausted:2026-03-08"
    assert set(seen.body["payload"]) >= {
        "summary",
        "source",
        "severity",
        "component",
        "custom_details",
    }


def test_statuspage_request_on_the_wire() -> None:
    def build(base: str) -> Request:
        n = statuspage.StatuspageNotifier(
            STATUSPAGE_KEY, api_base=f"{base}/v1", page_id="pg1", component_id="cmp1"
        )
        req = n.request_for(PRESS)
        assert req is not None
        return req

    outcome, cap = asyncio.run(_attempt(CaptureServer(status=200, body={"id": "cmp1"}), build))
    assert outcome.ok
    [seen] = cap.captured
    assert (seen.method, seen.path) == ("PATCH", "/v1/pages/pg1/components/cmp1")
    assert seen.headers["authorization"] == f"OAuth {STATUSPAGE_KEY}"
    assert seen.body == {
        "component": {
            "status": "degraded_performance",
            "description": "High load - using backup AI provider",
        }
    }


def test_generic_webhook_request_on_the_wire() -> None:
    def build(base: str) -> Request:
        req = generic.WebhookNotifier(f"{base}/hooks/brb?token=abc123secret").request_for(RELEASE)
        assert req is not None
        return req

    outcome, cap = asyncio.run(_attempt(CaptureServer(status=204, body=""), build))
    assert outcome == Outcome(True, 204)
    [seen] = cap.captured
    assert (seen.method, seen.path, dict(seen.query)) == (
        "POST",
        "/hooks/brb",
        {"token": "abc123secret"},
    )
    assert seen.body == generic.body(RELEASE)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),
        (503, True),
        (429, True),
        (420, True),
        (408, True),
        (400, False),
        (403, False),
        (404, False),
        (410, False),
    ],
)
def test_failures_say_whether_a_retry_can_help(status: int, retryable: bool) -> None:
    capture = CaptureServer()
    secret_path = "/services/T1/B1/leakme0123"
    # The server echoes the URL back: the error must not.
    capture.fail_next(1, status, body=f"no such hook {secret_path}")

    def build(base: str) -> Request:
        req = slack.SlackNotifier(base + secret_path).request_for(PERCENT)
        assert req is not None
        return req

    outcome, _ = asyncio.run(_attempt(capture, build))
    assert (outcome.ok, outcome.status, outcome.retryable) == (False, status, retryable)
    assert outcome.error == f"HTTP {status}: no such hook ***"


def test_connection_errors_are_retryable_and_redacted() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hooks/t0ps3cret"

    async def go() -> Outcome:
        async with aiohttp.ClientSession() as session:
            return await http.send(
                session, generic.WebhookNotifier(url).request_for(PRESS), timeout_s=5
            )

    outcome = asyncio.run(go())
    assert not outcome.ok and outcome.retryable and outcome.status is None
    assert outcome.error and "t0ps3cret" not in outcome.error
    assert "ClientConnectorError" in outcome.error


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 0 ", 0.0),
        ("-3", 0.0),
        ("1.5", 1.5),
        ("Sun, 08 Mar 2026 14:31:00 GMT", 60.0),
        ("Sun, 08 Mar 2026 14:00:00 GMT", 0.0),
        ("soon", None),
    ],
)
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert http.parse_retry_after(value, T0) == seconds


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://hooks.slack.com/services/T/B/X", "https://hooks.slack.com/***"),
        ("http://127.0.0.1:8080/x?token=1", "http://127.0.0.1:8080/***"),
        ("nonsense", "(not a URL)"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert http.mask_url(url) == masked
