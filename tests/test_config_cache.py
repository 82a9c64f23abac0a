"""brb.config_cache: the light commands' config read back without pydantic
is the config brb.config validates, field for field and view for view; a
bad or changed file is never answered from the cache."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from brb import config_cache
from brb.config import BrbConfig, load
from brb.config_cache import ConfigView, SectionView
from brb.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
RICH = """\
big_red_button:
  listen: "[::1]:9000"
  timezone: Europe/London
  budget: {daily_limit_usd: "12.34", alert_at_percent: [90, 50]}
  models:
    anthropic_model: claude-sonnet-4-5
    map: {"llama*": claude-haiku-4-5, "qwen*": my-own-model}
  pricing:
    my-own-model: {input_per_mtok: "1.5", output_per_mtok: "7"}
  providers:
    anthropic: {}
    backup: {kind: openai, model: gpt-x, map: {"qwen*": gpt-y}}
  excluded_sessions: [ci-*]
  routing:
    rules:
      - {match: {prompt_tokens: {gt: 2000}, header: {X-Team: "ml*"}}, action: cloud}
      - {match: {model: "tiny*", complexity: {lt: 0.2}}, action: {provider: backup}}
  notifications: {slack_channel: "#ops", statuspage: {page_id: p1}}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "brb.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def plain(value: Any) -> Any:
    """Both shapes reduced to nested dicts, keeping every leaf's exact type."""
    if isinstance(value, BaseModel):
        return {k: plain(getattr(value, k)) for k in type(value).model_fields}
    if isinstance(value, SectionView):
        return {k: plain(v) for k, v in value._values.items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(plain(v) for v in value)
    return (type(value).__name__, value)


def cached(path: Path | None) -> tuple[Any, tuple[str, ...]]:
    config_cache.load(path)  # the first load validates in full and remembers
    return config_cache.load(path)


@pytest.mark.parametrize("text", [None, RICH, (ROOT / "config" / "emergency.yaml").read_text()])
def test_the_cached_config_is_the_validated_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str | None
) -> None:
    monkeypatch.delenv("BRB_CONFIG", raising=False)
    path = None if text is None else write(tmp_path, text)
    full = load(path)
    cfg, warnings = cached(path)
    assert isinstance(cfg, ConfigView)  # read back, not validated again
    assert plain(cfg) == plain(full.config)
    assert warnings == full.warnings
    assert cfg.tz == full.config.tz
    assert (cfg.listen_host, cfg.listen_port) == (full.config.listen_host, full.config.listen_port)
    assert cfg.cloud_models() == full.config.cloud_models()
    assert cfg.provider_chain() == full.config.provider_chain()
    assert cfg.anthropic_provider() == full.config.anthropic_provider()
    assert cfg.rule_set() == full.config.rule_set()
    for model in [*full.config.cloud_models(), "unknown-model"]:
        assert cfg.price_for(model) == full.config.price_for(model)
    for local in ("llama3:8b", "qwen2", "mistral"):
        assert cfg.models.cloud_model_for(local) == full.config.models.cloud_model_for(local)


def test_values_keep_their_types(tmp_path: Path) -> None:
    cfg, _ = cached(write(tmp_path, RICH))
    assert cfg.budget.daily_limit_usd == Decimal("12.34")
    assert type(cfg.budget.daily_limit_usd) is Decimal
    assert cfg.budget.alert_at_percent == [50.0, 90.0]
    assert type(cfg.pricing["my-own-model"].input_per_mtok) is Decimal
    assert cfg.models.map == {"llama*": "claude-haiku-4-5", "qwen*": "my-own-model"}
    with pytest.raises(AttributeError, match="frozen"):
        cfg.timezone = "UTC"
    with pytest.raises(AttributeError, match="no key 'nope'"):
        _ = cfg.nope


def test_bad_config_is_refused_alike_even_after_a_good_one_was_cached(tmp_path: Path) -> None:
    path = write(tmp_path, RICH)
    cached(path)
    write(tmp_path, "big_red_button:\n  thresholds:\n    queue_dept: 5\n")
    for _ in range(2):  # never remembered, so refused every time
        with pytest.raises(ConfigError) as exc:
            config_cache.load(path)
        assert "big_red_button.thresholds.queue_dept: unknown key" in str(exc.value)
        assert exc.value.exit_code == 2
    with pytest.raises(ConfigError) as missing:
        config_cache.load(tmp_path / "absent.yaml")
    assert str(missing.value) == f"config file {tmp_path / 'absent.yaml'} does not exist"


def test_a_changed_file_is_validated_again(tmp_path: Path) -> None:
    path = write(tmp_path, RICH)
    cached(path)
    write(tmp_path, RICH.replace("12.34", "56.78"))
    cfg, _ = config_cache.load(path)
    assert isinstance(cfg, BrbConfig)  # a full load, not the stale entry
    cfg, _ = config_cache.load(path)
    assert isinstance(cfg, ConfigView) and cfg.budget.daily_limit_usd == Decimal("56.78")


def test_stale_code_or_a_corrupt_entry_means_a_full_load(tmp_path: Path) -> None:
    path = write(tmp_path, RICH)
    cached(path)
    entry = config_cache._entry_file(path)
    record = json.loads(entry.read_text())
    record["code"][0][1] += 1  # as if brb or pydantic had been upgraded
    entry.write_text(json.dumps(record))
    assert isinstance(config_cache.load(path)[0], BrbConfig)
    entry.write_text("{not json")
    assert isinstance(config_cache.load(path)[0], BrbConfig)
    assert isinstance(config_cache.load(path)[0], ConfigView)


def test_every_derived_view_is_shared_with_the_cached_config() -> None:
    """A method or property on a pydantic section would be missing from the
    cached config: derived views belong in brb.config_views' mixins."""
    sections: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [BrbConfig]
    while todo:
        model = todo.pop()
        sections.append(model)
        for field in model.model_fields.values():
            for t in (field.annotation, *getattr(field.annotation, "__args__", ())):
                if isinstance(t, type) and issubclass(t, BaseModel) and t not in sections:
                    todo.append(t)
    for model in sections:
        own = {n for n in vars(model) if not n.startswith(("_", "model_"))}
        misplaced = own - set(model.model_fields)
        assert not misplaced, f"{model.__name__}: move {sorted(misplaced)} to brb.config_views"
        view = config_cache._VIEWS.get(model.__name__, SectionView)
        for base in model.__mro__:
            if base.__module__ == "brb.config_views":
                assert issubclass(view, base), f"{model.__name__}'s view lacks {base.__name__}"


def test_a_cached_status_imports_neither_pydantic_nor_yaml_nor_typer(tmp_path: Path) -> None:
    path = write(tmp_path, RICH)
    env = {
        "BRB_DB": str(tmp_path / "brb.db"),
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    args = [sys.executable, "-X", "importtime", "-m", "brb", "status", "--json", "-c", str(path)]
    runs = [subprocess.run(args, capture_output=True, text=True, env=env, timeout=60) for _ in "12"]
    imported = []
    for proc in runs:
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["daily_limit_usd"] == 12.34
        imported.append(
            {
                line.rsplit("|", 1)[-1].strip()
                for line in proc.stderr.splitlines()
                if line.startswith("import time:")
            }
        )
    assert {"brb.config", "yaml", "pydantic"} <= imported[0]  # the first run validated in full
    assert not {"brb.config", "yaml", "pydantic", "typer"} & imported[1]
