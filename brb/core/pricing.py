"""The dated price table of cloud models (Anthropic, OpenAI), and the cost of a request.

Owns: what a million tokens of each kind costs for each model, how a config
override replaces a row, and the arithmetic from token counts to dollars
(Decimal USD, never float). Must not read config files, the clock or the
network: callers pass overrides in.

Source: https://platform.claude.com/docs/en/about-claude/pricing ("Model
pricing" table and the per-model pages), read 2026-11-25; cross-checked
against the Sonnet 5.5 cache-read cut of 2026-10-07 and the Haiku 5.5
launch (2026-10-07), whose prompts over 100k tokens are billed at a higher
tier. ``cache_write_per_mtok`` is the 5-minute cache write rate; 1-hour
cache writes are billed at 2x the base input price (the same page: "1h cache
writes: 2x base input"), unless a row says otherwise. Prices move
often (Opus went $15/$75 -> $5/$25 -> $4/$20 per MTok within a year): keep
this table dated and let config override any row under ``pricing:``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from brb.core.value_type import value_type

PRICES_AS_OF = "2026-11-25"
PRICES_SOURCE = "https://platform.claude.com/docs/en/about-claude/pricing"

MILLION = Decimal(1_000_000)
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens of each kind, for one model (and one prompt tier)."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_write_per_mtok: Decimal
    cache_read_per_mtok: Decimal
    cache_write_1h_per_mtok: Decimal | None = None  # None: 2x input, the published rule

    @property
    def write_1h_per_mtok(self) -> Decimal:
        """The 1-hour cache write rate."""
        if self.cache_write_1h_per_mtok is not None:
            return self.cache_write_1h_per_mtok
        return self.input_per_mtok * 2


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """A model's price, with an optional dearer tier for long prompts."""

    model: str
    base: Price
    long_prompt_threshold_tokens: int | None = None
    long_prompt: Price | None = None
    source: str = "table"  # "table" or "config"

    def tier(self, prompt_tokens: int) -> Price:
        if (
            self.long_prompt is not None
            and self.long_prompt_threshold_tokens is not None
            and prompt_tokens > self.long_prompt_threshold_tokens
        ):
            return self.long_prompt
        return self.base


def _p(inp: str, out: str, cw: str, cr: str) -> Price:
    return Price(Decimal(inp), Decimal(out), Decimal(cw), Decimal(cr), Decimal(inp) * 2)


_OPUS_45 = _p("5", "25", "6.25", "0.50")
_OPUS_41 = _p("15", "75", "18.75", "1.50")
_SONNET_4 = _p("3", "15", "3.75", "0.30")

PRICE_TABLE: Mapping[str, ModelPrice] = {
    m.model: m
    for m in (
        ModelPrice("claude-fable-5-1", _p("10", "50", "12.50", "0.25")),
        ModelPrice("claude-opus-5-5", _p("4", "20", "5", "0.20")),
        ModelPrice("claude-opus-5", _OPUS_45),
        ModelPrice("claude-opus-4-8", _OPUS_45),
        ModelPrice("claude-opus-4-7", _OPUS_45),
        ModelPrice("claude-opus-4-6", _OPUS_45),
        ModelPrice("claude-opus-4-5", _OPUS_45),
        ModelPrice("claude-opus-4-1", _OPUS_41),
        ModelPrice("claude-opus-4-0", _OPUS_41),
        ModelPrice("claude-sonnet-5-5", _p("2", "10", "2.50", "0.10")),
        ModelPrice("claude-sonnet-5", _p("2", "10", "2.50", "0.20")),
        ModelPrice("claude-sonnet-4-6", _SONNET_4),
        ModelPrice("claude-sonnet-4-5", _SONNET_4),
        ModelPrice("claude-sonnet-4-0", _SONNET_4),
        ModelPrice(
            "claude-haiku-5-5",
            _p("0.10", "0.50", "0.125", "0.01"),
            long_prompt_threshold_tokens=100_000,
            long_prompt=_p("0.50", "2.50", "0.625", "0.05"),
        ),
        ModelPrice("claude-haiku-4-5", _p("1", "5", "1.25", "0.10")),
    )
}

# OpenAI-compatible models (providers of kind openai). Source:
# https://platform.openai.com/docs/pricing ("Text tokens", Standard tier), read
# 2026-11-29, cross-checked with developers.openai.com/api/docs/pricing as
# quoted by chatgptpricing-akr.pages.dev and aimodelcalc.pages.dev (2026).
# OpenAI charges no cache writes (an uncached prompt token is an input token,
# so the write rate is the input rate); cached prompt tokens are cache reads.
# Where the sources disagree on the cached rate we keep the higher one: an
# over-count costs a little headroom, an under-count breaks the budget.
# Models served elsewhere (Groq, Together, OpenRouter, vLLM) are priced under
# `pricing:` in the config; an unpriced provider model is skipped.
OPENAI_PRICES_AS_OF = "2026-11-29"
OPENAI_PRICES_SOURCE = "https://platform.openai.com/docs/pricing"
_OPENAI_COMPATIBLE = (
    ModelPrice("gpt-5", _p("1.25", "10", "1.25", "0.625")),
    ModelPrice("gpt-5-mini", _p("0.25", "2", "0.25", "0.125")),
    ModelPrice("gpt-5-nano", _p("0.05", "0.40", "0.05", "0.025")),
    ModelPrice("gpt-4.1", _p("2", "8", "2", "0.50")),
    ModelPrice("gpt-4.1-mini", _p("0.40", "1.60", "0.40", "0.10")),
    ModelPrice("gpt-4.1-nano", _p("0.10", "0.40", "0.10", "0.025")),
    ModelPrice("gpt-4o", _p("2.50", "10", "2.50", "1.25")),
    ModelPrice("gpt-4o-mini", _p("0.15", "0.60", "0.15", "0.075")),
    ModelPrice("o3", _p("2", "8", "2", "1")),
    ModelPrice("o4-mini", _p("1.10", "4.40", "1.10", "0.55")),
    ModelPrice("o3-mini", _p("1.10", "4.40", "1.10", "0.55")),
)
PRICE_TABLE = {**PRICE_TABLE, **{m.model: m for m in _OPENAI_COMPATIBLE}}

# The current Sonnet: the original write-up chose Sonnet for its balance of
# speed and quality.
DEFAULT_CLOUD_MODEL = "claude-sonnet-5-5"

# Ids people type that never existed or are retired, and what they meant.
KNOWN_MISTAKES: Mapping[str, str] = {
    "claude-3-sonnet-20241022": (
        "never existed; the real ids were claude-3-sonnet-20240229 and "
        "claude-3-5-sonnet-20241022 (both retired)"
    ),
}

_DATE_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


def canonical_model(model: str) -> str:
    """Strip a dated or ``-latest`` suffix (``...-4-5-20251001`` -> ``...-4-5``,
    ``gpt-4o-2024-08-06`` -> ``gpt-4o``) and OpenRouter's ``openai/`` prefix."""
    return _DATE_SUFFIX.sub("", model.strip().removeprefix("openai/"))


def nearest_models(model: str, n: int = 3) -> list[str]:
    """The priced model ids that look most like ``model`` (for error messages)."""
    import difflib  # only for a warning: not on the light commands' path

    return difflib.get_close_matches(canonical_model(model), list(PRICE_TABLE), n=n, cutoff=0.3)


def price_for(model: str, overrides: Mapping[str, ModelPrice] | None = None) -> ModelPrice | None:
    """The price in force for ``model``: a config override, else the table, else None."""
    if overrides:
        if model in overrides:
            return overrides[model]
        if canonical_model(model) in overrides:
            return overrides[canonical_model(model)]
    return PRICE_TABLE.get(canonical_model(model))


@value_type
class Usage:
    """One request's token counts, as Anthropic reports them (``usage``); brb sets no
    cache_control, so the cache fields stay 0 unless a client's /v1/messages asks.

    ``cache_creation_input_tokens`` counts every cache write; the part written
    to the 1-hour cache (``usage.cache_creation.ephemeral_1h_input_tokens``)
    is ``cache_creation_1h_input_tokens`` and is billed at its own rate."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        """Every token of the prompt, cached or not: what clients call the prompt size."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def updated(self, usage: object) -> Usage:
        """This usage with the fields present in an API ``usage`` object replaced."""
        if not isinstance(usage, dict):
            return self
        values = {
            name: usage[name] if isinstance(usage.get(name), int) else getattr(self, name)
            for name in _REPORTED
        }
        creation = usage.get("cache_creation")
        one_hour = creation.get("ephemeral_1h_input_tokens") if isinstance(creation, dict) else None
        if not isinstance(one_hour, int):
            one_hour = self.cache_creation_1h_input_tokens
        return Usage(**values, cache_creation_1h_input_tokens=one_hour)


_REPORTED = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


def usage_cost_usd(price: ModelPrice, usage: Usage) -> Decimal:
    """Dollars for one request's reported usage."""
    return cost_usd(
        price,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_write_tokens=usage.cache_creation_input_tokens,
        cache_read_tokens=usage.cache_read_input_tokens,
        cache_write_1h_tokens=usage.cache_creation_1h_input_tokens,
    )


def cost_usd(
    price: ModelPrice,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_write_tokens: int = 0,
    cache_read_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
) -> Decimal:
    """Dollars for one request's usage, to the micro-dollar. ``cache_write_tokens``
    counts every cache write, ``cache_write_1h_tokens`` the part of them written
    to the 1-hour cache (billed at the 1-hour rate, the rest at the 5-minute one)."""
    prompt_tokens = input_tokens + cache_write_tokens + cache_read_tokens
    p = price.tier(prompt_tokens)
    one_hour = min(max(cache_write_1h_tokens, 0), cache_write_tokens)
    total = (
        Decimal(input_tokens) * p.input_per_mtok
        + Decimal(output_tokens) * p.output_per_mtok
        + Decimal(cache_write_tokens - one_hour) * p.cache_write_per_mtok
        + Decimal(one_hour) * p.write_1h_per_mtok
        + Decimal(cache_read_tokens) * p.cache_read_per_mtok
    ) / MILLION
    return total.quantize(MICRO, rounding=ROUND_HALF_UP)


def worst_case_usd(
    price: ModelPrice, *, input_tokens: int, max_tokens: int, has_1h_cache_writes: bool = False
) -> Decimal:
    """The most a request can cost: every prompt token uncached (or written to
    the cache, whichever is dearer; the 1-hour cache too when the request asks
    for it) and every allowed output token produced."""
    p = price.tier(input_tokens)
    per_input = max(p.input_per_mtok, p.cache_write_per_mtok)
    if has_1h_cache_writes:
        per_input = max(per_input, p.write_1h_per_mtok)
    total = (Decimal(input_tokens) * per_input + Decimal(max_tokens) * p.output_per_mtok) / MILLION
    # Round up to the micro-dollar: a reservation must never under-count.
    return total.quantize(MICRO, rounding="ROUND_CEILING")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
