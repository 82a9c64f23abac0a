"""brb.config: the original example loads, defaults need no file, bad input is
refused with its dotted key path, secrets never appear, and
config/brb.example.yaml documents every key."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel

from brb.config import BrbConfig, default_path, load, mask, parse, read_secret
from brb.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EMERGENCY = ROOT / "config" / "emergency.yaml"
EXAMPLE = ROOT / "config" / "brb.example.yaml"
SECRET = "sk-ant-api03-Zq9xY8wV7uT6sR5qP4oN3mL2kJ1iH0gF"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "brb.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def refused(data: Any) -> str:
    with pytest.raises(ConfigError) as exc:
        parse(data)
    assert exc.value.exit_code == 2
    return str(exc.value)


# --- the original example and the defaults ---------------------------------------


def test_emergency_yaml_loads_with_the_model_warning() -> None:
    loaded = load(EMERGENCY)
    cfg = loaded.config
    assert cfg.thresholds.queue_depth == 50 and cfg.thresholds.wait_time_seconds == 60
    assert cfg.budget.daily_limit_usd == Decimal("100.00")
    assert cfg.budget.alert_at_percent == [80.0]
    assert cfg.models.anthropic_model == "claude-3-sonnet-20241022"
    assert cfg.notifications.slack_channel == "#ops-emergency"
    assert cfg.notifications.pagerduty_service == "chatbot-emergency"
    assert cfg.excluded_sessions == ["compliance-*", "test-*", "internal-*"]
    text = " ".join(loaded.warnings)
    assert "claude-3-sonnet-20241022" in text and "never existed" in text
    assert "claude-sonnet-5-5" in text  # a nearest real model is named
    assert "diversion to it is OFF" in text  # and no price: traffic stays local
    assert "never existed" in EMERGENCY.read_text(encoding="utf-8")  # the file says so too


def test_no_file_means_every_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BRB_CONFIG", raising=False)
    if default_path() is not None:
        pytest.skip("this machine has /etc/brb/brb.yaml")
    loaded = load()
    assert loaded.path is None and loaded.config == BrbConfig()
    assert loaded.warnings == ()  # the default model is priced
    assert parse(None) == BrbConfig() and parse({"big_red_button": None}) == BrbConfig()


def test_brb_config_env_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write(tmp_path, "big_red_button:\n  thresholds: {queue_depth: 7}\n")
    monkeypatch.setenv("BRB_CONFIG", str(p))
    assert load().config.thresholds.queue_depth == 7


def test_unpriced_model_warns_but_loads() -> None:
    cfg = parse({"big_red_button": {"models": {"anthropic_model": "claude-next-9"}}})
    from brb.config import model_warnings

    (warning,) = model_warnings(cfg)
    assert "claude-next-9" in warning and "no known price" in warning


# --- refusals name the key path ------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ({"thresholds": {"queue_depth": -1}}, "big_red_button.thresholds.queue_depth"),
        ({"thresholds": {"wait_time_seconds": 0}}, "big_red_button.thresholds.wait_time_seconds"),
        ({"thresholds": {"release_fraction": 1}}, "big_red_button.thresholds.release_fraction"),
        ({"budget": {"daily_limit_usd": "lots"}}, "big_red_button.budget.daily_limit_usd"),
        ({"budget": {"alert_at_percent": [50, 120]}}, "big_red_button.budget.alert_at_percent"),
        ({"budget": {"alert_at_percent": 0}}, "big_red_button.budget.alert_at_percent"),
        ({"policy": "sometimes"}, "big_red_button.policy"),
        ({"listen": "11435"}, "big_red_button.listen"),
        ({"upstream": "localhost:11434"}, "big_red_button.upstream"),
        ({"button": {"kind": "foot-pedal"}}, "big_red_button.button.kind"),
        (
            {"pricing": {"claude-x": {"input_per_mtok": 1}}},
            "big_red_button.pricing.claude-x.output_per_mtok",
        ),
    ],
)
def test_bad_value_is_refused_with_its_path(section: dict[str, Any], path: str) -> None:
    msg = refused({"big_red_button": section})
    assert re.search(rf"(^|\s){re.escape(path)}: ", msg), msg


def test_several_errors_are_all_reported() -> None:
    msg = refused(
        {"big_red_button": {"thresholds": {"queue_depth": -1}, "budget": {"daily_limit_usd": -5}}}
    )
    assert "thresholds.queue_depth" in msg and "budget.daily_limit_usd" in msg


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ({"treshold": {}}, "big_red_button.treshold"),
        ({"thresholds": {"queue_dept": 5}}, "big_red_button.thresholds.queue_dept"),
        (
            {"notifications": {"statuspage": {"page": "x"}}},
            "big_red_button.notifications.statuspage.page",
        ),
    ],
)
def test_unknown_key_is_refused_with_its_path(section: dict[str, Any], path: str) -> None:
    msg = refused({"big_red_button": section})
    assert f"{path}: unknown key" in msg


def test_unknown_top_level_key() -> None:
    assert "'big_red_buton'" in refused({"big_red_buton": {}})
    assert "mapping" in refused(["big_red_button"])


def test_bad_timezone() -> None:
    msg = refused({"big_red_button": {"timezone": "Mars/Olympus_Mons"}})
    assert "big_red_button.timezone" in msg and "Mars/Olympus_Mons" in msg
    ok = parse({"big_red_button": {"timezone": "America/New_York"}})
    assert ok.tz.key == "America/New_York"


@pytest.mark.parametrize(
    ("value", "expected"), [(80, [80.0]), (92.5, [92.5]), ([100, 50, 80, 80], [50.0, 80.0, 100.0])]
)
def test_alert_at_percent_number_or_list(value: Any, expected: list[float]) -> None:
    cfg = parse({"big_red_button": {"budget": {"alert_at_percent": value}}})
    assert cfg.budget.alert_at_percent == expected


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(write(tmp_path, "big_red_button: [unclosed\n"))
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "nope.yaml")


# --- secrets -------------------------------------------------------------------------


def env_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of every ``*_env`` field (they name environment variables)."""
    out = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += env_fields(ann, f"{prefix}{name}.")
        elif get_origin(ann) is dict and name == "providers":  # a mapping of sections
            out += env_fields(get_args(ann)[1], f"{prefix}{name}.anthropic.")
        elif name.endswith("_env"):
            out.append(prefix + name)
    return out


def nested(path: str, value: Any) -> dict[str, Any]:
    for key in reversed(path.split(".")):
        value = {key: value}
    return value


ENV_FIELDS = env_fields(BrbConfig)


def test_env_fields_found() -> None:
    assert "providers.anthropic.api_key_env" in ENV_FIELDS
    assert "notifications.statuspage.api_key_env" in ENV_FIELDS and len(ENV_FIELDS) >= 6


@pytest.mark.parametrize("path", ENV_FIELDS)
def test_secret_pasted_into_an_env_field_is_refused_without_echo(path: str) -> None:
    msg = refused({"big_red_button": nested(path, SECRET)})
    assert f"big_red_button.{path}" in msg and "NAME of an environment variable" in msg
    assert SECRET not in msg and SECRET[:12] not in msg
    assert parse({"big_red_button": nested(path, "MY_SECRET_VAR")})


def test_read_secret_order_and_mask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BRB_T_A", raising=False)
    monkeypatch.setenv("BRB_T_B", "  second  ")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert read_secret(["BRB_T_A", "BRB_T_B"]) == "second"
    monkeypatch.setenv("BRB_T_A", "first")
    assert read_secret(["BRB_T_A", "BRB_T_B"]) == "first"
    (tmp_path / "anthropic-key").write_text("from-credential\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert read_secret(["BRB_T_NONE"], "anthropic-key") == "from-credential"
    assert read_secret(["BRB_T_NONE"], "missing") is None
    assert mask(SECRET) == f"set ({len(SECRET)} chars)" and mask(None) == "(not set)"


# --- config/brb.example.yaml ---------------------------------------------------------

# Where the example deliberately differs from the defaults, to show the shape
# of a map (both leave every price and route in force unchanged).
EXAMPLE_DIFFERS = {"pricing", "models.map", "providers.anthropic.model"}


def field_paths(model: type[BaseModel], data: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every field of ``model`` missing from ``data`` (recursing
    into sub-sections and into each entry of a mapping of sections)."""
    missing = []
    for name, field in model.model_fields.items():
        path = prefix + name
        if name not in data:
            missing.append(path)
            continue
        ann, value = field.annotation, data[name]
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            missing += field_paths(ann, value or {}, path + ".")
        elif get_origin(ann) is dict:
            item = get_args(ann)[1]
            if isinstance(item, type) and issubclass(item, BaseModel):
                if not value:
                    missing.append(path + ".<entry>")
                for key, entry in (value or {}).items():
                    missing += field_paths(item, entry, f"{path}.{key}.")
    return missing


def drop(d: dict[str, Any], dotted: str) -> None:
    *parents, last = dotted.split(".")
    for p in parents:
        d = d[p]
    d.pop(last)


def test_example_has_every_key() -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert list(data) == ["big_red_button"]
    assert field_paths(BrbConfig, data["big_red_button"]) == []


def test_example_equals_the_defaults_except_where_it_says() -> None:
    loaded = load(EXAMPLE)
    assert loaded.warnings == ()
    got = loaded.config.model_dump()
    want = BrbConfig().model_dump()
    for path in EXAMPLE_DIFFERS:
        drop(got, path)
        drop(want, path)
    assert got == want
    # The deliberate differences change no price in force and no route.
    cfg = loaded.config
    for model in cfg.pricing:
        default = BrbConfig().price_for(model)
        assert default is not None and cfg.price_for(model).base == default.base  # type: ignore[union-attr]
    assert set(cfg.models.map.values()) <= {cfg.models.anthropic_model}


def test_example_comments_every_key() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        if re.match(r"^\s*[\w.\"'*:-]+:(\s|$)", line) and "#" not in line:
            prev = next((p for p in reversed(lines[:i]) if p.strip()), "")
            if not prev.strip().startswith("#"):
                undocumented.append(line.strip())
    assert undocumented == []


# --- the upstream pool ---------------------------------------------------------------


def test_a_lone_upstream_is_a_pool_of_one() -> None:
    cfg = parse({"big_red_button": {"upstream": "http://gpu:11434/", "upstream_parallel": 3}})
    assert [(u.name, u.url, u.parallel) for u in cfg.upstream_pool()] == [
        ("default", "http://gpu:11434", 3)
    ]
    assert cfg.health_check_seconds == 5.0


def test_upstreams_make_a_pool_in_order() -> None:
    cfg = parse(
        {
            "big_red_button": {
                "upstreams": [
                    {"name": "gpu-1", "url": "http://10.0.0.1:11434/", "parallel": 2},
                    {"name": "gpu-2", "url": "http://10.0.0.2:11434"},
                ],
                "health_check_seconds": 0.5,
            }
        }
    )
    assert [(u.name, u.url, u.parallel) for u in cfg.upstream_pool()] == [
        ("gpu-1", "http://10.0.0.1:11434", 2),
        ("gpu-2", "http://10.0.0.2:11434", 1),
    ]
    assert cfg.health_check_seconds == 0.5


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ({"upstreams": [{"name": "a", "url": "ftp://x"}]}, "big_red_button.upstreams.0.url"),
        ({"upstreams": [{"name": "a b", "url": "http://x"}]}, "big_red_button.upstreams.0.name"),
        ({"upstreams": [{"url": "http://x"}]}, "big_red_button.upstreams.0.name"),
        (
            {"upstreams": [{"name": "a", "url": "http://x", "parallel": 0}]},
            "big_red_button.upstreams.0.parallel",
        ),
        (
            {"upstreams": [{"name": "a", "url": "http://x"}, {"name": "a", "url": "http://y"}]},
            "upstreams.1.name: 'a' is already in the pool",
        ),
        (
            {"upstreams": [{"name": "a", "url": "http://x"}, {"name": "b", "url": "http://x"}]},
            "upstreams.1.url: 'http://x' is already in the pool",
        ),
        (
            {"upstream": "http://x", "upstreams": [{"name": "a", "url": "http://y"}]},
            "upstream: give either upstream (one server) or upstreams (a pool), not both",
        ),
        ({"health_check_seconds": 0}, "big_red_button.health_check_seconds"),
    ],
)
def test_bad_upstreams_name_the_key(section: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse({"big_red_button": section})
    assert says in str(err.value)
