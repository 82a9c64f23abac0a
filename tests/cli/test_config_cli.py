"""``brb config check``: exit codes, the key path of a bad value, prices in
force, and secrets that never reach the output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

Cli = Callable[..., Result]
ROOT = Path(__file__).resolve().parents[2]
EMERGENCY = ROOT / "config" / "emergency.yaml"
EXAMPLE = ROOT / "config" / "brb.example.yaml"
SECRETS = {
    "ANTHROPIC_EMERGENCY_KEY": "sk-ant-api03-NEVER-PRINT-ME-0123456789abcdef",
    "BRB_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/NEVERPRINTME",
    "BRB_ADMIN_TOKEN": "admin-token-never-print-me",
    "BRB_PAGERDUTY_ROUTING_KEY": "pd-routing-never-print-me",
}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "brb.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_emergency_yaml_checks_ok_with_the_model_warning(cli: Cli) -> None:
    r = cli("config", "check", str(EMERGENCY))
    assert r.exit_code == 0, r.output
    assert "valid" in r.stdout
    assert "WARNING: model 'claude-3-sonnet-20241022' never existed" in r.stdout
    assert "claude-sonnet-5-5" in r.stdout  # the nearest real model is named
    assert "claude-3-sonnet-20241022: NO PRICE KNOWN" in r.stdout
    assert "queue_depth: 50" in r.stdout and "compliance-*" in r.stdout


def test_bad_value_exits_2_naming_the_key_path(cli: Cli, tmp_path: Path) -> None:
    p = write(tmp_path, "big_red_button:\n  thresholds: {queue_depth: -1}\n")
    for args in (("config", "check", str(p)), ("config", "check", str(p), "--json")):
        r = cli(*args)
        assert r.exit_code == 2, r.output
        assert "big_red_button.thresholds.queue_depth" in r.stderr
        assert "greater than or equal to 1" in r.stderr
        assert r.stdout == "" and "Traceback" not in r.output


def test_a_bad_config_stops_every_command(cli: Cli, tmp_path: Path) -> None:
    p = write(tmp_path, "big_red_button:\n  thresholds: {queue_dept: 5}\n")
    for cmd in ("status", "press", "spend"):
        r = cli(cmd, "--config", str(p))
        assert r.exit_code == 2, r.output
        assert "big_red_button.thresholds.queue_dept: unknown key" in r.stderr


def test_missing_file_exits_2(cli: Cli, tmp_path: Path) -> None:
    r = cli("config", "check", str(tmp_path / "nope.yaml"))
    assert r.exit_code == 2 and "does not exist" in r.stderr


def test_secrets_are_masked(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    human = cli("config", "check", str(EXAMPLE))
    as_json = cli("config", "check", str(EXAMPLE), "--json")
    for r in (human, as_json):
        assert r.exit_code == 0, r.output
        for value in SECRETS.values():
            assert value not in r.output
            assert value[-12:] not in r.output
    report = json.loads(as_json.stdout)
    secrets = report["secrets"]
    anthropic = next(v for k, v in secrets.items() if k.startswith("providers.anthropic"))
    assert anthropic == f"set ({len(SECRETS['ANTHROPIC_EMERGENCY_KEY'])} chars)"
    assert any(v == "(not set)" for v in secrets.values())  # statuspage's key
    assert "set (" in human.stdout


def test_a_secret_in_the_file_is_refused_without_echo(cli: Cli, tmp_path: Path) -> None:
    key = SECRETS["ANTHROPIC_EMERGENCY_KEY"]
    p = write(
        tmp_path, f"big_red_button:\n  providers:\n    anthropic:\n      api_key_env: {key}\n"
    )
    r = cli("config", "check", str(p))
    assert r.exit_code == 2
    assert "big_red_button.providers.anthropic.api_key_env" in r.stderr
    assert key not in r.output and "NAME of an environment variable" in r.stderr


def test_prices_in_force(cli: Cli, tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "big_red_button:\n"
        "  models:\n    anthropic_model: claude-sonnet-5-5\n"
        "    map: {'llama3*': claude-haiku-5-5}\n"
        "  pricing:\n    claude-sonnet-5-5: {input_per_mtok: 1.5, "
        "output_per_mtok: 7}\n",
    )
    out = json.loads(cli("config", "check", str(p), "--json").stdout)
    sonnet, haiku = out["prices"]["claude-sonnet-5-5"], out["prices"]["claude-haiku-5-5"]
    assert (sonnet["source"], sonnet["input_per_mtok"], sonnet["output_per_mtok"]) == (
        "config",
        1.5,
        7.0,
    )
    assert haiku["source"].startswith("table of ") and haiku["over_prompt_tokens"] == 100_000
    assert out["valid"] is True and out["warnings"] == []
    human = cli("config", "check", str(p)).stdout
    assert "claude-sonnet-5-5: input 1.5, output 7" in human and "(config)" in human
    assert "prompts over 100000 tokens" in human


def test_no_file_checks_the_defaults(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from brb.config import default_path

    if default_path() is not None:
        pytest.skip("this machine has /etc/brb/brb.yaml")
    r = cli("config", "check", "--json")
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert out["path"] is None and out["warnings"] == []
    assert out["effective"]["big_red_button"]["thresholds"]["queue_depth"] == 50
