"""A failing provider is rested, not hammered: while it rests, overflow goes
straight to the local queue without paying a refused round trip."""

from __future__ import annotations

from daemon_rig import StartRig


def test_a_run_of_529s_rests_the_provider_then_it_is_tried_again(start_brb: StartRig) -> None:
    rig = start_brb()
    rig.press()
    rig.anthropic.fail_next(3, 529, "overloaded_error")
    routes = [rig.ask("/api/chat", f"q{i}").headers["x-brb-route"] for i in range(4)]
    assert routes == ["fallback", "fallback", "fallback", "no_provider"]
    assert rig.anthropic.answered[529] == 3  # the 4th never reached the provider
    (health,) = rig.get("/admin/big-red-button/status").json()["providers"]
    assert health["name"] == "anthropic" and 0 < health["resting_seconds"] <= 1.0
    assert health["errors_last_minute"] == 3 and health["healthy"] is False


def test_a_429_with_retry_after_rests_it_at_once(start_brb: StartRig) -> None:
    rig = start_brb()
    rig.press()
    rig.anthropic.fail_next(1, 429, "rate_limit_error", retry_after=30)
    first = rig.ask("/api/chat", "limited")
    second = rig.ask("/api/chat", "next")
    assert (first.headers["x-brb-route"], second.headers["x-brb-route"]) == (
        "fallback",
        "no_provider",
    )
    assert first.provider == second.provider == "ollama"
