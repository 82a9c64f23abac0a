"""brb's Prometheus metrics: parsed back with prometheus_client's own parser."""

from __future__ import annotations

import platform
from datetime import date
from decimal import Decimal

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from brb import __version__
from brb.core.budget import BudgetSnapshot
from brb.daemon.metrics import Metrics, status_class

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(m: Metrics) -> Samples:
    body, content_type = m.render()
    assert content_type.startswith("text/plain; version=")
    out: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_every_name_is_prefixed_and_counters_end_in_total() -> None:
    body, _ = Metrics().render()
    families = list(text_string_to_metric_families(body.decode()))
    names = {f.name for f in families}
    assert all(n.startswith("brb_") for n in names)
    for f in families:
        if f.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in f.samples), f.name
    assert {
        "brb_requests",
        "brb_request_duration_seconds",
        "brb_queue_depth",
        "brb_queue_wait_seconds",
        "brb_breaker_active",
        "brb_breaker_transitions",
        "brb_diverted_requests",
        "brb_cloud_tokens",
        "brb_cloud_spend_usd",
        "brb_budget_limit_usd",
        "brb_budget_spent_usd",
        "brb_budget_reserved_usd",
        "brb_budget_remaining_usd",
        "brb_provider_errors",
        "brb_alert_deliveries",
        "brb_build_info",
        "brb_mode",
    } <= names


def test_series_exist_at_zero_before_any_traffic() -> None:
    s = scrape(Metrics())
    assert value(s, "brb_requests_total", backend="anthropic", outcome="ok") == 0
    assert value(s, "brb_alert_deliveries_total", notifier="pagerduty", outcome="failed") == 0
    assert value(s, "brb_build_info", version=__version__, python=platform.python_version()) == 1


def test_values_move_with_traffic() -> None:
    m = Metrics()
    m.request_done("ollama", "ok", 0.3)
    m.request_done("ollama", "ok", 42.0)
    m.request_done("anthropic", "fallback", 1.5)
    m.queue(73, 75.5, in_flight=4)
    m.breaker_transition("activated")
    m.mode("on", is_diverting=True)
    m.diverted()
    m.cloud_usage(1200, 300, Decimal("0.0123"))
    m.cloud_usage(10, 5, Decimal("0.0002"))
    m.budget(BudgetSnapshot(date(2026, 11, 25), Decimal("100"), Decimal("80.5"), Decimal("4")))
    m.provider_error("anthropic", 529)
    m.provider_error("anthropic", None)
    m.provider_error("anthropic", 418)
    m.alert_delivery("slack", "ok")
    m.alert_delivery("slack", "retry")
    s = scrape(m)

    assert value(s, "brb_requests_total", backend="ollama", outcome="ok") == 2
    assert value(s, "brb_requests_total", backend="anthropic", outcome="fallback") == 1
    assert value(s, "brb_request_duration_seconds_count", backend="ollama") == 2
    assert value(s, "brb_request_duration_seconds_bucket", backend="ollama", le="0.5") == 1
    assert value(s, "brb_request_duration_seconds_sum", backend="ollama") == 42.3
    assert value(s, "brb_queue_depth") == 73 and value(s, "brb_queue_wait_seconds") == 75.5
    assert value(s, "brb_in_flight_requests") == 4
    assert value(s, "brb_breaker_active") == 1
    assert value(s, "brb_breaker_transitions_total", to="active") == 1
    assert value(s, "brb_mode", brb_mode="on") == 1 and value(s, "brb_mode", brb_mode="auto") == 0
    assert value(s, "brb_diverting") == 1
    assert value(s, "brb_diverted_requests_total") == 1
    assert value(s, "brb_cloud_tokens_total", direction="input") == 1210
    assert value(s, "brb_cloud_tokens_total", direction="output") == 305
    assert abs(value(s, "brb_cloud_spend_usd_total") - 0.0125) < 1e-12
    assert value(s, "brb_budget_limit_usd") == 100
    assert value(s, "brb_budget_spent_usd") == 80.5
    assert value(s, "brb_budget_reserved_usd") == 4
    assert value(s, "brb_budget_remaining_usd") == 15.5
    assert value(s, "brb_budget_exhausted") == 0
    assert value(s, "brb_provider_errors_total", provider="anthropic", status="529") == 1
    assert value(s, "brb_provider_errors_total", provider="anthropic", status="network") == 1
    assert value(s, "brb_provider_errors_total", provider="anthropic", status="4xx") == 1
    assert value(s, "brb_alert_deliveries_total", notifier="slack", outcome="ok") == 1
    assert value(s, "brb_alert_deliveries_total", notifier="slack", outcome="retry") == 1

    m.breaker_transition("deactivated")
    m.budget(BudgetSnapshot(date(2026, 11, 25), Decimal("100"), Decimal("100"), Decimal("0")))
    s = scrape(m)
    assert value(s, "brb_breaker_active") == 0
    assert value(s, "brb_breaker_transitions_total", to="standby") == 1
    assert value(s, "brb_budget_exhausted") == 1 and value(s, "brb_budget_remaining_usd") == 0


def test_unknown_label_values_fold_into_other() -> None:
    m = Metrics()
    for i in range(50):
        m.request_done(f"backend-{i}", f"outcome-{i}", 1.0)
        m.alert_delivery(f"notifier-{i}", "exploded")
    s = scrape(m)
    assert value(s, "brb_requests_total", backend="other", outcome="other") == 50
    assert value(s, "brb_alert_deliveries_total", notifier="other", outcome="other") == 50
    assert len([k for k in s if k[0] == "brb_requests_total"]) == 2 * 5 + 1


def test_status_class() -> None:
    assert [status_class(x) for x in (None, 429, 529, 422, 599, 302, 42)] == [
        "network",
        "429",
        "529",
        "4xx",
        "5xx",
        "3xx",
        "other",
    ]


def test_two_instances_share_nothing_and_stay_off_the_global_registry() -> None:
    a, b = Metrics(), Metrics()
    a.diverted()
    assert value(scrape(a), "brb_diverted_requests_total") == 1
    assert value(scrape(b), "brb_diverted_requests_total") == 0
    assert REGISTRY.get_sample_value("brb_diverted_requests_total") is None
