"""brb.core.complexity: each feature moves the score the way its documentation says."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brb.core.complexity import WEIGHTS, Features, features, score
from brb.core.conversation import Conversation, read_conversation


def conv(text: str, **kwargs: Any) -> Conversation:
    return Conversation(user_texts=(text,), turns=1, **kwargs)


@pytest.mark.parametrize(
    ("text", "feature"),
    [
        ("x" * 20_000, "length"),
        ("Fix this:\n```\nprint(1)\n```", "code"),
        ("def f():\n    return 1\nclass A:\n    pass\nimport os\nreturn x;", "code"),
        ("Prove the theorem by induction.", "math"),
        ("Compute x^2 + y^2.", "math"),
        ("Why? How? When? Where?", "questions"),
        ("It must be exact, never slow, and at least 3 long.", "constraints"),
        ("Requirements:\n- fast\n- small\n1. cheap\n2. safe", "constraints"),
        ("Consider distributed consensus, replication and partitioning tradeoffs.", "vocabulary"),
        ("First, parse it; then, sort it: fast, small, safe.", "clauses"),
    ],
)
def test_each_feature_sees_what_it_says(text: str, feature: str) -> None:
    got = features(conv(text))
    assert getattr(got, feature) > 0.4
    assert getattr(features(conv("Hello.")), feature) < 0.01


def test_turns_and_tools_come_from_the_conversation() -> None:
    assert features(Conversation(user_texts=("a",), turns=9)).turns == 1.0
    assert features(conv("a", tools=3)).tools == 1.0
    assert features(conv("a")).turns == features(conv("a")).tools == 0.0


def test_the_score_is_a_noisy_or_of_the_weights() -> None:
    zero = Features(**dict.fromkeys(WEIGHTS, 0.0))
    assert zero.score() == 0.0
    only_code = Features(**{**dict.fromkeys(WEIGHTS, 0.0), "code": 1.0})
    assert only_code.score() == pytest.approx(WEIGHTS["code"])
    everything = Features(**dict.fromkeys(WEIGHTS, 1.0))
    assert 0.95 < everything.score() <= 1.0


def test_each_feature_only_raises_the_score() -> None:
    base = Features(**dict.fromkeys(WEIGHTS, 0.3))
    for name in WEIGHTS:
        more = Features(**{**dict.fromkeys(WEIGHTS, 0.3), name: 0.9})
        assert more.score() > base.score(), name


def test_a_longer_brief_scores_higher() -> None:
    ask = "Write an essay on free will, addressing the strongest objection"
    assert score(conv(ask + ".")) < score(conv(ask + ", with examples, sources and a summary."))


def test_a_demanding_prompt_scores_above_a_greeting() -> None:
    easy = score(conv("hi! how are you?"))
    hard = score(
        conv(
            "Design a rate limiter that must handle 50k rps and must not add latency. "
            "Compare token bucket and sliding window; prove the bound on burst size.\n"
            "```python\ndef allow(key):\n    return True\n```"
        )
    )
    assert easy < 0.1 < 0.5 < hard


def test_only_the_last_scan_window_is_read_but_length_counts_all() -> None:
    body = {"messages": [{"role": "user", "content": "prove " * 10_000 + "hello " * 5_000}]}
    got = features(read_conversation("/api/chat", body))
    assert got.math == 0.0  # the proofs are beyond the last 16 KiB
    assert got.length == 1.0


@settings(max_examples=100, derandomize=True)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=5), st.integers(0, 5))
def test_the_score_stays_in_0_1(texts: list[str], tools: int) -> None:
    c = Conversation(user_texts=tuple(texts), turns=len(texts), tools=tools)
    assert 0.0 <= score(c) <= 1.0
