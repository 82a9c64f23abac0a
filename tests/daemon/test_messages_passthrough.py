"""/v1/messages through brb: only Messages API fields reach the provider, a client's
mistake is its own 400 (never a provider failure), and a request whose cost has no
honest bound stays local. The ledger is usage x price for every kind of token."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import pytest
from daemon_rig import MODEL, Rig, StartRig, chat_body

OLD_CLIENT = {"anthropic-version": "2023-06-01", "x-api-key": "whatever"}
CLOUD_MODEL = "claude-sonnet-5-5"
PRICES = {  # distinct rates per token kind: a swapped kind gives another total
    CLOUD_MODEL: {
        "input_per_mtok": "1000",
        "output_per_mtok": "7000",
        "cache_write_per_mtok": "3000",
        "cache_read_per_mtok": "300",
        "cache_write_1h_per_mtok": "11000",
    }
}
MTOK = Decimal(1_000_000)


def messages(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return chat_body("/v1/messages", text, **extra)


def test_an_old_clients_temperature_is_fitted_and_never_rests_the_provider(
    start_brb: StartRig,
) -> None:
    """Older SDKs send temperature with anthropic-version 2023-06-01: brb answers
    from the cloud every time, and the provider is never rested for it."""
    rig = start_brb()
    rig.press()
    for i in range(5):
        answer = rig.post("/v1/messages", messages(f"q{i}", temperature=0.5, top_k=3), OLD_CLIENT)
        assert (answer.status, answer.provider) == (200, "anthropic"), answer.text
    sent = [r.body for r in rig.anthropic.message_requests]
    assert len(sent) == 5
    assert all(isinstance(b, dict) and "temperature" not in b and "top_k" not in b for b in sent)
    provider = rig.status()["providers"]["anthropic"]
    assert (provider["state"], provider["failures"]) == ("closed", 0), provider


@pytest.mark.parametrize("pressed", [False, True])
@pytest.mark.parametrize(
    "extra",
    [
        {"extra_body": {"model": "claude-opus-4-1", "max_tokens": 100000}},
        {"extra_headers": {"anthropic-beta": "output-300k-2026-03-24"}},
        {"extra_query": {"beta": "true"}},
        {"timeout": 600},
        {"unheard_of": 1},
    ],
    ids=["extra_body", "extra_headers", "extra_query", "timeout", "unknown"],
)
def test_sdk_options_in_the_body_are_a_400_naming_the_field(
    start_brb: StartRig, extra: dict[str, Any], pressed: bool
) -> None:
    rig = start_brb()
    if pressed:
        rig.press()
    local_before = rig.ollama.received["/v1/messages"]
    answer = rig.post("/v1/messages", messages(**extra), OLD_CLIENT)
    (field,) = extra
    assert answer.status == 400 and field in answer.json()["error"], answer.text
    assert rig.cloud_hits() == 0 and rig.ollama.received["/v1/messages"] == local_before
    if pressed:  # a client's mistake never counts against the provider
        assert rig.ask().provider == "anthropic"


@pytest.mark.parametrize(
    "extra",
    [
        {"messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://example.com/x.png"}},
            {"type": "text", "text": "what is this?"}]}]},
        {"messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "file", "file_id": "file_1"}},
            {"type": "text", "text": "summarise"}]}]},
        {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
    ],
    ids=["url-image", "file-document", "server-tool"],
)  # fmt: skip
def test_no_honest_bound_keeps_the_request_local(
    start_brb: StartRig, extra: dict[str, Any]
) -> None:
    rig = start_brb()
    rig.press()
    answer = rig.post("/v1/messages", messages(**extra), OLD_CLIENT)
    assert answer.provider == "ollama" and answer.headers["x-brb-route"] == "unbounded_cost"
    assert rig.cloud_hits() == 0
    assert rig.ledger_rows() == []


def cached(ttl: str | None) -> dict[str, Any]:
    control: dict[str, Any] = {"type": "ephemeral"}
    if ttl:
        control["ttl"] = ttl
    system = [{"type": "text", "text": "Answer briefly. " * 50, "cache_control": control}]
    return messages("hi", system=system)


def expected_cost(usage: dict[str, Any]) -> Decimal:
    rates = {k: Decimal(v) for k, v in PRICES[CLOUD_MODEL].items()}
    one_hour = usage["cache_creation"]["ephemeral_1h_input_tokens"]
    return (
        usage["input_tokens"] * rates["input_per_mtok"]
        + usage["output_tokens"] * rates["output_per_mtok"]
        + (usage["cache_creation_input_tokens"] - one_hour) * rates["cache_write_per_mtok"]
        + one_hour * rates["cache_write_1h_per_mtok"]
        + usage["cache_read_input_tokens"] * rates["cache_read_per_mtok"]
    ) / MTOK


def money_rig(start_brb: StartRig) -> Rig:
    rig = start_brb(models={"anthropic_model": CLOUD_MODEL}, pricing=PRICES)
    rig.press()
    return rig


@pytest.mark.parametrize("ttl", [None, "1h"])
def test_cache_writes_and_reads_settle_at_usage_times_price(
    start_brb: StartRig, ttl: str | None
) -> None:
    """The fake reports cache writes (5-minute or 1-hour) then reads: each row costs
    exactly its usage x price, and the reservation covered it."""
    rig = money_rig(start_brb)
    usages = []
    for _ in range(2):
        answer = rig.post("/v1/messages", cached(ttl), OLD_CLIENT)
        assert answer.provider == "anthropic", answer.text
        usages.append(answer.json()["usage"])
    write, read = usages
    assert write["cache_creation_input_tokens"] > 0 and read["cache_read_input_tokens"] > 0
    assert (write["cache_creation"]["ephemeral_1h_input_tokens"] > 0) is (ttl == "1h")
    rows = rig.settled_rows(2)
    for row, usage in zip(rows, usages, strict=True):
        cost = Decimal(row["cost_micro_usd"]) / MTOK
        assert cost == expected_cost(usage)
        assert Decimal(row["reserved_micro_usd"]) / MTOK >= cost
        assert row["cache_write_tokens"] == usage["cache_creation_input_tokens"]
        assert row["cache_read_tokens"] == usage["cache_read_input_tokens"]


def test_a_streamed_one_hour_cache_write_settles_at_its_rate(start_brb: StartRig) -> None:
    rig = money_rig(start_brb)
    client = anthropic.Anthropic(base_url=rig.url, api_key="k", max_retries=0)
    body = cached("1h")
    with client.messages.stream(
        model=MODEL, max_tokens=64, messages=body["messages"], system=body["system"]
    ) as stream:
        final = stream.get_final_message()
    usage = final.usage.to_dict()
    assert usage["cache_creation"]["ephemeral_1h_input_tokens"] > 0
    (row,) = rig.settled_rows(1)
    assert Decimal(row["cost_micro_usd"]) / MTOK == expected_cost(usage)
