"""Routing rules, cost estimates on the wire and the estimate endpoint, on a live daemon.

The issue's check: with ``{match: {prompt_tokens: {gt: 2000}}, action: cloud}``
a long prompt goes to the cloud while the breaker is in standby and a short
one stays local; a compliance session matching the rule stays local. Every
inference answer carries ``X-BRB-Cost-Estimate-USD``; ``POST
/admin/big-red-button/estimate`` answers ``brb estimate --json``'s object,
changes nothing, and its worst case is what the daemon reserves for the
same body.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from daemon_rig import Rig, StartRig, chat_body, poll

PATHS = ("/api/chat", "/api/generate", "/v1/chat/completions", "/v1/messages")
LONG = "The tide comes in twice a day, pulled by the moon. " * 200  # ~2,600 tokens
RULES = {"rules": [{"match": {"prompt_tokens": {"gt": 2000}}, "action": "cloud"}]}


@pytest.fixture
def ruled(start_brb: StartRig) -> Rig:
    return start_brb(routing=RULES)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("stream", [False, True])
def test_a_cloud_rule_diverts_a_long_prompt_in_standby(ruled: Rig, path: str, stream: bool) -> None:
    long = ruled.ask(path, LONG, stream=stream, session="team-a")
    assert long.status == 200, long.text
    assert long.provider == "anthropic"
    assert long.headers["x-brb-route"] == "rule:1:cloud"
    short = ruled.ask(path, "hello", stream=stream, session="team-a")
    assert short.provider == "ollama"
    assert short.headers["x-brb-route"] == "standby"
    for answer in (long, short):  # streamed or not, cloud or local
        assert Decimal(answer.headers["x-brb-cost-estimate-usd"]) > 0
    assert ruled.status()["breaker"] == "standby"  # the rule diverted, not the breaker


@pytest.mark.parametrize("path", PATHS)
def test_a_compliance_session_matching_the_rule_stays_local(ruled: Rig, path: str) -> None:
    hits = ruled.cloud_hits()
    answer = ruled.ask(path, LONG, session="compliance-audit")
    assert answer.provider == "ollama"
    assert answer.headers["x-brb-route"] == "excluded_session"
    local_only = ruled.ask(path, LONG, session="team-a", headers={"X-BRB-Local-Only": "1"})
    assert local_only.headers["x-brb-route"] == "local_only"
    assert ruled.cloud_hits() == hits


def test_a_local_rule_keeps_requests_local_even_when_pressed(start_brb: StartRig) -> None:
    rig = start_brb(routing={"rules": [{"match": {"model": "llama*"}, "action": "local"}]})
    rig.press()
    answer = rig.ask()
    assert answer.provider == "ollama"
    assert answer.headers["x-brb-route"] == "rule:1:local"
    other = rig.ask(model="qwen3")
    assert other.provider == "anthropic" and other.headers["x-brb-route"] == "pressed"


def test_rules_see_headers_and_the_endpoint(start_brb: StartRig) -> None:
    rig = start_brb(
        routing={
            "rules": [
                {
                    "match": {"header": {"X-Team": "ml-*"}, "endpoint": "/api/chat"},
                    "action": "cloud",
                }
            ]
        }
    )
    assert rig.ask(headers={"x-team": "ml-research"}).provider == "anthropic"
    assert rig.ask(headers={"X-Team": "web"}).provider == "ollama"
    assert rig.ask("/api/generate", headers={"X-Team": "ml-research"}).provider == "ollama"


# --- X-BRB-Cost-Estimate-USD ------------------------------------------------------------


def estimate_header(rig: Rig, path: str, text: str, max_tokens: int, **kw: Any) -> Decimal:
    limit = {
        "/api/chat": {"options": {"num_predict": max_tokens}},
        "/api/generate": {"options": {"num_predict": max_tokens}},
        "/v1/chat/completions": {"max_tokens": max_tokens},
        "/v1/messages": {"max_tokens": max_tokens},
    }[path]
    answer = rig.ask(path, text, **limit, **kw)
    # (the fake Ollama serves no /v1/messages: its 404 carries the estimate too)
    assert answer.status in (200, 404), answer.text
    return Decimal(answer.headers["x-brb-cost-estimate-usd"])


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_carries_a_cost_estimate(start_brb: StartRig, path: str) -> None:
    # No waiting room, so no learned reply lengths: the estimate expects max_tokens.
    ruled = start_brb(routing=RULES, waiting_room={"enabled": False})
    local = estimate_header(ruled, path, "hello", 100)
    assert local > 0
    assert estimate_header(ruled, path, "hello", 1000) > local
    assert estimate_header(ruled, path, "hello " * 200, 100) > local
    streamed = estimate_header(ruled, path, "hello", 100, stream=True)
    assert streamed == local
    cloud = estimate_header(ruled, path, LONG, 100)  # diverted by the rule
    assert cloud > local


@pytest.mark.parametrize("path", PATHS)
def test_the_estimate_is_the_same_when_only_the_estimate_reads_the_conversation(
    start_brb: StartRig, path: str
) -> None:
    """With no waiting room and no rule, the conversation is read for the estimate
    alone (priced routes only): the header is what a daemon reading it up front gives."""
    unread = start_brb(waiting_room={"enabled": False})
    read = start_brb(routing=RULES, waiting_room={"enabled": False})  # a rule reads it
    for text, max_tokens in (("hello", 100), ("hello " * 200, 1000)):
        assert estimate_header(unread, path, text, max_tokens) == estimate_header(
            read, path, text, max_tokens
        )


# --- POST /admin/big-red-button/estimate ------------------------------------------------


def estimate(rig: Rig, body: Any, query: str = "", **headers: str) -> Any:
    answer = rig.post("/admin/big-red-button/estimate" + query, body, headers)
    assert answer.status == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("path", PATHS)
def test_the_estimate_endpoint_answers_what_brb_estimate_does(ruled: Rig, path: str) -> None:
    body = chat_body(path, LONG)
    got = estimate(ruled, body, f"?endpoint={path}")
    assert set(got) == {"prompt_tokens", "expected_output_tokens", "providers", "route"}
    assert got["route"] == {"divert": True, "reason": "rule:1:cloud"}
    (p,) = got["providers"]
    assert p["name"] == "anthropic" and 0 < p["expected_usd"] <= p["worst_case_usd"]
    short = estimate(ruled, chat_body(path, "hi"), f"?endpoint={path}")
    assert short["route"] == {"divert": False, "reason": "standby"}
    compliance = estimate(ruled, body, f"?endpoint={path}", **{"X-Session-ID": "compliance-1"})
    assert compliance["route"] == {"divert": False, "reason": "excluded_session"}


@pytest.mark.parametrize("path", PATHS)
def test_the_worst_case_is_what_the_daemon_reserves(ruled: Rig, path: str) -> None:
    body = chat_body(path, LONG)
    worst = estimate(ruled, body, f"?endpoint={path}")["providers"][0]["worst_case_usd"]
    before = len(ruled.ledger_rows())
    assert ruled.post(path, body).provider == "anthropic"
    row = ruled.settled_rows(before + 1)[-1]
    assert row["endpoint"] == path
    assert Decimal(row["reserved_micro_usd"]) / 1_000_000 == Decimal(str(worst))


def requests_logged(rig: Rig) -> int:
    with rig.store() as store:
        return len(store.request_log(since=rig.started_at - timedelta(minutes=1)))


def routed_events(rig: Rig) -> list[str]:
    """The events a routing decision or a diversion could write (not the daemon's own
    periodic ones)."""
    kinds = ("activated", "deactivated", "budget_alert", "budget_exhausted")
    return [e.kind for e in rig.events(*kinds)]


def test_the_estimate_endpoint_changes_nothing(ruled: Rig) -> None:
    ruled.ask()  # the daemon has logged something, so a change would show
    # its ledger row settles on the store's writer thread just after the answer
    poll(lambda: all(r["status"] != "reserved" for r in ruled.ledger_rows()))
    poll(lambda: requests_logged(ruled) == 1)  # the log is written off the request path
    before = (ruled.status(), ruled.ledger_rows(), ruled.cloud_hits(), routed_events(ruled))
    for _ in range(5):
        estimate(ruled, chat_body("/api/chat", LONG))
    after = (ruled.status(), ruled.ledger_rows(), ruled.cloud_hits(), routed_events(ruled))
    assert after[1:] == before[1:]
    assert requests_logged(ruled) == 1
    assert after[0]["breaker"] == before[0]["breaker"]
    assert after[0]["requests_diverted_today"] == before[0]["requests_diverted_today"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{nope", "not JSON"),
        ({"messages": []}, "no model"),
        ({"model": "m"}, "pass --endpoint"),
    ],
)
def test_the_estimate_endpoint_refuses_what_it_cannot_read(
    brb: Rig, body: Any, message: str
) -> None:
    answer = brb.post("/admin/big-red-button/estimate", body)
    assert answer.status == 400
    assert message in answer.json()["error"]


def test_the_daemon_expects_the_reply_lengths_it_has_learned(start_brb: StartRig) -> None:
    rig = start_brb(waiting_room={"enabled": True})  # (the default)
    body = chat_body("/api/chat", "hello", options={"num_predict": 1000})
    before = estimate(rig, body)
    assert before["expected_output_tokens"] == 1000  # nothing learned yet: max_tokens
    header_before = Decimal(rig.post("/api/chat", body).headers["x-brb-cost-estimate-usd"])
    answer = rig.post("/api/chat", body)  # the room has learned from the first reply now
    final = answer.json()
    learned = estimate(rig, body)
    assert learned["expected_output_tokens"] == final["eval_count"] < 1000
    assert learned["providers"][0]["expected_usd"] < before["providers"][0]["expected_usd"]
    assert Decimal(answer.headers["x-brb-cost-estimate-usd"]) < header_before


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/chat"])
def test_each_provider_of_the_chain_is_estimated_as_it_would_reserve(
    start_brb: StartRig, path: str
) -> None:
    from brb.sim.openai import FakeOpenAI

    rig = start_brb(openai=FakeOpenAI(), providers={"openai": {}, "anthropic": {}})
    body = chat_body(path, LONG)
    got = estimate(rig, body, f"?endpoint={path}")["providers"]
    assert [p["name"] for p in got] == ["openai", "anthropic"]
    assert all(0 < p["expected_usd"] <= p["worst_case_usd"] for p in got)
    rig.press()
    before = len(rig.ledger_rows())
    assert rig.post(path, body).provider == "openai"
    row = rig.settled_rows(before + 1)[-1]
    assert row["provider"] == "openai"
    assert Decimal(row["reserved_micro_usd"]) / 1_000_000 == Decimal(str(got[0]["worst_case_usd"]))
