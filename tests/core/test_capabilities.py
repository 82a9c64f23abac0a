"""The per-model capability table: prefill, sampling, windows, and the API-version rule."""

from __future__ import annotations

import pytest

from brb.core.capabilities import (
    CAPABILITY_TABLE,
    DEFAULT_API_VERSION,
    UNKNOWN_MODEL,
    capabilities_for,
)

OLD_API = "2023-06-01"


def test_default_api_version_is_what_the_python_sdk_sends() -> None:
    from anthropic._constants import ANTHROPIC_API_VERSION

    assert DEFAULT_API_VERSION == ANTHROPIC_API_VERSION == "2026-10-21"


@pytest.mark.parametrize(
    ("model", "prefill"),
    [
        ("claude-sonnet-4-5", True),
        ("claude-haiku-4-5-20251001", True),
        ("claude-opus-4-5-20251101", True),
        ("claude-opus-4-6", False),
        ("claude-sonnet-4-6", False),
        ("claude-opus-4-8", False),
        ("claude-haiku-5-5", False),
        ("claude-sonnet-5-5", False),
    ],
)
def test_prefill(model: str, prefill: bool) -> None:
    assert capabilities_for(model, OLD_API).accepts_prefill is prefill


@pytest.mark.parametrize(
    "model",
    [
        "claude-sonnet-5",
        "claude-sonnet-5-5",
        "claude-opus-4-7",
        "claude-opus-5-5",
        "claude-haiku-5-5",
    ],
)
def test_5x_generation_takes_no_sampling_parameters(model: str) -> None:
    assert capabilities_for(model, OLD_API).sampling_params == frozenset()


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-haiku-4-5"])
def test_sonnet_and_haiku_45_take_temperature_or_top_p_not_both(model: str) -> None:
    caps = capabilities_for(model, OLD_API)
    assert caps.sampling_params == {"temperature", "top_p", "top_k"}
    assert caps.exclusive_sampling


def test_api_version_2026_10_21_removes_sampling_everywhere() -> None:
    for model in CAPABILITY_TABLE:
        caps = capabilities_for(model, "2026-10-21")
        assert caps.sampling_params == frozenset(), model
        assert capabilities_for(model) == caps  # the default version is the SDK's
    assert capabilities_for("claude-sonnet-4-5", "2026-10-20").sampling_params == {
        "temperature",
        "top_p",
        "top_k",
    }


@pytest.mark.parametrize(
    "model", ["gpt-4o", "claude-sonnet-4-7", "claude-sonnet-9", "", "claude-opus-4-55"]
)
def test_unknown_models_get_the_safest_row(model: str) -> None:
    caps = capabilities_for(model, OLD_API)
    assert caps == UNKNOWN_MODEL
    assert not caps.accepts_prefill
    assert caps.sampling_params == frozenset()


def test_dated_and_latest_ids_match_their_row() -> None:
    base = capabilities_for("claude-sonnet-4-5", OLD_API)
    assert capabilities_for("claude-sonnet-4-5-20250929", OLD_API) == base
    assert capabilities_for("claude-sonnet-4-5-latest", OLD_API) == base
    assert capabilities_for("claude-sonnet-4-20250514", OLD_API) == capabilities_for(
        "claude-sonnet-4-0", OLD_API
    )


def test_windows_and_output_caps() -> None:
    assert capabilities_for("claude-sonnet-5-5").context_window_tokens == 1_000_000
    assert capabilities_for("claude-sonnet-5-5").max_output_tokens == 128_000
    assert capabilities_for("claude-haiku-4-5").context_window_tokens == 200_000
    assert capabilities_for("claude-haiku-4-5").max_output_tokens == 64_000
    assert UNKNOWN_MODEL.max_output_tokens == 4096


def test_every_priced_model_has_capabilities() -> None:
    from brb.core.pricing import PRICE_TABLE

    claude = [model for model in PRICE_TABLE if model.startswith("claude-")]
    missing = [model for model in claude if model not in CAPABILITY_TABLE]
    assert missing == []
