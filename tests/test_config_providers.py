"""providers: an ordered chain; names imply kinds; the old single-provider form still loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from brb.config import BrbConfig, load, parse, provider_key
from brb.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def cfg_of(section: dict[str, Any]) -> BrbConfig:
    return parse({"big_red_button": section})


def refused(section: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as exc:
        cfg_of(section)
    return str(exc.value)


def test_no_providers_section_is_one_anthropic_entry_on_models_anthropic_model() -> None:
    (spec,) = cfg_of({"models": {"anthropic_model": "claude-haiku-4-5"}}).provider_chain()
    assert (spec.name, spec.kind, spec.model) == ("anthropic", "anthropic", "claude-haiku-4-5")
    assert spec.base_url == "https://api.anthropic.com"
    assert spec.key_env_names == ["ANTHROPIC_EMERGENCY_KEY", "ANTHROPIC_API_KEY"]
    assert spec.credential == "anthropic-key"
    assert (spec.first_token_timeout_s, spec.failure_threshold, spec.cooldown_s) == (10, 3, 30)


def test_yaml_order_is_the_chain_order_and_names_imply_kinds() -> None:
    cfg = cfg_of(
        {
            "providers": {
                "openai": {"model": "gpt-5-mini"},
                "groq": {
                    "kind": "openai",
                    "base_url": "https://api.groq.com/openai/v1/",
                    "model": "llama-3.3-70b-versatile",
                },
                "anthropic": {},
            }
        }
    )
    chain = cfg.provider_chain()
    assert [(p.name, p.kind) for p in chain] == [
        ("openai", "openai"),
        ("groq", "openai"),
        ("anthropic", "anthropic"),
    ]
    openai, groq, _ = chain
    assert openai.base_url == "https://api.openai.com/v1" and openai.api_key_env == "OPENAI_API_KEY"
    assert groq.base_url == "https://api.groq.com/openai/v1"  # trailing slash dropped
    assert (groq.api_key_env, groq.credential) == ("GROQ_API_KEY", "groq-key")
    assert cfg.anthropic_provider() == chain[2]


def test_the_old_single_provider_form_and_the_original_example_still_load() -> None:
    cfg = cfg_of(
        {"providers": {"anthropic": {"base_url": "http://127.0.0.1:9", "timeout_seconds": 5}}}
    )
    (spec,) = cfg.provider_chain()
    assert (spec.base_url, spec.timeout_s, spec.model) == (
        "http://127.0.0.1:9",
        5,
        cfg.models.anthropic_model,
    )
    original = load(ROOT / "config" / "emergency.yaml").config
    assert [p.name for p in original.provider_chain()] == ["anthropic"]


def test_an_anthropic_entry_maps_with_its_own_map_then_models_map() -> None:
    cfg = cfg_of(
        {
            "models": {"map": {"llama*": "claude-haiku-4-5", "qwen*": "claude-opus-4-5"}},
            "providers": {
                "anthropic": {"map": {"llama3.1*": "claude-sonnet-4-5"}},
                "openai": {"model": "gpt-5-mini", "map": {"qwen*": "gpt-5"}},
            },
        }
    )
    anthropic, openai = cfg.provider_chain()
    assert anthropic.cloud_model_for("llama3.1:8b") == "claude-sonnet-4-5"
    assert anthropic.cloud_model_for("llama3:8b") == "claude-haiku-4-5"
    assert anthropic.cloud_model_for("mistral") == cfg.models.anthropic_model
    assert (
        openai.cloud_model_for("qwen2") == "gpt-5" and openai.cloud_model_for("x") == "gpt-5-mini"
    )
    assert {"gpt-5", "gpt-5-mini", "claude-sonnet-4-5"} <= set(cfg.cloud_models())


@pytest.mark.parametrize(
    ("providers", "says"),
    [
        ({"openai": {}}, "big_red_button.providers.openai: model is required"),
        ({"groq": {"model": "m"}}, "groq: kind is required"),
        ({"ollama": {"kind": "openai", "model": "m"}}, "'ollama' can't name a provider"),
        ({"Big One": {"kind": "openai", "model": "m"}}, "can't name a provider"),
        ({"openai": {"model": "m", "kind": "cohere"}}, "providers.openai.kind"),
        (
            {"openai": {"model": "m", "breaker": {"failure_threshold": 0}}},
            "providers.openai.breaker.failure_threshold",
        ),
        (
            {"openai": {"model": "m", "first_token_timeout_seconds": 0}},
            "providers.openai.first_token_timeout_seconds",
        ),
        ({"openai": {"model": "m", "base_url": "api.openai.com"}}, "providers.openai.base_url"),
        ({"openai": {"model": "m", "api_key_env": "sk-proj-abc123"}}, "NAME of an environment"),
        ({"openai": {"model": "m", "colour": "red"}}, "providers.openai.colour: unknown key"),
    ],
)
def test_bad_provider_entries_are_refused_with_their_path(
    providers: dict[str, Any], says: str
) -> None:
    assert says in refused({"providers": providers})


def test_each_provider_has_its_own_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("GROQ_API_KEY", "gsk-test")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = cfg_of(
        {
            "providers": {
                "openai": {"model": "gpt-5-mini"},
                "groq": {"kind": "openai", "model": "llama-3.3-70b-versatile"},
            }
        }
    )
    openai, groq = cfg.provider_chain()
    assert provider_key(openai) is None and provider_key(groq) == "gsk-test"
