"""The replay applies routing.rules as the daemon does (brb replay --set routing.rules=...)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from brb.core.breaker import Mode, Thresholds
from brb.core.replay import SimParams, TraceRecord, simulate
from brb.core.rules import Action, Bound, Match, Rule, RuleSet

IDLE = Thresholds(queue_depth=1000, wait_seconds=60.0, min_active_seconds=1e9)
# Alternating short and long prompts, far apart: the breaker never activates.
TRACE = [
    TraceRecord(i * 10.0, "llama3", "compliance-1" if i == 5 else "team", tokens, 50, 1.0)
    for i, tokens in enumerate([100, 3000] * 4)
]
LONG_TO_CLOUD = RuleSet((Rule(Match(prompt_tokens=Bound(gt=2000)), Action.CLOUD),))


def routes(rules: RuleSet, **kw: object) -> list[tuple[str, str]]:
    result = simulate(TRACE, SimParams(thresholds=IDLE, excluded_sessions=("compliance-*",),
                                       rules=rules, **kw))  # type: ignore[arg-type]  # fmt: skip
    return [(o.backend, o.reason) for o in result.outcomes]


def test_no_rules_keeps_everything_local_in_standby() -> None:
    assert set(routes(RuleSet())) == {("local", "standby"), ("local", "excluded_session")}


def test_a_cloud_rule_diverts_long_prompts_in_standby_but_not_compliance() -> None:
    got = routes(LONG_TO_CLOUD)
    assert got[0::2] == [("local", "standby")] * 4  # short prompts
    assert got[1] == got[3] == got[7] == ("cloud", "rule:1:cloud")
    assert got[5] == ("local", "excluded_session")  # the compliance session matched the rule


def test_a_local_rule_beats_a_press() -> None:
    keep = RuleSet((Rule(Match(model="llama*"), Action.LOCAL),))
    assert set(routes(keep, mode=Mode.ON)) == {("local", "rule:1:local"),
                                               ("local", "excluded_session")}  # fmt: skip


def test_rules_on_what_a_trace_lacks_never_match() -> None:
    unknown = RuleSet(
        (
            Rule(Match(has_tools=False), Action.CLOUD),
            Rule(Match(complexity=Bound(lt=1.0)), Action.CLOUD),
            Rule(Match(endpoint="/api/chat"), Action.CLOUD),
        )
    )
    assert set(routes(unknown)) == {("local", "standby"), ("local", "excluded_session")}


def test_brb_replay_set_routing_rules(cli: Callable[..., Result], tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    trace.write_text("\n".join(json.dumps(r.to_json()) for r in TRACE))
    result = cli(
        "replay",
        str(trace),
        "--json",
        "--set",
        "routing.rules=[],[{match: {prompt_tokens: {gt: 2000}}, action: cloud}]",
    )
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)  # one object per run (a list with several)
    # (the default config excludes no session: all four long prompts go)
    assert [run["diverted"] for run in runs] == [0, 4]
    assert runs[1]["reasons"]["rule:1:cloud"] == 4


@pytest.mark.parametrize("bad", ["[{action: sometimes}]", "[{match: {modle: x}, action: cloud}]"])
def test_brb_replay_refuses_bad_rules(cli: Callable[..., Result], tmp_path: Path, bad: str) -> None:
    trace = tmp_path / "trace.jsonl"
    trace.write_text(json.dumps(TRACE[0].to_json()))
    result = cli("replay", str(trace), "--set", f"routing.rules={bad}")
    assert result.exit_code == 2
    assert "routing.rules.0" in result.stderr
