"""brb's internal (Anthropic) request to Chat Completions, and the answers back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brb.core.capabilities import OPENAI_GENERIC, OPENAI_REASONING, openai_capabilities
from brb.core.convert import JSON_TOOL_NAME
from brb.core.convert.from_openai import ChunkReader, completion_to_message
from brb.core.convert.reply import read_message
from brb.core.convert.to_openai import to_chat_completions
from brb.errors import ConversionError, ProviderError

PNG = "iVBORw0KGgo="


def params(**extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-4o-mini",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        **extra,
    }


def test_a_tool_conversation_with_an_image_keeps_its_shape() -> None:
    anthropic = params(
        system="be brief",
        stop_sequences=["END"],
        temperature=0.5,
        tools=[
            {"name": "weather", "description": "look it up", "input_schema": {"type": "object"}}
        ],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this? "},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "text", "text": "let me look"},
                    {
                        "type": "tool_use",
                        "id": "call_1",
                        "name": "weather",
                        "input": {"city": "Oslo"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "rain"},
                    {"type": "text", "text": "and so?"},
                ],
            },
        ],
    )
    chat = to_chat_completions(anthropic, OPENAI_GENERIC)
    assert chat.json_tool is None
    p = chat.params
    assert p["messages"] == [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this? "},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ],
        },
        {
            "role": "assistant",
            "content": "let me look",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "rain"},
        {"role": "user", "content": "and so?"},
    ]
    assert (p["max_completion_tokens"], p["stop"], p["temperature"]) == (100, ["END"], 0.5)
    assert p["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "parameters": {"type": "object"},
                "description": "look it up",
            },
        }
    ]
    assert (p["tool_choice"], p["parallel_tool_calls"]) == ("auto", False)
    assert "max_tokens" not in p and "stream" not in p


@pytest.mark.parametrize(
    ("choice", "want"),
    [
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "weather"},
            {"type": "function", "function": {"name": "weather"}},
        ),
    ],
)
def test_tool_choice(choice: dict[str, Any], want: Any) -> None:
    tools = [{"name": "weather", "input_schema": {"type": "object"}}]
    chat = to_chat_completions(params(tools=tools, tool_choice=choice), OPENAI_GENERIC)
    assert chat.params["tool_choice"] == want


def test_json_mode_becomes_response_format_and_the_answer_the_json_tools_input() -> None:
    any_object = {"type": "object", "additionalProperties": True}
    forced = {"type": "tool", "name": JSON_TOOL_NAME}
    chat = to_chat_completions(
        params(tools=[{"name": JSON_TOOL_NAME, "input_schema": any_object}], tool_choice=forced),
        OPENAI_GENERIC,
    )
    assert chat.json_tool == JSON_TOOL_NAME and "tools" not in chat.params
    assert chat.params["response_format"] == {"type": "json_object"}
    assert "JSON" in chat.params["messages"][0]["content"]  # the API wants it mentioned
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    chat = to_chat_completions(
        params(tools=[{"name": JSON_TOOL_NAME, "input_schema": schema}], tool_choice=forced),
        OPENAI_GENERIC,
    )
    assert chat.params["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": JSON_TOOL_NAME, "schema": schema},
    }
    message = completion_to_message(completion('{"a": 1}'), json_tool=JSON_TOOL_NAME)
    assert read_message(message, json_mode=True).text == '{"a": 1}'


def test_thinking_asks_for_reasoning_only_where_the_model_reasons() -> None:
    asked = params(thinking={"type": "enabled", "budget_tokens": 1024}, temperature=0.3)
    reasoning = to_chat_completions(asked, openai_capabilities("gpt-5-mini")).params
    assert reasoning["reasoning_effort"] == "medium" and "temperature" not in reasoning
    assert openai_capabilities("openai/o4-mini") is OPENAI_REASONING
    plain = to_chat_completions(asked, openai_capabilities("llama-3.3-70b")).params
    assert "reasoning_effort" not in plain and plain["temperature"] == 0.3


@pytest.mark.parametrize(
    "bad",
    [
        params(stop_sequences=["a", "b", "c", "d", "e"]),
        params(tools=[{"type": "web_search_20250305", "name": "web_search"}]),
        params(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "x",
                            "content": [
                                {
                                    "type": "image",
                                    "source": {
                                        "type": "base64",
                                        "media_type": "image/png",
                                        "data": PNG,
                                    },
                                }
                            ],
                        }
                    ],
                }
            ]
        ),
        params(messages=[{"role": "user", "content": [{"type": "document", "source": {}}]}]),
    ],
)
def test_what_chat_completions_cant_carry_skips_the_provider(bad: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        to_chat_completions(bad, OPENAI_GENERIC)


def completion(content: str | None, **message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": message.pop("finish_reason", "stop"),
            }
        ],
        "usage": {
            "prompt_tokens": 30,
            "completion_tokens": 7,
            "total_tokens": 37,
            "prompt_tokens_details": {"cached_tokens": 10},
        },
    }


def test_a_completion_with_reasoning_and_tool_calls_reads_back() -> None:
    body = completion(
        "checking",
        reasoning_content="think first",
        tool_calls=[
            {
                "id": "call_9",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
            }
        ],
    )
    body["choices"][0]["finish_reason"] = "tool_calls"
    message = completion_to_message(body, json_tool=None)
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {
        "input_tokens": 20,
        "output_tokens": 7,
        "cache_read_input_tokens": 10,
        "cache_creation_input_tokens": 0,
    }
    reply = read_message(message, json_mode=False)
    assert (reply.text, reply.thinking) == ("checking", "think first")
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("call_9", "weather", {"city": "Oslo"})
    ]


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": choices,
        **extra,
    }


def replay(chunks: list[dict[str, Any]], json_tool: str | None = None) -> list[dict[str, Any]]:
    reader = ChunkReader(json_tool=json_tool)
    events = [e for c in chunks for e in reader.feed(c)]
    return events + reader.finish()


def test_a_stream_becomes_anthropic_events_with_the_usage_from_the_last_chunk() -> None:
    events = replay(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"reasoning": "hmm"}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": ""},
                        }
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x":'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
            chunk({}, finish="tool_calls"),
            chunk(None, usage={"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}),
        ]
    )
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert starts == ["thinking", "text", "tool_use"]
    assert kinds.count("content_block_stop") == 3
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert text == "Hello"
    args = "".join(
        e["delta"].get("partial_json", "") for e in events if e["type"] == "content_block_delta"
    )
    assert json.loads(args) == {"x": 1}
    final = events[-2]
    assert final["delta"]["stop_reason"] == "tool_use"
    assert (final["usage"]["input_tokens"], final["usage"]["output_tokens"]) == (12, 5)


def test_a_json_mode_stream_is_the_json_tools_input() -> None:
    events = replay(
        [chunk({"content": '{"a"'}), chunk({"content": ": 1}"}, finish="stop")], JSON_TOOL_NAME
    )
    (start,) = [e for e in events if e["type"] == "content_block_start"]
    assert start["content_block"]["name"] == JSON_TOOL_NAME
    assert events[-2]["delta"]["stop_reason"] == "end_turn"


def test_a_stream_cut_before_its_finish_is_a_provider_failure() -> None:
    reader = ChunkReader()
    reader.feed(chunk({"content": "par"}))
    with pytest.raises(ProviderError) as exc:
        reader.finish()
    assert exc.value.retryable


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["text", "reasoning", "call0", "call1"]), max_size=25))
def test_any_chunk_order_gives_well_formed_blocks(pieces: list[str]) -> None:
    """Blocks open before their deltas, close once, never overlap."""
    chunks = []
    seen_calls: list[int] = []
    last = ""
    for p in pieces:
        if p.startswith("call") and int(p[-1]) in seen_calls and last != p:
            continue  # continuing a call after another block is refused (ProviderError)
        last = p
        if p == "text":
            chunks.append(chunk({"content": "t"}))
        elif p == "reasoning":
            chunks.append(chunk({"reasoning_content": "r"}))
        else:
            key = int(p[-1])
            call: dict[str, Any] = {"index": key, "function": {"arguments": ""}}
            if key not in seen_calls:
                call.update(id=f"c{key}", type="function", function={"name": "f", "arguments": ""})
                seen_calls.append(key)
            chunks.append(chunk({"tool_calls": [call]}))
    chunks.append(chunk({}, finish="stop"))
    events = replay(chunks)
    open_index: int | None = None
    closed: set[int] = set()
    for e in events:
        if e["type"] == "content_block_start":
            assert open_index is None and e["index"] not in closed
            open_index = e["index"]
        elif e["type"] == "content_block_delta":
            assert e["index"] == open_index
        elif e["type"] == "content_block_stop":
            assert e["index"] == open_index
            closed.add(open_index)
            open_index = None
    assert open_index is None
