"""routing.rules in the config: what loads, what is refused (with the key's path), the
core rule set it becomes, and ``brb config check`` printing the rules in order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from brb.config import parse
from brb.core.rules import Action, Bound, Match, Rule
from brb.errors import ConfigError


def cfg(rules: list[Any], **extra: Any) -> Any:
    return parse({"big_red_button": {"routing": {"rules": rules}, **extra}})


def test_the_rules_become_the_core_rule_set_in_order() -> None:
    got = cfg(
        [
            {"match": {"session": "compliance-*"}, "action": "local"},
            {"match": {"prompt_tokens": {"gt": 2000}}, "action": "cloud"},
            {"match": {"header": {"X-Team": "ml-*"}, "has_tools": True}, "action": "overflow"},
            {"match": {"complexity": {"gt": 0.2, "lt": 0.8}}, "action": {"provider": "anthropic"}},
            {"action": "local"},
        ]
    ).rule_set()
    assert got.rules == (
        Rule(Match(session="compliance-*"), Action.LOCAL),
        Rule(Match(prompt_tokens=Bound(gt=2000)), Action.CLOUD),
        Rule(Match(header={"x-team": "ml-*"}, has_tools=True), Action.OVERFLOW),
        Rule(Match(complexity=Bound(gt=0.2, lt=0.8)), Action.PROVIDER, "anthropic"),
        Rule(Match(), Action.LOCAL),
    )
    assert cfg([]).rule_set().rules == ()


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"action": "sometimes"}], "routing.rules.0.action: must be local, cloud, overflow"),
        ([{"match": {}}], "routing.rules.0.action: Field required"),
        ([{"action": {"provider": "nope"}}], "unknown provider 'nope' (configured: anthropic)"),
        ([{"action": {"provder": "x"}}], "routing.rules.0.action.provder: unknown key"),
        ([{"match": {"modle": "x"}, "action": "local"}], "routing.rules.0.match.modle"),
        ([{"match": {"endpoint": "/api/tags"}, "action": "local"}], "match.endpoint"),
        ([{"match": {"complexity": {"gt": 1.5}}, "action": "local"}], "complexity.gt"),
        ([{"match": {"prompt_tokens": {}}, "action": "local"}], "give gt, lt or both"),
        ([{"match": {"prompt_tokens": {"gt": 9, "lt": 3}}, "action": "local"}], "no value"),
        ([{"match": {"header": {"bad name": "x"}}, "action": "local"}], "not a header name"),
    ],
)
def test_bad_rules_are_refused_with_the_path(rules: list[Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        cfg(rules)
    assert message in str(err.value)


def test_a_provider_rule_may_name_any_provider_of_the_chain() -> None:
    got = cfg(
        [{"action": {"provider": "openai"}}],
        providers={"anthropic": {}, "openai": {"model": "gpt-5-mini"}},
    )
    assert got.rule_set().rules[0].provider == "openai"


def test_config_check_prints_the_rules_in_order(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = tmp_path / "brb.yaml"
    path.write_text(
        "big_red_button:\n  routing:\n    rules:\n"
        "      - {match: {prompt_tokens: {gt: 2000}}, action: cloud}\n"
        "      - {match: {model: 'tiny*'}, action: local}\n"
    )
    result = cli("config", "check", str(path))
    assert result.exit_code == 0, result.output
    assert "  1. when prompt_tokens > 2000: cloud\n  2. when model tiny*: local\n" in result.stdout
    empty = cli("config", "check")
    assert "none: the breaker's policy decides alone" in empty.stdout
