"""brb.core.pricing: the dated table, Decimal cost math, worst case >= actual,
and config overrides winning over the table."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brb.config import BrbConfig
from brb.core import pricing
from brb.core.pricing import (
    DEFAULT_CLOUD_MODEL,
    PRICE_TABLE,
    ModelPrice,
    Price,
    canonical_model,
    cost_usd,
    nearest_models,
    price_for,
    to_cents,
    worst_case_usd,
)

HAIKU = PRICE_TABLE["claude-haiku-5-5"]
SONNET = PRICE_TABLE["claude-sonnet-5-5"]


def test_table_is_dated_and_decimal() -> None:
    assert pricing.PRICES_AS_OF and pricing.PRICES_SOURCE.startswith("https://")
    assert DEFAULT_CLOUD_MODEL in PRICE_TABLE and "sonnet" in DEFAULT_CLOUD_MODEL
    for model, mp in PRICE_TABLE.items():
        assert mp.model == model and mp.source == "table"
        for tier in (mp.base, mp.long_prompt):
            if tier is None:
                continue
            for v in (
                tier.input_per_mtok,
                tier.output_per_mtok,
                tier.cache_write_per_mtok,
                tier.cache_read_per_mtok,
            ):
                assert isinstance(v, Decimal) and v > 0
            # Cache reads are the cheapest input, cache writes the dearest.
            assert tier.cache_read_per_mtok < tier.input_per_mtok <= tier.cache_write_per_mtok
            assert tier.output_per_mtok > tier.input_per_mtok


@pytest.mark.parametrize(
    ("model", "inp", "out"),
    [  # the figures the issue cites for late 2026
        ("claude-haiku-5-5", "0.10", "0.50"),
        ("claude-sonnet-5-5", "2", "10"),
        ("claude-opus-5-5", "4", "20"),
    ],
)
def test_current_list_prices(model: str, inp: str, out: str) -> None:
    base = PRICE_TABLE[model].base
    assert (base.input_per_mtok, base.output_per_mtok) == (Decimal(inp), Decimal(out))


def test_cost_is_exact_decimal() -> None:
    c = cost_usd(SONNET, input_tokens=1_000_000, output_tokens=1_000_000)
    assert c == Decimal("12") and isinstance(c, Decimal)
    c = cost_usd(
        SONNET, input_tokens=1234, output_tokens=567, cache_write_tokens=100, cache_read_tokens=1000
    )
    # 1234*2 + 567*10 + 100*2.5 + 1000*0.1 = 8488 micro-dollars
    assert c == Decimal("0.008488")
    assert to_cents(Decimal("0.015")) == Decimal("0.02")
    assert to_cents(Decimal("0.014999")) == Decimal("0.01")


def test_haiku_55_long_prompt_tier() -> None:
    assert HAIKU.long_prompt_threshold_tokens == 100_000
    assert HAIKU.tier(100_000) is HAIKU.base
    assert HAIKU.tier(100_001) is HAIKU.long_prompt
    assert cost_usd(HAIKU, input_tokens=100_000, output_tokens=0) == Decimal("0.01")
    assert cost_usd(HAIKU, input_tokens=100_001, output_tokens=0) == Decimal("0.050001")
    # Cached prompt tokens count towards the tier too.
    long = cost_usd(HAIKU, input_tokens=1, output_tokens=1_000, cache_read_tokens=100_000)
    # 1 x 0.50 + 1000 x 2.50 + 100000 x 0.05 = 7500.5 micro-dollars, rounded half up
    assert long == Decimal("0.007501")
    assert worst_case_usd(HAIKU, input_tokens=100_000, max_tokens=0) == Decimal("0.0125")
    assert worst_case_usd(HAIKU, input_tokens=100_001, max_tokens=0) == Decimal("0.062501")


def test_worst_case_rounds_up_never_down() -> None:
    one = ModelPrice("x", Price(Decimal("0.3"), Decimal("0.3"), Decimal("0.3"), Decimal("0.03")))
    assert worst_case_usd(one, input_tokens=1, max_tokens=0) == Decimal("0.000001")
    assert cost_usd(one, input_tokens=1, output_tokens=0) == Decimal("0")


@settings(max_examples=300, deadline=None)
@given(
    model=st.sampled_from(sorted(PRICE_TABLE)),
    prompt=st.integers(min_value=0, max_value=400_000),
    max_tokens=st.integers(min_value=0, max_value=128_000),
    data=st.data(),
)
def test_worst_case_covers_any_usage_within_bounds(
    model: str, prompt: int, max_tokens: int, data: st.DataObject
) -> None:
    """Any split of the prompt into plain / cache-write / cache-read tokens and
    any output up to max_tokens costs no more than the reservation."""
    mp = PRICE_TABLE[model]
    cache_write = data.draw(st.integers(0, prompt))
    cache_read = data.draw(st.integers(0, prompt - cache_write))
    output = data.draw(st.integers(0, max_tokens))
    one_hour = data.draw(st.integers(0, cache_write))
    actual = cost_usd(
        mp,
        input_tokens=prompt - cache_write - cache_read,
        output_tokens=output,
        cache_write_tokens=cache_write,
        cache_read_tokens=cache_read,
    )
    worst = worst_case_usd(mp, input_tokens=prompt, max_tokens=max_tokens)
    assert isinstance(worst, Decimal) and worst >= actual >= 0
    # with 1-hour cache writes in the mix, the 1-hour-aware bound still covers it
    actual_1h = cost_usd(
        mp,
        input_tokens=prompt - cache_write - cache_read,
        output_tokens=output,
        cache_write_tokens=cache_write,
        cache_read_tokens=cache_read,
        cache_write_1h_tokens=one_hour,
    )
    worst_1h = worst_case_usd(
        mp, input_tokens=prompt, max_tokens=max_tokens, has_1h_cache_writes=True
    )
    assert worst_1h >= actual_1h >= 0


def test_canonical_and_nearest_models() -> None:
    assert canonical_model("claude-haiku-4-5-20251001") == "claude-haiku-4-5"
    assert canonical_model("claude-sonnet-5-5-latest") == "claude-sonnet-5-5"
    assert price_for("claude-sonnet-5-5-20261007") is SONNET
    assert price_for("claude-3-sonnet-20241022") is None
    near = nearest_models("claude-3-sonnet-20241022")
    assert near and all(m in PRICE_TABLE for m in near)
    assert any("sonnet" in m for m in near)


def config(pricing_section: dict[str, object], **models: object) -> BrbConfig:
    return BrbConfig.model_validate({"pricing": pricing_section, "models": models})


def test_config_override_wins_over_the_table() -> None:
    cfg = config({"claude-sonnet-5-5": {"input_per_mtok": 1, "output_per_mtok": "7.5"}})
    p = cfg.price_for("claude-sonnet-5-5")
    assert p is not None and p.source == "config"
    assert p.base.input_per_mtok == Decimal(1) and p.base.output_per_mtok == Decimal("7.5")
    # Cache rates not given keep the table's.
    assert p.base.cache_write_per_mtok == SONNET.base.cache_write_per_mtok
    assert p.base.cache_read_per_mtok == SONNET.base.cache_read_per_mtok
    # A dated id of an overridden model gets the override too.
    dated = cfg.price_for("claude-sonnet-5-5-20261007")
    assert dated is not None and dated.source == "config"
    assert cost_usd(p, input_tokens=1_000_000, output_tokens=1_000_000) == Decimal("8.5")
    # Other models still come from the table.
    assert cfg.price_for("claude-opus-5-5") is PRICE_TABLE["claude-opus-5-5"]


def test_config_prices_an_unknown_model() -> None:
    cfg = config(
        {
            "claude-next-9": {
                "input_per_mtok": 2,
                "output_per_mtok": 8,
                "cache_read_per_mtok": "0.15",
            }
        },
        anthropic_model="claude-next-9",
    )
    p = cfg.price_for("claude-next-9")
    assert p is not None
    assert p.base.cache_write_per_mtok == Decimal("2.50")  # 1.25 x input by default
    assert p.base.cache_read_per_mtok == Decimal("0.15")
    assert BrbConfig().price_for("claude-next-9") is None


# Distinct prime-ish rates per token kind: swapping any two kinds changes the total.
KINDS = ModelPrice(
    "kinds",
    Price(Decimal("3"), Decimal("17"), Decimal("5"), Decimal("0.7"), Decimal("11")),
)


@pytest.mark.parametrize(
    ("usage", "expected_micro_usd"),
    [
        (pricing.Usage(input_tokens=1_000), 3_000),
        (pricing.Usage(output_tokens=1_000), 17_000),
        (pricing.Usage(cache_creation_input_tokens=1_000), 5_000),
        (pricing.Usage(cache_read_input_tokens=1_000), 700),
        (
            pricing.Usage(cache_creation_input_tokens=1_000, cache_creation_1h_input_tokens=1_000),
            11_000,
        ),
        (  # a mix: 400 5-minute writes and 600 1-hour writes
            pricing.Usage(cache_creation_input_tokens=1_000, cache_creation_1h_input_tokens=600),
            400 * 5 + 600 * 11,
        ),
    ],
)
def test_cost_is_usage_times_price_for_each_kind_of_token(
    usage: pricing.Usage, expected_micro_usd: int
) -> None:
    assert pricing.usage_cost_usd(KINDS, usage) == Decimal(expected_micro_usd) / 1_000_000


def test_one_hour_cache_writes_default_to_twice_the_input_price() -> None:
    assert SONNET.base.write_1h_per_mtok == 2 * SONNET.base.input_per_mtok
    one_hour = pricing.Usage(
        cache_creation_input_tokens=1_000_000, cache_creation_1h_input_tokens=1_000_000
    )
    assert pricing.usage_cost_usd(SONNET, one_hour) == 2 * SONNET.base.input_per_mtok


def test_usage_reads_the_one_hour_part_of_cache_creation() -> None:
    usage = pricing.Usage().updated(
        {
            "input_tokens": 5,
            "output_tokens": 7,
            "cache_creation_input_tokens": 30,
            "cache_read_input_tokens": 11,
            "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
        }
    )
    assert usage == pricing.Usage(5, 7, 30, 11, 20)
    # a later message_delta without cache_creation keeps what message_start said
    assert usage.updated({"output_tokens": 9}).cache_creation_1h_input_tokens == 20


def test_the_worst_case_covers_one_hour_cache_writes_when_asked() -> None:
    plain = worst_case_usd(SONNET, input_tokens=1_000_000, max_tokens=0)
    hour = worst_case_usd(SONNET, input_tokens=1_000_000, max_tokens=0, has_1h_cache_writes=True)
    assert plain == SONNET.base.cache_write_per_mtok  # 1.25x input
    assert hour == 2 * SONNET.base.input_per_mtok
    worst_actual = pricing.usage_cost_usd(
        SONNET,
        pricing.Usage(
            cache_creation_input_tokens=1_000_000, cache_creation_1h_input_tokens=1_000_000
        ),
    )
    assert hour >= worst_actual > plain


def test_a_config_row_may_price_one_hour_writes() -> None:
    cfg = BrbConfig.model_validate(
        {
            "pricing": {
                "claude-sonnet-5-5": {
                    "input_per_mtok": 2,
                    "output_per_mtok": 10,
                    "cache_write_1h_per_mtok": 7,
                }
            }
        }  # fmt: skip
    )
    p = cfg.price_for("claude-sonnet-5-5")
    assert p is not None and p.base.write_1h_per_mtok == Decimal(7)
