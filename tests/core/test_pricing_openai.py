"""OpenAI-compatible models in the dated price table: dated ids and OpenRouter names resolve,
cached prompt tokens are cache reads, and the worst case never under-counts."""

from __future__ import annotations

from decimal import Decimal

from brb.core.pricing import Usage, price_for, usage_cost_usd, worst_case_usd


def test_openai_models_are_priced_under_their_dated_and_routed_names() -> None:
    base = price_for("gpt-4o-mini")
    assert base is not None and base.base.input_per_mtok == Decimal("0.15")
    assert price_for("gpt-4o-mini-2024-07-18") == base
    assert price_for("openai/gpt-4o-mini") == base
    assert price_for("llama-3.3-70b-versatile") is None  # priced under pricing: or skipped


def test_cached_prompt_tokens_cost_the_cache_read_rate() -> None:
    price = price_for("gpt-4.1-mini")
    assert price is not None
    usage = Usage(input_tokens=600_000, output_tokens=100_000, cache_read_input_tokens=400_000)
    # 0.6M x $0.40 + 0.1M x $1.60 + 0.4M x $0.10
    assert usage_cost_usd(price, usage) == Decimal("0.440000")


def test_the_worst_case_is_every_prompt_token_uncached_and_every_output_token() -> None:
    price = price_for("gpt-5-mini")
    assert price is not None
    assert worst_case_usd(price, input_tokens=1_000_000, max_tokens=1_000_000) == Decimal("2.25")
