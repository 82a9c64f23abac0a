"""parse_body reads a body exactly as json.loads would: the same value, or the same
400 with the same message, whatever the text (its fast read of a plain object aside)."""

from __future__ import annotations

import json
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from brb.daemon import request_body
from brb.daemon.request_body import parse_body
from brb.errors import BadRequest

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
BODY = st.fixed_dictionaries(
    {"model": st.sampled_from(["llama3", "", "l\nx", 7])},
    optional={"messages": JSON, "stream": st.sampled_from([True, False, "yes"]), "x": JSON},
)
SPACE = st.sampled_from(["", " ", "\n", "\r\n\t", "\ufeff", "x", "}", "]"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    """A body's text: an object (or any JSON value), spaced at random, maybe with
    something before or after it, maybe cut short."""
    value = draw(st.one_of(BODY, BODY, JSON))
    text = json.dumps(
        value, indent=draw(st.sampled_from([None, 1])),
        separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])),
    )  # fmt: skip
    text = draw(SPACE) + text + draw(SPACE)
    if draw(st.integers(0, 4)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


def outcome(raw: bytes) -> str:
    try:
        return repr(parse_body(raw, "/api/chat"))  # repr: NaN equals itself
    except BadRequest as exc:
        return f"400 {exc}"


@given(texts())
@settings(max_examples=300)
def test_a_body_parses_as_json_loads_parses_it(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    got = outcome(raw)
    with mock.patch.object(request_body, "_json_value", json.loads):
        assert got == outcome(raw), text
