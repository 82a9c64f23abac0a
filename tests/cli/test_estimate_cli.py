"""``brb estimate`` through Typer's runner: the documented JSON on each endpoint's body,
costs that grow with max_tokens and the prompt, the worst case the daemon would
reserve, the route now (rules included), and bodies it can't read."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from brb.adapters.store import Store
from brb.core.breaker import Mode, Override
from brb.core.capabilities import capabilities_for
from brb.core.pricing import price_for
from brb.core.reservation import plan_diversion

Cli = Callable[..., Result]
MODEL = "claude-sonnet-5-5"


def chat(text: str, max_tokens: int) -> dict[str, Any]:
    return {
        "model": "llama3",
        "messages": [{"role": "user", "content": text}],
        "options": {"num_predict": max_tokens},
    }


def generate(text: str, max_tokens: int) -> dict[str, Any]:
    return {"model": "llama3", "prompt": text, "options": {"num_predict": max_tokens}}


def openai(text: str, max_tokens: int) -> dict[str, Any]:
    return {
        "model": "llama3",
        "messages": [{"role": "system", "content": "Be exact."}, {"role": "user", "content": text}],
        "max_completion_tokens": max_tokens,
    }


def anthropic(text: str, max_tokens: int) -> dict[str, Any]:
    return {
        "model": "llama3",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": text}],
    }


SHAPES = {
    "/api/chat": chat,
    "/api/generate": generate,
    "/v1/chat/completions": openai,
    "/v1/messages": anthropic,
}


def run_json(cli: Cli, body: dict[str, Any], *args: str) -> dict[str, Any]:
    result = cli("estimate", "-", "--json", *args, input=json.dumps(body))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("endpoint", list(SHAPES))
def test_json_on_each_endpoint(cli: Cli, endpoint: str) -> None:
    make = SHAPES[endpoint]
    short = run_json(cli, make("Tell me about tides. " * 10, 200), "--endpoint", endpoint)
    assert set(short) == {"prompt_tokens", "expected_output_tokens", "providers", "route"}
    assert short["expected_output_tokens"] == 200
    (p,) = short["providers"]
    assert set(p) == {"name", "model", "expected_usd", "worst_case_usd"}
    assert p["name"] == "anthropic" and p["model"] == MODEL
    assert 0 < p["expected_usd"] <= p["worst_case_usd"]
    assert short["route"] == {"divert": False, "reason": "no_provider"}

    more_output = run_json(cli, make("Tell me about tides. " * 10, 2000), "--endpoint", endpoint)
    longer = run_json(cli, make("Tell me about tides. " * 1000, 200), "--endpoint", endpoint)
    for bigger in (more_output, longer):
        assert bigger["providers"][0]["expected_usd"] > p["expected_usd"]
        assert bigger["providers"][0]["worst_case_usd"] > p["worst_case_usd"]
    assert longer["prompt_tokens"] > 10 * short["prompt_tokens"]


@pytest.mark.parametrize("endpoint", list(SHAPES))
def test_the_shape_alone_tells_the_endpoint(cli: Cli, endpoint: str) -> None:
    body = SHAPES[endpoint]("hello", 100)
    told = run_json(cli, body, "--endpoint", endpoint)
    guessed = run_json(cli, body)
    assert guessed == told


@pytest.mark.parametrize("endpoint", list(SHAPES))
def test_worst_case_is_the_reservation(cli: Cli, endpoint: str) -> None:
    """The worst case is the daemon's own reservation for the same body (the cloud leg
    reserves plan_diversion's worst_usd; tests/daemon/test_estimate_e2e.py checks the
    ledger of a live daemon)."""
    body = SHAPES[endpoint]("Count the stars. " * 300, 700)
    got = run_json(cli, body, "--endpoint", endpoint)["providers"][0]["worst_case_usd"]
    price = price_for(MODEL)
    assert price is not None
    plan = plan_diversion(
        endpoint,
        body,
        cloud_model=MODEL,
        price=price,
        caps=capabilities_for(MODEL),
        default_max_tokens=1024,
        max_input_tokens=None,
    )
    assert Decimal(str(got)) == plan.worst_usd


def test_max_tokens_default_when_the_body_sets_none(cli: Cli) -> None:
    body = {"model": "llama3", "messages": [{"role": "user", "content": "hi"}]}
    assert run_json(cli, body)["expected_output_tokens"] == 1024


def test_text_output_names_each_provider_and_the_route(cli: Cli, tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text(json.dumps(chat("hello", 100)))
    result = cli("estimate", str(body))
    assert result.exit_code == 0, result.output
    assert "anthropic (claude-sonnet-5-5): about $" in result.stdout
    assert "at most $" in result.stdout
    assert "now: kept local (no_provider)" in result.stdout


def test_no_providers_configured_says_so(cli: Cli, tmp_path: Path) -> None:
    cfg = tmp_path / "brb.yaml"
    cfg.write_text("big_red_button:\n  providers: {}\n")
    result = cli("estimate", "-c", str(cfg), input=json.dumps(chat("hello", 100)))
    assert result.exit_code == 0, result.output
    assert "no providers configured" in result.stdout
    data = run_json(cli, chat("hello", 100), "-c", str(cfg))
    assert data["providers"] == [] and data["route"]["divert"] is False


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("", (), "empty"),
        ("{not json", (), "not JSON"),
        ("[1, 2]", (), "JSON object"),
        ('{"messages": []}', (), "no model"),
        ('{"model": "m"}', (), "pass --endpoint"),
        ('{"model": "m", "messages": []}', ("--endpoint", "/api/tags"), "--endpoint must be"),
        ('{"model": "m", "messages": "hi"}', ("--endpoint", "/api/chat"), "can't read the body"),
    ],
)
def test_a_body_it_cannot_read_exits_2(cli: Cli, text: str, args: tuple, message: str) -> None:
    result = cli("estimate", "-", *args, input=text)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_missing_file_exits_2(cli: Cli, tmp_path: Path) -> None:
    result = cli("estimate", str(tmp_path / "nope.json"))
    assert result.exit_code == 2 and "can't read" in result.stderr


# --- the route now: rules, compliance, the store's mode --------------------------------

RULES = """big_red_button:
  excluded_sessions: ["compliance-*"]
  routing:
    rules:
      - match: {prompt_tokens: {gt: 2000}}
        action: cloud
"""


@pytest.fixture
def with_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_EMERGENCY_KEY", "sk-test")


@pytest.mark.usefixtures("with_key")
def test_route_applies_the_rules_and_compliance_first(cli: Cli, tmp_path: Path) -> None:
    cfg = tmp_path / "brb.yaml"
    cfg.write_text(RULES)
    long_body, short_body = chat("word " * 4000, 100), chat("hello", 100)
    assert run_json(cli, long_body, "-c", str(cfg))["route"] == {
        "divert": True,
        "reason": "rule:1:cloud",
    }
    assert run_json(cli, short_body, "-c", str(cfg))["route"] == {
        "divert": False,
        "reason": "standby",
    }
    compliance = run_json(cli, long_body, "-c", str(cfg), "--session", "compliance-7")
    assert compliance["route"] == {"divert": False, "reason": "excluded_session"}


@pytest.mark.usefixtures("with_key")
def test_route_follows_a_press_in_the_store(cli: Cli, tmp_db: Path) -> None:
    with Store.open(tmp_db) as store:
        store.write_override(Override(Mode.ON, since=datetime.now(UTC), who="t", source="cli"))
    assert run_json(cli, chat("hello", 100))["route"] == {"divert": True, "reason": "pressed"}


def test_expected_output_tokens_are_learned_from_the_request_log(cli: Cli, tmp_db: Path) -> None:
    from brb.core.request_log import RequestRow

    at = datetime.now(UTC)
    rows = [
        RequestRow(
            at,
            at.date().isoformat(),
            "/api/chat",
            model,
            "s",
            "ollama",
            "standby",
            200,
            output_tokens=tokens,
        )  # fmt: skip
        for model, tokens in [("llama3", 100), ("llama3", 300), ("qwen3", 5000)]
    ]
    with Store.open(tmp_db) as store:
        store.log_requests(rows)
    learned = run_json(cli, chat("hello", 1000))
    assert learned["expected_output_tokens"] == 200  # llama3's mean reply, not qwen3's
    capped = run_json(cli, chat("hello", 150))
    assert capped["expected_output_tokens"] == 125  # (100 + 150) / 2: each capped at 150
    assert capped["providers"][0]["expected_usd"] < learned["providers"][0]["expected_usd"]
    unknown = run_json(cli, {**chat("hello", 700), "model": "mistral"})
    assert unknown["expected_output_tokens"] == 700  # no replies known: max_tokens


def test_each_provider_of_the_chain_is_listed_in_order(cli: Cli, tmp_path: Path) -> None:
    cfg = tmp_path / "brb.yaml"
    cfg.write_text(
        "big_red_button:\n"
        "  providers:\n"
        "    openai: {model: gpt-5-mini}\n"
        "    anthropic: {model: claude-haiku-4-5}\n"
        "    backup: {kind: openai, model: mystery-1}\n"
        "  pricing:\n"
        "    gpt-5-mini: {input_per_mtok: 0.25, output_per_mtok: 2}\n"
    )
    got = run_json(cli, chat("hello " * 100, 300), "-c", str(cfg))["providers"]
    assert [(p["name"], p["model"]) for p in got] == [
        ("openai", "gpt-5-mini"),
        ("anthropic", "claude-haiku-4-5"),
        ("backup", "mystery-1"),
    ]
    openai, haiku, mystery = got
    assert 0 < openai["expected_usd"] < haiku["expected_usd"]  # cheaper per token
    assert mystery["expected_usd"] is None and mystery["worst_case_usd"] is None
    assert mystery["note"] == "no price known"


def test_live_counts_the_prompt_with_the_providers_count_tokens(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from brb.sim.anthropic import DEFAULT_API_KEY, FakeAnthropic
    from brb.sim.anthropic_reply import count_input_tokens
    from brb.sim.server import serve_in_thread

    monkeypatch.setenv("ANTHROPIC_EMERGENCY_KEY", DEFAULT_API_KEY)
    fake = FakeAnthropic()
    body = chat("Count me exactly. " * 50, 100)
    with serve_in_thread(fake.app()) as url:
        cfg = tmp_path / "brb.yaml"
        cfg.write_text(f"big_red_button:\n  providers:\n    anthropic: {{base_url: '{url}'}}\n")
        got = run_json(cli, body, "-c", str(cfg), "--live")
    assert fake.received["/v1/messages/count_tokens"] == 1
    assert fake.received["/v1/messages"] == 0  # nothing that costs money
    sent = fake.requests[-1].body  # what count_tokens received: the converted params
    assert got["prompt_tokens"] == count_input_tokens(sent)
    assert got["prompt_tokens"] != run_json(cli, body)["prompt_tokens"]  # not the estimate


def test_live_without_a_key_exits_2(cli: Cli) -> None:
    result = cli("estimate", "-", "--live", input=json.dumps(chat("hi", 10)))
    assert (
        result.exit_code == 2 and "--live needs an Anthropic provider with a key" in result.stderr
    )
