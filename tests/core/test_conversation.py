"""brb.core.conversation: every endpoint's body read the same way, and never a crash."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from brb.core.conversation import (
    ENDPOINTS,
    IMAGE_TOKENS,
    MESSAGE_TOKENS,
    REQUEST_TOKENS,
    TOOL_SYSTEM_PROMPT_TOKENS,
    Conversation,
    estimate_prompt_tokens,
    image_tokens,
    read_conversation,
    request_shape,
)
from brb.core.convert.images import image_token_bound

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
    unreadable = read_conversation(  # "aGk=" is base64 for "hi": no image header in it
        "/api/chat", {"messages": [{"role": "user", "content": "a" * 4000, "images": ["aGk="] * 2}]}
    )
    assert estimate_prompt_tokens(unreadable) - base == 2 * IMAGE_TOKENS  # typical images
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


# --- request_shape: what the waiting room's service model reads -----------------------


def png(width: int, height: int) -> str:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def user(content: Any, **more: Any) -> dict[str, Any]:
    return {"role": "user", "content": content, **more}


@pytest.mark.parametrize(
    ("endpoint", "body", "tokens", "cap"),
    [
        ("/api/generate", {"model": "m", "prompt": "x" * 400}, 100, None),
        (
            "/api/generate",
            {"model": "m", "prompt": "abcd", "system": "abcd", "options": {"num_predict": 64}},
            2,
            64,
        ),
        ("/v1/messages", {"model": "m", "messages": [user("x" * 8)], "max_tokens": 9}, 2, 9),
        (
            "/v1/chat/completions",
            {
                "model": "m",
                "messages": [user([{"type": "text", "text": "y" * 12}])],
                "max_completion_tokens": 5,
                "max_tokens": 7,
            },
            3,
            5,
        ),
        ("/api/chat", {"model": "m", "messages": "oops", "options": {"num_predict": -1}}, 0, None),
        ("/api/generate", {"model": "m", "prompt": "", "max_tokens": True}, 0, None),
        # Ollama reads options.num_predict only: a max_tokens there caps nothing
        ("/api/chat", {"model": "m", "messages": [], "max_tokens": 9}, 0, None),
    ],
)
def test_shape(endpoint: str, body: dict[str, Any], tokens: int, cap: int | None) -> None:
    shape = request_shape(read_conversation(endpoint, body))
    assert (shape.prompt_tokens, shape.max_output_tokens) == (tokens, cap)


def test_the_shape_is_the_estimate_without_what_a_cloud_adds() -> None:
    conv = read_conversation(
        "/v1/chat/completions", {"messages": [user("word " * 100)], "tools": [TOOL]}
    )
    framing = REQUEST_TOKENS + MESSAGE_TOKENS * conv.turns + TOOL_SYSTEM_PROMPT_TOKENS
    assert request_shape(conv).prompt_tokens == estimate_prompt_tokens(conv) - framing


def test_a_document_is_larger_than_a_chat() -> None:
    chat = request_shape(read_conversation("/api/chat", {"messages": [user("hello")]}))
    doc = request_shape(read_conversation("/api/chat", {"messages": [user("word " * 4000)]}))
    assert doc.prompt_tokens == 5000
    assert chat.prompt_tokens == 2


def test_images_count_by_their_padded_area_in_every_dialect() -> None:
    img = png(280, 140)
    expected = image_token_bound(280, 140)
    assert image_tokens(img) == expected
    assert image_tokens("data:image/png;base64," + img) == expected
    url = {"url": "data:image/png;base64," + img}
    bodies = [
        ("/api/chat", {"messages": [user("", images=[img])]}),
        ("/api/generate", {"prompt": "", "images": [img]}),
        ("/v1/chat/completions", {"messages": [user([{"type": "image_url", "image_url": url}])]}),
        (
            "/v1/messages",
            {"messages": [user([{"type": "image", "source": {"type": "base64", "data": img}}])]},
        ),
    ]
    for endpoint, body in bodies:
        conv = read_conversation(endpoint, body)
        assert (conv.images, conv.image_tokens) == (1, expected), endpoint
        assert request_shape(conv).prompt_tokens == expected, endpoint


def test_an_image_whose_header_says_nothing_counts_as_a_typical_one() -> None:
    assert image_tokens("not base64 at all!") == IMAGE_TOKENS
    assert image_tokens(42) == IMAGE_TOKENS
    assert image_tokens("https://example.com/cat.png") == IMAGE_TOKENS
