"""A /v1/chat/completions body for an OpenAI-compatible provider, and its chunks back whole."""

from __future__ import annotations

from typing import Any

from brb.core.convert.chat_passthrough import (
    CompletionAssembler,
    chat_passthrough,
    chunk_has_content,
    is_usage_only,
)


def test_only_the_model_the_stream_and_the_cap_change() -> None:
    body = {
        "model": "llama3",
        "messages": [],
        "stream": True,
        "stream_options": {},
        "seed": 7,
        "logprobs": True,
        "max_tokens": 9000,
    }
    assert chat_passthrough(body, "gpt-4o-mini", max_tokens=1024) == {
        "model": "gpt-4o-mini",
        "messages": [],
        "seed": 7,
        "logprobs": True,
        "max_tokens": 1024,
    }
    bare = chat_passthrough({"model": "m", "messages": []}, "gpt-5", max_tokens=500)
    assert bare == {"model": "gpt-5", "messages": [], "max_completion_tokens": 500}


def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "c1", "created": 5, "model": "gpt-4o-mini", "choices": choices, **extra}


def test_chunks_add_up_to_the_whole_completion() -> None:
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Let me "}),
        chunk({"content": "check."}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
        chunk({}, "tool_calls"),
        chunk(None, usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}),
    ]
    assert [chunk_has_content(c) for c in chunks] == [
        False,
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    ]
    assert is_usage_only(chunks[-1]) and not is_usage_only(chunks[0])
    whole = CompletionAssembler()
    for c in chunks:
        whole.feed(c)
    done = whole.result()
    assert done["object"] == "chat.completion" and done["id"] == "c1"
    (choice,) = done["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me check."
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
        }
    ]
    assert done["usage"]["total_tokens"] == 13
