"""brb.core.conversation: every endpoint's body read the same way, and never a crash."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brb.core.conversation import (
    ENDPOINTS,
    IMAGE_TOKENS,
    TOOL_SYSTEM_PROMPT_TOKENS,
    Conversation,
    estimate_prompt_tokens,
    read_conversation,
)

TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
PNG = "iVBORw0KGgo="

BODIES: dict[str, dict[str, Any]] = {
    "/api/chat": {
        "model": "llama3",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi there?", "images": [PNG]},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "What now?"},
        ],
        "tools": [TOOL],
        "options": {"num_predict": 300},
    },
    "/api/generate": {
        "model": "llama3",
        "system": "Be brief.",
        "prompt": "Hi there?",
        "images": [PNG],
        "options": {"num_predict": 300},
    },
    "/v1/chat/completions": {
        "model": "llama3",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hi there?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,xx"}},
                ],
            },
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "function": {}}]},
            {"role": "tool", "tool_call_id": "1", "content": "sunny"},
            {"role": "user", "content": "What now?"},
        ],
        "tools": [TOOL],
        "max_completion_tokens": 300,
    },
    "/v1/messages": {
        "model": "llama3",
        "system": [{"type": "text", "text": "Be brief."}],
        "max_tokens": 300,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hi there?"},
                    {"type": "image", "source": {"type": "base64", "data": PNG}},
                ],
            },
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "What now?"},
        ],
        "tools": [{"name": "get_weather", "input_schema": {}}],
    },
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_each_endpoint_is_read(endpoint: str) -> None:
    conv = read_conversation(endpoint, BODIES[endpoint])
    assert conv.system == "Be brief."
    assert conv.user_texts[0] == "Hi there?"
    assert conv.images == 1
    assert conv.max_tokens == 300
    if endpoint != "/api/generate":
        assert conv.last_user_text == "What now?"
        assert conv.has_tools
        assert conv.turns >= 3


def test_openai_max_tokens_and_ollama_unlimited() -> None:
    assert read_conversation("/v1/chat/completions", {"max_tokens": 77}).max_tokens == 77
    unlimited = {"options": {"num_predict": -1}}
    assert read_conversation("/api/chat", unlimited).max_tokens is None


def test_the_estimate_grows_with_text_images_and_tools() -> None:
    base = estimate_prompt_tokens(Conversation(user_texts=("a" * 4000,), turns=1))
    assert 1000 <= base < 1100  # about four characters a token
    images = estimate_prompt_tokens(Conversation(user_texts=("a" * 4000,), turns=1, images=2))
    assert images - base == 2 * IMAGE_TOKENS
    tools = estimate_prompt_tokens(
        Conversation(user_texts=("a" * 4000,), turns=1, tools=1, tool_chars=400)
    )
    assert tools - base == TOOL_SYSTEM_PROMPT_TOKENS + 100


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["role", "content", "messages", "type", "text", "images", "tools"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, derandomize=True)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    body=st.dictionaries(
        st.sampled_from(["messages", "prompt", "system", "tools", "options", "max_tokens"]),
        JSONISH,
    ),
)
def test_any_shape_is_read_without_raising(endpoint: str, body: dict[str, Any]) -> None:
    conv = read_conversation(endpoint, body)
    assert estimate_prompt_tokens(conv) > 0
