"""brb.core.rules: each matcher, the first match winning, and each action through decide."""

from __future__ import annotations

import pytest

from brb.core.breaker import Mode, Phase
from brb.core.conversation import read_conversation
from brb.core.policy import Decision, Policy, RequestFacts, decide
from brb.core.rules import Action, Bound, Match, Rule, RuleFacts, RuleSet, Verdict, facts_of

FACTS = RuleFacts(
    model="llama3.1:8b",
    endpoint="/api/chat",
    session="team-ml-42",
    headers={"x-team": "ml-research", "x-tier": "gold"},
    prompt_tokens=2500,
    has_tools=True,
    has_images=False,
    complexity=0.4,
)


@pytest.mark.parametrize(
    ("match", "holds"),
    [
        (Match(), True),
        (Match(model="llama3*"), True),
        (Match(model="llama3.1:8b"), True),
        (Match(model="qwen*"), False),
        (Match(model="LLAMA3*"), False),  # globs are case-sensitive, like excluded_sessions
        (Match(endpoint="/api/chat"), True),
        (Match(endpoint="/api/generate"), False),
        (Match(session="team-ml-*"), True),
        (Match(session="compliance-*"), False),
        (Match(header={"x-team": "ml-*"}), True),
        (Match(header={"x-team": "ml-*", "x-tier": "gold"}), True),
        (Match(header={"x-team": "ml-*", "x-tier": "silver"}), False),
        (Match(header={"x-missing": "*"}), False),  # an absent header never matches
        (Match(prompt_tokens=Bound(gt=2000)), True),
        (Match(prompt_tokens=Bound(gt=2500)), False),  # strictly greater
        (Match(prompt_tokens=Bound(lt=2500)), False),  # strictly less
        (Match(prompt_tokens=Bound(gt=1000, lt=3000)), True),
        (Match(prompt_tokens=Bound(lt=2000)), False),
        (Match(has_tools=True), True),
        (Match(has_tools=False), False),
        (Match(has_images=False), True),
        (Match(has_images=True), False),
        (Match(complexity=Bound(gt=0.3)), True),
        (Match(complexity=Bound(gt=0.5)), False),
        (Match(complexity=Bound(lt=0.5)), True),
        # every condition must hold
        (Match(model="llama3*", session="compliance-*"), False),
        (Match(model="llama3*", endpoint="/api/chat", prompt_tokens=Bound(gt=2000)), True),
    ],
)
def test_each_matcher(match: Match, holds: bool) -> None:
    assert match.holds(FACTS) is holds


def test_facts_not_computed_never_match_a_bound() -> None:
    facts = RuleFacts(model="m", endpoint="/api/chat")  # no prompt_tokens, no complexity
    assert not Match(prompt_tokens=Bound(lt=10**9)).holds(facts)
    assert not Match(complexity=Bound(lt=1.0)).holds(facts)


def test_the_first_matching_rule_wins_and_is_named_by_number() -> None:
    rules = RuleSet(
        (
            Rule(Match(model="qwen*"), Action.LOCAL),
            Rule(Match(prompt_tokens=Bound(gt=2000)), Action.CLOUD),
            Rule(Match(), Action.LOCAL),
        )
    )
    verdict = rules.first_match(FACTS)
    assert verdict == Verdict(2, Action.CLOUD)
    assert verdict.reason == "rule:2:cloud"
    assert RuleSet().first_match(FACTS) is None


def test_a_rule_set_says_which_costly_facts_it_reads() -> None:
    assert not RuleSet((Rule(Match(model="x", header={"a": "b"}), Action.LOCAL),)).reads_body
    tokens = RuleSet((Rule(Match(prompt_tokens=Bound(gt=1)), Action.LOCAL),))
    assert tokens.reads_body and not tokens.reads_complexity
    score = RuleSet((Rule(Match(complexity=Bound(gt=0.5)), Action.LOCAL),))
    assert score.reads_body and score.reads_complexity


def test_facts_of_a_body() -> None:
    body = {
        "model": "llama3",
        "messages": [{"role": "user", "content": "x" * 8000, "images": ["aGk="]}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    }
    conv = read_conversation("/api/chat", body)
    no_score = facts_of(RuleSet(), conv, model="llama3", endpoint="/api/chat", session="s")
    assert no_score.complexity is None  # nobody asked: not computed
    assert no_score.has_tools and no_score.has_images
    assert no_score.prompt_tokens is not None and 2000 < no_score.prompt_tokens < 8000
    scored = RuleSet((Rule(Match(complexity=Bound(gt=0)), Action.LOCAL),))
    assert facts_of(scored, conv, model="llama3", endpoint="/api/chat").complexity is not None


def test_describe_reads_as_the_rule() -> None:
    rule = Rule(
        Match(model="llama*", prompt_tokens=Bound(gt=2000), has_tools=True), Action.PROVIDER, "oai"
    )
    assert rule.describe() == (
        "when model llama* and prompt_tokens > 2000 and has_tools true: provider oai"
    )
    assert Rule(Match(), Action.CLOUD).describe() == "when every request: cloud"


# --- what each action does, through the one decision --------------------------------


ELIGIBLE = RequestFacts()


def route(
    rule: Verdict | None,
    *,
    facts: RequestFacts = ELIGIBLE,
    mode: Mode = Mode.AUTO,
    phase: Phase = Phase.STANDBY,
    wait: float = 0.0,
) -> Decision:
    return decide(
        facts,
        is_enabled=True,
        mode=mode,
        phase=phase,
        policy=Policy.OVERFLOW,
        predicted_wait_s=wait,
        wait_threshold_s=60.0,
        rule=rule,
    )


CLOUD = Verdict(1, Action.CLOUD)
LOCAL = Verdict(2, Action.LOCAL)
OVERFLOW = Verdict(3, Action.OVERFLOW)
PROVIDER = Verdict(4, Action.PROVIDER, "openai")


@pytest.mark.parametrize(
    ("rule", "kwargs", "expected"),
    [
        # cloud diverts even in standby with an empty queue
        (CLOUD, {}, Decision(True, "rule:1:cloud")),
        (None, {}, Decision(False, "standby")),
        # local stays local even when pressed, or active and overflowing
        (LOCAL, {"mode": Mode.ON}, Decision(False, "rule:2:local")),
        (LOCAL, {"phase": Phase.ACTIVE, "wait": 999.0}, Decision(False, "rule:2:local")),
        # overflow is the default behaviour
        (OVERFLOW, {}, Decision(False, "standby")),
        (OVERFLOW, {"phase": Phase.ACTIVE, "wait": 999.0}, Decision(True, "overflow")),
        (OVERFLOW, {"phase": Phase.ACTIVE, "wait": 1.0}, Decision(False, "fits_locally")),
        # provider is the default behaviour, with the provider to try first
        (PROVIDER, {}, Decision(False, "standby", "openai")),
        (PROVIDER, {"phase": Phase.ACTIVE, "wait": 999.0}, Decision(True, "overflow", "openai")),
        (PROVIDER, {"mode": Mode.ON}, Decision(True, "pressed", "openai")),
    ],
)
def test_each_action(rule: Verdict | None, kwargs: dict, expected: Decision) -> None:
    assert route(rule, **kwargs) == expected


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (RequestFacts(is_excluded_session=True), "excluded_session"),
        (RequestFacts(is_local_only=True), "local_only"),
        (RequestFacts(has_provider=False), "no_provider"),
        (RequestFacts(is_model_priced=False), "unpriced_model"),
    ],
)
def test_no_rule_overrides_compliance_or_eligibility(facts: RequestFacts, reason: str) -> None:
    assert route(CLOUD, facts=facts) == Decision(False, reason)
    assert route(CLOUD, facts=facts, mode=Mode.ON) == Decision(False, reason)


def test_a_cloud_rule_does_not_override_an_operator_hold() -> None:
    assert route(CLOUD, mode=Mode.OFF) == Decision(False, "held")


def test_disabled_beats_every_rule() -> None:
    d = decide(
        RequestFacts(),
        is_enabled=False,
        mode=Mode.ON,
        phase=Phase.ACTIVE,
        policy=Policy.ALL,
        predicted_wait_s=0.0,
        wait_threshold_s=60.0,
        rule=CLOUD,
    )
    assert d == Decision(False, "disabled")
