"""Reading Ollama's final object: the one-match read of Ollama's own shape gives
what the field-by-field read gives, on Ollama's answers and on any other tail."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from brb.daemon.final_facts import NO_FACTS, FinalFacts, final_facts

# The field-by-field reading (every field at its last place), as brb read every tail
# before the one-match read of Ollama's shape: the oracle the reading must agree with.
_FIELDS = re.compile(
    rb'"(total_duration|load_duration|prompt_eval_duration|eval_duration|prompt_eval_count|'
    rb'eval_count)":\s*(\d+)'
)
NAMES = ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
         "eval_count", "eval_duration")  # fmt: skip


def field_by_field(tail: bytes) -> FinalFacts:
    found = {k.decode(): int(v) for k, v in _FIELDS.findall(tail)}
    if not found:
        return NO_FACTS
    durations = [found.get(k) for k in ("load_duration", "prompt_eval_duration", "eval_duration")]
    reported = [d for d in durations if d is not None]
    total = found.get("total_duration")
    return FinalFacts(
        sum(reported) / 1e9 if reported else None,
        found.get("prompt_eval_count"),
        found.get("eval_count"),
        *(None if d is None else d / 1e9 for d in durations),
        None if total is None else total / 1e9,
    )


def agree(tail: bytes) -> None:
    assert final_facts(tail) == field_by_field(tail), tail


SPACE = st.sampled_from([b"", b" ", b"  ", b"\t", b"\n", b"\r\n", b"\x0b", b"\x0c"])
DIGITS = st.builds(lambda n, zeros: b"0" * zeros + str(n).encode(),
                  st.integers(min_value=0, max_value=10**19), st.integers(0, 2))  # fmt: skip


@st.composite
def figures(draw: st.DrawFn) -> bytes:
    """Ollama's six in its order, or (a third of the time) some of them in any order,
    repeated, with odd values; spaced and valued at random."""
    names, value = list(NAMES), DIGITS
    if draw(st.integers(0, 2)) == 0:
        names = draw(st.lists(st.sampled_from(NAMES), max_size=8))
        value = st.one_of(DIGITS, st.sampled_from([b"null", b'"7"', b"-3", b""]))
    parts = [b'"' + name.encode() + b'":' + draw(SPACE) + draw(value) for name in names]
    return (b"," + draw(SPACE)).join(parts)


PIECES = st.one_of(
    figures(),
    st.sampled_from(
        [
            b'{"model":"llama3","created_at":"2026-12-07T05:18:56.798379Z",',
            b'"message":{"role":"assistant","content":"ok"},',
            b'"done_reason":"stop",',
            b'"done":true,',
            b'"done": false',
            b'"response":"\\"eval_count\\": 5",',
            b'"context":[1,2,3],',
            b"}",
            b"}\n",
            b"\n",
            b",",
            b'"',
            b":",
            b"{",
            b"x",
        ]
    ),  # fmt: skip
    st.binary(max_size=12),
)


@given(st.lists(PIECES, max_size=10), st.integers(min_value=0, max_value=40))
@settings(max_examples=400)
def test_any_tail_reads_as_field_by_field(pieces: list[bytes], cut: int) -> None:
    tail = b"".join(pieces)
    agree(tail)
    agree(tail[cut:])  # the tail kept may start anywhere, even mid-field
    agree(tail[: len(tail) - cut])


@given(
    st.lists(st.integers(min_value=0, max_value=10**15), min_size=6, max_size=6),
    st.sampled_from([(",", ":"), (", ", ": ")]),
    st.sampled_from(["", "\n"]),
)
def test_ollama_final_objects_read_as_field_by_field(
    values: list[int], separators: tuple[str, str], end: str
) -> None:
    """Ollama's final object (Go's compact JSON, or Python's spaced JSON as the fake
    Ollama's), after a line of the stream or the answer's message."""
    message = {"role": "assistant", "content": '"done": 1'}
    final = {"model": "llama3", "message": message, "done_reason": "stop", "done": True,
             **dict(zip(NAMES, values, strict=True))}  # fmt: skip
    line = json.dumps(final, separators=separators) + end
    tail = (json.dumps({"eval_count": 1, "done": False}) + "\n" + line).encode()
    agree(tail)
    facts = final_facts(tail)
    assert facts.prompt_tokens == values[2] and facts.output_tokens == values[4]
    assert facts.total_s == values[0] / 1e9


def test_a_figure_after_ollamas_six_counts_at_its_last_place() -> None:
    tail = (
        b'{"done":true,"total_duration":5,"load_duration":1,"prompt_eval_count":2,'
        b'"prompt_eval_duration":3,"eval_count":4,"eval_duration":5,"eval_count":9}'
    )
    assert final_facts(tail).output_tokens == 9
    agree(tail)


def test_figures_past_a_float_or_an_int_give_no_facts_not_an_error() -> None:
    """A broken upstream's absurd figures must not cost the request its log row."""
    for digits in (b"9" * 400, b"9" * 5000):  # past a float's range; past int()'s digit limit
        ollama_order = (
            b'{"done":true,"total_duration":' + digits + b',"load_duration":1,'
            b'"prompt_eval_count":2,"prompt_eval_duration":3,"eval_count":4,"eval_duration":5}'
        )
        assert final_facts(ollama_order) == NO_FACTS
        assert final_facts(b'{"done":true,"eval_duration":' + digits + b"}") == NO_FACTS
