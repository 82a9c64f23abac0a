"""A failing provider's breaker opens: it is skipped, not hammered, while overflow goes to the
next provider (here none: the local queue); after the cooldown one request probes it."""

from __future__ import annotations

from datetime import datetime

from daemon_rig import StartRig


def test_three_529s_in_a_row_open_the_breaker_and_the_next_request_skips_it(
    start_brb: StartRig,
) -> None:
    rig = start_brb()
    rig.press()
    rig.anthropic.fail_next(3, 529, "overloaded_error")
    routes = [rig.ask("/api/chat", f"q{i}").headers["x-brb-route"] for i in range(4)]
    assert routes == ["fallback", "fallback", "fallback", "no_provider"]
    assert rig.anthropic.answered[529] == 3  # the 4th never reached the provider
    anthropic = rig.status()["providers"]["anthropic"]
    assert (anthropic["state"], anthropic["failures"]) == ("open", 3)
    assert "529" in anthropic["last_error"] and anthropic["errors_last_minute"] == 3
    open_for_s = (datetime.fromisoformat(anthropic["open_until"]) - rig.started_at).total_seconds()
    assert 30 <= open_for_s < 60  # cooldown_seconds (30) from the third failure


def test_a_retry_after_longer_than_the_cooldown_keeps_it_open_that_long(
    start_brb: StartRig,
) -> None:
    rig = start_brb(providers={"anthropic": {"breaker": {"failure_threshold": 1}}})
    rig.press()
    rig.anthropic.fail_next(1, 429, "rate_limit_error", retry_after=120)
    first = rig.ask("/api/chat", "limited")
    second = rig.ask("/api/chat", "next")
    assert (first.headers["x-brb-route"], second.headers["x-brb-route"]) == (
        "fallback",
        "no_provider",
    )
    assert first.provider == second.provider == "ollama"
    anthropic = rig.status()["providers"]["anthropic"]
    open_for_s = (datetime.fromisoformat(anthropic["open_until"]) - rig.started_at).total_seconds()
    assert anthropic["state"] == "open" and 120 <= open_for_s < 150


def test_a_request_the_provider_refuses_as_malformed_does_not_count_against_it(
    start_brb: StartRig,
) -> None:
    rig = start_brb(providers={"anthropic": {"breaker": {"failure_threshold": 1}}})
    rig.press()
    rig.anthropic.fail_next(2, 400, "invalid_request_error", message="messages: bad shape")
    assert [rig.ask("/api/chat", f"q{i}").provider for i in range(2)] == ["ollama", "ollama"]
    anthropic = rig.status()["providers"]["anthropic"]
    assert (anthropic["state"], anthropic["failures"]) == ("closed", 0)
    assert rig.ask("/api/chat", "fine").provider == "anthropic"
