"""brb.daemon.alerting: once-only alerts delivered to real capture servers, with
retries, ordering and every attempt recorded in a real store."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from brb.adapters.notifiers.delivery import RetryPolicy, retry_delay_s
from brb.adapters.store import Store
from brb.adapters.store_events import Event
from brb.config import BrbConfig, parse
from brb.daemon.alerting import Alerter, DeliveryAttempt
from brb.sim.capture import CaptureServer
from brb.sim.server import serve

T0 = datetime(2026, 3, 8, 14, 30, tzinfo=UTC)
SLACK_PATH = "/services/T0AAA/B0BBB/sl4ckS3cretT0ken"
WEBHOOK_PATH = "/hooks/brb/wh00kS3cret"
ROUTING_KEY = "pdR0utingKeyS3cret0123456789abcd"
STATUSPAGE_KEY = "stat0sPageKeyS3cret"
SECRETS = (SLACK_PATH, "sl4ckS3cretT0ken", WEBHOOK_PATH, "wh00kS3cret", ROUTING_KEY, STATUSPAGE_KEY)
FAST = RetryPolicy(max_attempts=4, base_s=0.001, cap_s=0.01, timeout_s=5)


# --- backoff (pure) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "retry_after", "rnd", "delay"),
    [
        (1, None, 0.0, 0.5),
        (1, None, 1.0, 1.0),
        (2, None, 0.0, 1.0),
        (3, None, 0.5, 3.0),
        (10, None, 1.0, 60.0),  # capped
        (1, 7.0, 0.9, 7.0),  # Retry-After wins
        (1, 9999.0, 0.0, 300.0),  # but is capped too
        (1, -1.0, 0.0, 0.0),
    ],
)
def test_retry_delay(attempt: int, retry_after: float | None, rnd: float, delay: float) -> None:
    assert retry_delay_s(RetryPolicy(), attempt, retry_after, rnd) == delay


# --- a rig: four capture servers, a store, an alerter ------------------------------


@dataclass
class Rig:
    alerter: Alerter
    store: Store
    slack: CaptureServer
    pagerduty: CaptureServer
    webhook: CaptureServer
    statuspage: CaptureServer
    sleeps: list[float]
    attempts: list[DeliveryAttempt]

    def deliveries(self) -> list[Event]:
        return self.store.events(kinds=["alert_delivery"])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "brb.db") as s:
        yield s


@pytest.fixture
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("BRB_PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("BRB_STATUSPAGE_API_KEY", STATUSPAGE_KEY)
    return monkeypatch


def _config(pd: str, sp: str, **extra: object) -> BrbConfig:
    return parse(
        {
            "big_red_button": {
                "timezone": "America/New_York",
                "notifications": {
                    "slack_channel": "#ops-emergency",
                    "pagerduty_service": "chatbot-emergency",
                    "pagerduty_events_url": f"{pd}/v2/enqueue",
                    "statuspage": {
                        "api_base": f"{sp}/v1",
                        "page_id": "pg1",
                        "component_id": "cmp1",
                    },
                },
                **extra,
            }
        }
    )


@asynccontextmanager
async def rig(
    store: Store,
    env: pytest.MonkeyPatch,
    policy: RetryPolicy = FAST,
    webhook_base: str | None = None,
    **extra: object,
) -> AsyncIterator[Rig]:
    caps = [
        CaptureServer.like_slack(),
        CaptureServer.like_pagerduty(),
        CaptureServer(body="ok"),
        CaptureServer(status=200, body={"id": "cmp1"}),
    ]
    async with (
        serve(caps[0].app()) as sl,
        serve(caps[1].app()) as pd,
        serve(caps[2].app()) as wh,
        serve(caps[3].app()) as sp,
    ):
        env.setenv("BRB_SLACK_WEBHOOK_URL", sl + SLACK_PATH)
        env.setenv("BRB_WEBHOOK_URL", (webhook_base or wh) + WEBHOOK_PATH)
        sleeps: list[float] = []
        attempts: list[DeliveryAttempt] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        alerter = Alerter(
            _config(pd, sp, **extra),
            store,
            retry=policy,
            sleep=sleep,
            unit_random=lambda: 0.5,
            on_attempt=attempts.append,
        )
        r = Rig(alerter, store, *caps, sleeps, attempts)
        try:
            yield r
        finally:
            await alerter.aclose(timeout_s=10)


def press(a: Alerter, incident: str = "1", at: datetime = T0) -> None:
    a.activated(
        at,
        reason="load test",
        queue_depth=4,
        wait_s=1.5,
        source="http",
        who="alice",
        incident_id=incident,
    )


def release(a: Alerter, incident: str = "1", at: datetime = T0 + timedelta(minutes=10)) -> None:
    a.deactivated(
        at,
        duration_s=600,
        diverted=321,
        cost_usd=Decimal("4.56"),
        source="http",
        who="alice",
        incident_id=incident,
        reason="load test over",
    )


def bodies(cap: CaptureServer) -> list[dict]:
    out = [c.body for c in cap.captured]
    assert all(isinstance(b, dict) for b in out)
    return out  # type: ignore[return-value]


# --- press and release ---------------------------------------------------------------


def test_press_and_release_reach_every_notifier_once(
    store: Store, secrets_in_env: pytest.MonkeyPatch
) -> None:
    async def scenario() -> Rig:
        async with rig(store, secrets_in_env) as r:
            assert r.alerter.notifier_names == ["slack", "pagerduty", "webhook", "statuspage"]
            press(r.alerter)
            press(r.alerter)  # same incident: no second delivery
            release(r.alerter)
            release(r.alerter)
        return r

    r = asyncio.run(scenario())
    slack = bodies(r.slack)
    assert [b["text"] for b in slack] == [
        ":large_orange_circle: brb pressed by alice (http): overflow goes to the cloud",
        ":large_green_circle: brb released by alice (http) after 10m: 321 requests diverted, $4.56",
    ]
    assert all(b["channel"] == "#ops-emergency" for b in slack)
    assert {c.path for c in r.slack.captured} == {SLACK_PATH}

    trigger, resolve = bodies(r.pagerduty)
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"] == "brb:chatbot-emergency:incident:1"
    assert trigger["routing_key"] == resolve["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["component"] == "chatbot-emergency"
    assert trigger["payload"]["custom_details"]["who"] == "alice"

    assert [c.method for c in r.statuspage.captured] == ["PATCH", "PATCH"]
    assert {c.path for c in r.statuspage.captured} == {"/v1/pages/pg1/components/cmp1"}
    assert {c.headers["authorization"] for c in r.statuspage.captured} == {
        f"OAuth {STATUSPAGE_KEY}"
    }
    assert [b["component"]["status"] for b in bodies(r.statuspage)] == [
        "degraded_performance",
        "operational",
    ]

    assert [(b["kind"], b["action"]) for b in bodies(r.webhook)] == [
        ("activated", "trigger"),
        ("deactivated", "resolve"),
    ]

    events = r.deliveries()
    assert len(events) == 8 and all(e.detail["ok"] and e.detail["attempt"] == 1 for e in events)
    assert sorted({(e.detail["notifier"], e.detail["alert_kind"]) for e in events}) == sorted(
        (n, k)
        for n in ("slack", "pagerduty", "webhook", "statuspage")
        for k in ("activated", "deactivated")
    )
    assert {e.detail["status"] for e in events} == {200, 202}
    assert len(r.attempts) == 8 and all(a.final for a in r.attempts)


def test_a_restart_does_not_resend_an_incident(
    store: Store, secrets_in_env: pytest.MonkeyPatch
) -> None:
    async def scenario() -> tuple[Rig, Rig]:
        async with rig(store, secrets_in_env) as first:
            press(first.alerter, "9")
        async with rig(store, secrets_in_env) as second:
            press(second.alerter, "9")  # the daemon restarted mid-incident
            press(second.alerter, "10")
        return first, second

    first, second = asyncio.run(scenario())
    assert len(first.slack.captured) == 1
    assert len(second.slack.captured) == 1
    assert bodies(second.pagerduty)[0]["dedup_key"].endswith("incident:10")


# --- retries -------------------------------------------------------------------------


def test_retries_on_500_then_succeeds_and_records_each_attempt(
    store: Store, secrets_in_env: pytest.MonkeyPatch
) -> None:
    async def scenario() -> Rig:
        async with rig(store, secrets_in_env) as r:
            r.pagerduty.fail_next(2, status=500, body={"status": "error"})
            press(r.alerter)
        return r

    r = asyncio.run(scenario())
    assert [b["event_action"] for b in bodies(r.pagerduty)] == ["trigger"] * 3
    pd = [e.detail for e in r.deliveries() if e.detail["notifier"] == "pagerduty"]
    assert [(d["attempt"], d["ok"], d["status"], d["final"]) for d in pd] == [
        (1, False, 500, False),
        (2, False, 500, False),
        (3, True, 202, True),
    ]
    assert pd[0]["error"].startswith("HTTP 500")
    assert pd[0]["alert_kind"] == "activated"
    assert r.sleeps == [retry_delay_s(FAST, 1, None, 0.5), retry_delay_s(FAST, 2, None, 0.5)]


def test_gives_up_on_4xx_and_after_max_attempts(
    store: Store, secrets_in_env: pytest.MonkeyPatch
) -> None:
    async def scenario() -> Rig:
        async with rig(store, secrets_in_env) as r:
            r.slack.fail_next(1, status=400, body="invalid_payload")
            r.webhook.fail_next(10, status=503)
            press(r.alerter)
        return r

    r = asyncio.run(scenario())
    assert len(r.slack.captured) == 1  # no retry of a bad request
    assert len(r.webhook.captured) == FAST.max_attempts
    by = {}
    for e in r.deliveries():
        by.setdefault(e.detail["notifier"], []).append(e.detail)
    assert [(d["ok"], d["status"], d["final"], d["error"]) for d in by["slack"]] == [
        (False, 400, True, "HTTP 400: invalid_payload")
    ]
    assert [d["attempt"] for d in by["webhook"]] == [1, 2, 3, 4]
    assert [d["final"] for d in by["webhook"]] == [False, False, False, True]


def test_retry_after_is_honoured(store: Store, secrets_in_env: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    async def limited(request: web.Request) -> web.Response:
        calls.append(1)
        if len(calls) == 1:
            return web.Response(status=429, text="rate limited", headers={"Retry-After": "7"})
        return web.Response(status=200, text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", limited)

    async def scenario() -> Rig:
        async with serve(app) as limiter, rig(store, secrets_in_env, webhook_base=limiter) as r:
            press(r.alerter)
        return r

    r = asyncio.run(scenario())
    assert len(calls) == 2
    assert r.sleeps == [7.0]
    webhook = [e.detail for e in r.deliveries() if e.detail["notifier"] == "webhook"]
    assert [(d["status"], d["ok"]) for d in webhook] == [(429, False), (200, True)]


def test_a_notifier_keeps_its_order_while_retrying(
    store: Store, secrets_in_env: pytest.MonkeyPatch
) -> None:
    async def scenario() -> Rig:
        async with rig(store, secrets_in_env) as r:
            r.statuspage.fail_next(2, status=502)
            r.pagerduty.fail_next(1, status=429)
            press(r.alerter)
            release(r.alerter)
        return r

    r = asyncio.run(scenario())
    assert [b["component"]["status"] for b in bodies(r.statuspage)] == [
        "degraded_performance"
    ] * 3 + ["operational"]
    assert [b["event_action"] for b in bodies(r.pagerduty)] == ["trigger", "trigger", "resolve"]


# --- budget, provider errors, rollover ------------------------------------------------


def test_budget_alerts_once_per_day_and_rollover_resolves_exhaustion(
    store: Store, secrets_in_env: pytest.MonkeyPatch
) -> None:
    async def scenario() -> Rig:
        async with rig(store, secrets_in_env) as r:
            a = r.alerter
            for _ in range(3):
                a.budget_percent(
                    T0,
                    day="2026-03-08",
                    percent=80,
                    spent_usd=Decimal("80.1"),
                    limit_usd=Decimal("100"),
                )
            a.budget_exhausted(T0, day="2026-03-08", spent_usd=100, limit_usd=100)
            a.budget_exhausted(
                T0 + timedelta(hours=1), day="2026-03-08", spent_usd=100, limit_usd=100
            )
            a.rollover(
                T0 + timedelta(hours=10),
                new_day="2026-03-09",
                previous_day="2026-03-08",
                previous_spend_usd=Decimal("100"),
            )
            a.rollover(
                T0 + timedelta(hours=10),
                new_day="2026-03-09",
                previous_day="2026-03-08",
                previous_spend_usd=Decimal("100"),
            )
            a.budget_percent(
                T0 + timedelta(days=1), day="2026-03-09", percent=80, spent_usd=81, limit_usd=100
            )
            # a day that never ran out: its rollover resolves nothing
            a.rollover(
                T0 + timedelta(days=1, hours=10),
                new_day="2026-03-10",
                previous_day="2026-03-09",
                previous_spend_usd=81,
            )
        return r

    r = asyncio.run(scenario())
    assert [b["text"].split(" ", 1)[1] for b in bodies(r.slack)] == [
        "brb cloud budget 80% used: $80.10 of $100.00 on 2026-03-08",
        "brb cloud budget exhausted: $100.00 of $100.00 on 2026-03-08",
        "brb budget reset for 2026-03-09 (2026-03-08 spent $100.00)",
        "brb cloud budget 80% used: $81.00 of $100.00 on 2026-03-09",
        "brb budget reset for 2026-03-10 (2026-03-09 spent $81.00)",
    ]
    pd = bodies(r.pagerduty)
    assert [(b["event_action"], b["dedup_key"]) for b in pd] == [
        ("trigger", "brb:chatbot-emergency:budget-exhausted:2026-03-08"),
        ("resolve", "brb:chatbot-emergency:budget-exhausted:2026-03-08"),
    ]
    assert r.statuspage.captured == []
    assert store.alerts_fired("2026-03-08") == {"budget:80", "budget:exhausted"}


def test_provider_errors_alert_once_per_episode(
    store: Store, secrets_in_env: pytest.MonkeyPatch
) -> None:
    async def scenario() -> Rig:
        async with rig(store, secrets_in_env, alerts={"provider_errors_per_minute": 3}) as r:
            for burst_start in (T0, T0 + timedelta(minutes=5)):
                for i in range(10):
                    r.alerter.provider_error(
                        burst_start + timedelta(seconds=i),
                        provider="anthropic",
                        error="HTTP 529 overloaded",
                    )
        return r

    r = asyncio.run(scenario())
    texts = [b["text"] for b in bodies(r.slack)]
    assert (
        texts
        == [":large_orange_circle: brb: 4 anthropic errors in the last minute (threshold 3)"] * 2
    )
    assert r.pagerduty.captured == [] and r.statuspage.captured == []


# --- never blocks, never raises, never leaks -------------------------------------------


def test_secrets_stay_out_of_events_and_logs(
    store: Store, secrets_in_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"

    async def scenario() -> Rig:
        # the webhook's port is closed: connection refused, with the secret URL in hand
        async with rig(store, secrets_in_env, webhook_base=dead) as r:
            # the servers echo secrets back in their error bodies
            r.slack.fail_next(1, status=404, body=f"no_service {SLACK_PATH}")
            r.pagerduty.fail_next(1, status=400, body={"errors": [ROUTING_KEY]})
            r.statuspage.fail_next(1, status=401, body=f"bad key {STATUSPAGE_KEY}")
            press(r.alerter)
        return r

    r = asyncio.run(scenario())
    events = r.deliveries()
    failed = {e.detail["notifier"] for e in events if not e.detail["ok"]}
    assert failed == {"slack", "pagerduty", "statuspage", "webhook"}
    recorded = repr([(e.reason, e.detail) for e in store.events()])
    logged = caplog.text + repr([rec.args for rec in caplog.records])
    assert "no_service ***" in recorded and "ClientConnectorError" in recorded
    for secret in SECRETS:
        assert secret not in recorded, secret
        assert secret not in logged, secret


def test_alerts_return_at_once_and_never_raise(
    store: Store, secrets_in_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = _config("http://127.0.0.1:9", "http://127.0.0.1:9")
    alerter = Alerter(cfg, store)
    press(alerter)  # no running event loop: logged, not raised
    assert "could not queue an alert" in caplog.text

    async def scenario() -> None:
        slow = Alerter(cfg, store, retry=RetryPolicy(max_attempts=3, base_s=100.0))
        press(slow, "77")  # connection refused, then a 50 s backoff
        await slow.aclose(timeout_s=0.5)  # bounded: gives up on the pending retry

    asyncio.run(scenario())
    assert "deliveries still pending" in caplog.text
    assert any(
        e.detail["attempt"] == 1 and not e.detail["ok"]
        for e in store.events(kinds=["alert_delivery"])
    )


def test_no_notifiers_means_nothing_sent(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "BRB_SLACK_WEBHOOK_URL",
        "BRB_PAGERDUTY_ROUTING_KEY",
        "BRB_WEBHOOK_URL",
        "BRB_STATUSPAGE_API_KEY",
        "CREDENTIALS_DIRECTORY",
    ):
        monkeypatch.delenv(name, raising=False)

    async def scenario() -> None:
        alerter = Alerter(parse({}), store)
        assert alerter.notifier_names == []
        press(alerter)
        await alerter.aclose()

    asyncio.run(scenario())
    assert store.alerts_fired("incident") == {"activated:1"}
    assert store.events(kinds=["alert_delivery"]) == []
