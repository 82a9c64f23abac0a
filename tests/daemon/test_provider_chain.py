"""The provider chain end to end, driven by the official clients: Anthropic, then an
OpenAI-compatible provider, then the local queue; never a dropped request."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ollama
import openai
import pytest
from daemon_rig import MODEL, OPENAI_MODEL, Req, Rig, StartRig, chat_body, poll

from brb.core.pricing import Usage, price_for, usage_cost_usd
from brb.sim.anthropic import FakeAnthropic
from brb.sim.openai import DEFAULT_REPLY as OPENAI_REPLY
from brb.sim.openai import FakeOpenAI

PATHS = ("/api/chat", "/api/generate", "/v1/chat/completions")


def two_providers(start_brb: StartRig, **settings: object) -> Rig:
    rig = start_brb(openai=FakeOpenAI(), **settings)
    rig.press()
    return rig


def test_the_chain_is_tried_in_yaml_order(start_brb: StartRig) -> None:
    rig = two_providers(start_brb)
    assert rig.ask("/api/chat").provider == "anthropic"
    assert rig.openai is not None and rig.openai.completion_requests == []
    # the same two entries, openai first
    flipped = start_brb(
        openai=FakeOpenAI(),
        providers={"openai": {}, "anthropic": {}},
    )
    flipped.press()
    answer = flipped.ask("/api/chat")
    assert (answer.provider, answer.headers["x-brb-model"]) == ("openai", OPENAI_MODEL)
    assert flipped.cloud_hits() == 0


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_overloaded_is_served_by_the_openai_provider(
    start_brb: StartRig, stream: bool
) -> None:
    rig = two_providers(start_brb)
    rig.anthropic.fail_next(len(PATHS), 529, "overloaded_error")
    for path in PATHS:
        answer = rig.ask(path, "hello", stream=stream)
        assert (answer.status, answer.provider) == (200, "openai"), answer.text
        assert answer.headers["x-brb-model"] == OPENAI_MODEL
        assert OPENAI_REPLY.split()[0] in answer.text
    rows = rig.settled_rows(2 * len(PATHS))
    by_provider = sorted((r["provider"], r["status"]) for r in rows)
    assert by_provider == [("anthropic", "released")] * 3 + [("openai", "settled")] * 3
    price = price_for(OPENAI_MODEL)
    assert price is not None
    for row in rows:
        if row["provider"] == "openai":
            assert row["cloud_model"] == OPENAI_MODEL
            usage = Usage(row["input_tokens"], row["output_tokens"])
            assert Decimal(row["cost_micro_usd"]) / 10**6 == usage_cost_usd(price, usage)


def test_the_official_clients_get_their_answers_from_the_second_provider(
    start_brb: StartRig,
) -> None:
    rig = two_providers(start_brb)
    rig.anthropic.fail_next(2, 529, "overloaded_error")
    reply = ollama.Client(host=rig.url).chat(
        model=MODEL, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.message.content == OPENAI_REPLY
    with openai.OpenAI(base_url=rig.url + "/v1", api_key="unused", max_retries=0) as client:
        done = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}]
        )
    assert done.choices[0].message.content == OPENAI_REPLY


def test_a_provider_that_times_out_is_passed_over(start_brb: StartRig) -> None:
    rig = two_providers(
        start_brb,
        anthropic=FakeAnthropic(hang=True),
        providers={"anthropic": {"timeout_seconds": 0.5, "first_token_timeout_seconds": 5}},
    )
    answer = rig.ask("/api/chat", "hello", stream=True)
    assert (answer.status, answer.provider) == (200, "openai")


@pytest.mark.parametrize("stream", [False, True])
def test_a_slow_first_token_abandons_the_provider_and_releases_its_reservation(
    start_brb: StartRig, stream: bool
) -> None:
    rig = two_providers(
        start_brb,
        anthropic=FakeAnthropic(latency_s=3.0),
        providers={"anthropic": {"first_token_timeout_seconds": 0.3}},
    )
    answer = rig.ask("/api/chat", "hello", stream=stream)
    assert (answer.status, answer.provider) == (200, "openai")
    rows = {r["provider"]: r for r in rig.settled_rows(2)}
    assert rows["anthropic"]["status"] == "released"
    assert rows["anthropic"]["outcome"] == "provider_error:network"
    anthropic = rig.status()["providers"]["anthropic"]
    assert anthropic["failures"] == 1 and "first_token_timeout_seconds" in anthropic["last_error"]


def test_both_failing_goes_local_and_nothing_is_dropped(start_brb: StartRig) -> None:
    rig = two_providers(start_brb)
    assert rig.openai is not None
    rig.anthropic.fail_next(6, 529, "overloaded_error")
    rig.openai.fail_next(6, 503)
    for path in PATHS:
        for stream in (False, True):
            answer = rig.ask(path, "hello", stream=stream)
            assert (answer.status, answer.provider) == (200, "ollama"), answer.text
            # fallback while a provider is tried; no_provider once both breakers are open
            assert answer.headers["x-brb-route"] in ("fallback", "no_provider")


def test_half_open_lets_exactly_one_probe_through_under_concurrency(start_brb: StartRig) -> None:
    rig = two_providers(
        start_brb,
        providers={"anthropic": {"breaker": {"failure_threshold": 1, "cooldown_seconds": 0.5}}},
    )
    rig.anthropic.fail_next(1, 529, "overloaded_error")
    assert rig.ask("/api/chat", "opens it").provider == "openai"
    poll(lambda: rig.status()["providers"]["anthropic"]["state"] == "half_open", timeout_s=5)
    before = rig.cloud_hits()
    rig.anthropic.latency_s = 0.5  # the probe is still out while the burst arrives
    answers = rig.burst([Req("/api/chat", chat_body("/api/chat", f"q{i}")) for i in range(8)])
    assert [a.status for a in answers] == [200] * 8
    providers = sorted(a.provider or "" for a in answers)
    assert providers == ["anthropic"] + ["openai"] * 7
    assert rig.cloud_hits() == before + 1
    assert rig.status()["providers"]["anthropic"]["state"] == "closed"


@pytest.mark.parametrize("mode", ["pressed", "auto", "held"])
def test_compliance_sessions_reach_neither_provider_in_any_mode(
    start_brb: StartRig, mode: str
) -> None:
    rig = start_brb(
        openai=FakeOpenAI(),
        providers={"openai": {}, "anthropic": {}},
        thresholds={"queue_depth": 1, "wait_time_seconds": 0.01, "min_active_seconds": 1},
    )
    if mode == "pressed":
        rig.press()
    elif mode == "held":
        with rig.store() as store:
            from datetime import UTC, datetime

            from brb import control

            control.release(store, now=datetime.now(UTC), hold=True, source="test", who="pytest")
    for path in PATHS:
        for stream in (False, True):
            answer = rig.ask(path, "secret", stream=stream, session="compliance-audit-7")
            assert (answer.status, answer.provider) == (200, "ollama")

    async def crowd() -> None:  # enough at once to trip the automatic breaker
        await rig.aburst(
            [
                Req(
                    "/api/chat",
                    chat_body("/api/chat", f"c{i}"),
                    {rig.cfg.session_header: "compliance-batch"},
                )
                for i in range(6)
            ]
        )

    asyncio.run(crowd())
    assert rig.cloud_hits() == 0
    assert rig.openai is not None and rig.openai.completion_requests == []
