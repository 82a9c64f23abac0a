"""Anthropic replies as Ollama and OpenAI answers, whole and streamed, read back by the SDKs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx2
import ollama
import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from brb.core.convert import JSON_TOOL_NAME, CloudRequest, Endpoint, StreamRenderer, render_message
from brb.errors import ProviderError

NOW = datetime(2026, 11, 25, 12, 30, 15, 123456, tzinfo=UTC)
CHAT, GENERATE, OPENAI = Endpoint.OLLAMA_CHAT, Endpoint.OLLAMA_GENERATE, Endpoint.OPENAI_CHAT


def request(**overrides: Any) -> CloudRequest:
    values: dict[str, Any] = {
        "params": {"model": "claude-test", "max_tokens": 100, "messages": []},
        "is_stream": True,
        "local_model": "llama3.2:latest",
        "trimmed_turns": 0,
        "input_tokens_upper_bound": 100,
        "json_mode": False,
    }
    values.update(overrides)
    return CloudRequest(**values)


def message(*content: dict[str, Any], stop_reason: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_01ABC",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": list(content),
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 21, "output_tokens": 7},
    }


TEXT = {"type": "text", "text": "Hello there"}
THINKING = {"type": "thinking", "thinking": "let me think", "signature": "sig"}
TOOL = {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}


def events(*blocks: dict[str, Any], stop_reason: str = "end_turn") -> list[dict[str, Any]]:
    """The event stream the API sends for a message with these blocks (pieces of 3 chars)."""
    out: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                **message(),
                "content": [],
                "usage": {"input_tokens": 21, "output_tokens": 1},
            },
        },
        {"type": "ping"},
    ]
    for index, block in enumerate(blocks):
        kind = block["type"]
        start = {**block, "text": ""} if kind == "text" else dict(block)
        if kind == "thinking":
            start = {**block, "thinking": "", "signature": ""}
        if kind == "tool_use":
            start = {**block, "input": {}}
        out.append({"type": "content_block_start", "index": index, "content_block": start})
        if kind == "text":
            payload, delta_type, key = block["text"], "text_delta", "text"
        elif kind == "thinking":
            payload, delta_type, key = block["thinking"], "thinking_delta", "thinking"
        else:
            payload, delta_type, key = (
                json.dumps(block["input"]),
                "input_json_delta",
                "partial_json",
            )
        for i in range(0, len(payload), 3):
            delta = {"type": delta_type, key: payload[i : i + 3]}
            out.append({"type": "content_block_delta", "index": index, "delta": delta})
        if kind == "thinking":
            delta = {"type": "signature_delta", "signature": "sig"}
            out.append({"type": "content_block_delta", "index": index, "delta": delta})
        out.append({"type": "content_block_stop", "index": index})
    out.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": 7},
        }
    )
    out.append({"type": "message_stop"})
    return out


def run(renderer: StreamRenderer, stream: list[dict[str, Any]]) -> list[bytes]:
    frames: list[bytes] = []
    for step, event in enumerate(stream):
        frames += renderer.feed(
            event, now=NOW + timedelta(milliseconds=step), elapsed_ns=step * 1000
        )
    return frames


def openai_chunks(frames: list[bytes]) -> list[ChatCompletionChunk]:
    """Decode SSE bytes with the OpenAI SDK's own stream reader."""
    response = httpx2.Response(
        200,
        content=b"".join(frames),
        headers={"content-type": "text/event-stream"},
        request=httpx2.Request("POST", "http://brb.test/v1/chat/completions"),
    )
    client = openai.OpenAI(api_key="k", base_url="http://brb.test/v1")
    return list(openai.Stream(cast_to=ChatCompletionChunk, response=response, client=client))


# --- Ollama, whole ------------------------------------------------------------------------


def test_ollama_chat_answer() -> None:
    body = render_message(CHAT, message(THINKING, TEXT), request(), now=NOW, elapsed_ns=5_000)
    assert body == {
        "model": "llama3.2:latest",
        "created_at": "2026-11-25T12:30:15.123456Z",
        "message": {"role": "assistant", "content": "Hello there"},
        "done_reason": "stop",
        "done": True,
        "total_duration": 5_000,
        "load_duration": 0,
        "prompt_eval_count": 21,
        "prompt_eval_duration": 0,
        "eval_count": 7,
        "eval_duration": 5_000,
    }
    parsed = ollama.ChatResponse.model_validate(body)
    assert parsed.message.content == "Hello there" and parsed.done


def test_ollama_thinking_only_when_asked() -> None:
    req = request(expose_thinking=True)
    body = render_message(CHAT, message(THINKING, TEXT), req, now=NOW, elapsed_ns=1)
    assert body["message"]["thinking"] == "let me think"
    assert body["message"]["content"] == "Hello there"
    body = render_message(GENERATE, message(THINKING, TEXT), req, now=NOW, elapsed_ns=1)
    assert body["thinking"] == "let me think" and body["response"] == "Hello there"


def test_ollama_tool_calls() -> None:
    body = render_message(
        CHAT, message(TEXT, TOOL, stop_reason="tool_use"), request(), now=NOW, elapsed_ns=1
    )
    assert body["message"]["tool_calls"] == [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    ]
    assert body["done_reason"] == "stop"
    parsed = ollama.ChatResponse.model_validate(body)
    assert parsed.message.tool_calls[0].function.arguments == {"city": "Paris"}


def test_ollama_generate_answer() -> None:
    body = render_message(GENERATE, message(TEXT), request(), now=NOW, elapsed_ns=9)
    assert body["response"] == "Hello there" and "message" not in body
    parsed = ollama.GenerateResponse.model_validate(body)
    assert parsed.done and parsed.eval_count == 7


@pytest.mark.parametrize(
    ("stop_reason", "ollama_reason", "openai_reason"),
    [
        ("end_turn", "stop", "stop"),
        ("stop_sequence", "stop", "stop"),
        ("max_tokens", "length", "length"),
        ("model_context_window_exceeded", "length", "length"),
        ("refusal", "refusal", "content_filter"),
        ("pause_turn", "stop", "stop"),
    ],
)
def test_stop_reasons(stop_reason: str, ollama_reason: str, openai_reason: str) -> None:
    reply = message(TEXT, stop_reason=stop_reason)
    assert (
        render_message(CHAT, reply, request(), now=NOW, elapsed_ns=1)["done_reason"]
        == ollama_reason
    )
    body = render_message(OPENAI, reply, request(), now=NOW, elapsed_ns=1)
    assert body["choices"][0]["finish_reason"] == openai_reason


def test_created_at_is_utc_whatever_the_zone_of_now() -> None:
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    body = render_message(CHAT, message(TEXT), request(), now=paris, elapsed_ns=1)
    assert body["created_at"] == "2026-11-25T12:30:15.123456Z"


# --- OpenAI, whole ------------------------------------------------------------------------


def test_openai_completion() -> None:
    body = render_message(OPENAI, message(THINKING, TEXT), request(), now=NOW, elapsed_ns=1)
    completion = ChatCompletion.model_validate(body)
    assert completion.id == "chatcmpl-01ABC"
    assert completion.object == "chat.completion"
    assert completion.created == int(NOW.timestamp())
    assert completion.model == "llama3.2:latest"
    assert completion.choices[0].message.content == "Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (21, 7)
    assert completion.usage.total_tokens == 28


def test_openai_tool_calls() -> None:
    body = render_message(
        OPENAI, message(TOOL, stop_reason="tool_use"), request(), now=NOW, elapsed_ns=1
    )
    choice = ChatCompletion.model_validate(body).choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.id == "toolu_01" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


@pytest.mark.parametrize("endpoint", [CHAT, GENERATE, OPENAI])
def test_json_mode_answers_with_the_tool_input_as_text(endpoint: Endpoint) -> None:
    forced = {**TOOL, "name": JSON_TOOL_NAME, "input": {"age": 22, "ok": True}}
    body = render_message(
        endpoint,
        message(forced, stop_reason="tool_use"),
        request(json_mode=True),
        now=NOW,
        elapsed_ns=1,
    )
    if endpoint == OPENAI:
        text, reason = body["choices"][0]["message"]["content"], body["choices"][0]["finish_reason"]
        assert "tool_calls" not in body["choices"][0]["message"]
    elif endpoint == CHAT:
        text, reason = body["message"]["content"], body["done_reason"]
        assert "tool_calls" not in body["message"]
    else:
        text, reason = body["response"], body["done_reason"]
    assert json.loads(text) == {"age": 22, "ok": True}
    assert reason == "stop"


# --- Ollama, streamed ---------------------------------------------------------------------


def test_ollama_stream_frames() -> None:
    renderer = StreamRenderer(CHAT, request(), now=NOW)
    stream = events(THINKING, TEXT)
    frames = run(renderer, stream)
    assert all(frame.endswith(b"\n") and frame.count(b"\n") == 1 for frame in frames)
    parsed = [ollama.ChatResponse.model_validate_json(frame) for frame in frames]
    assert "".join(p.message.content or "" for p in parsed) == "Hello there"
    assert all(not p.done for p in parsed[:-1])
    final = json.loads(frames[-1])
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["message"] == {"role": "assistant", "content": ""}
    first_delta = next(i for i, e in enumerate(stream) if e["type"] == "content_block_delta")
    assert final["prompt_eval_duration"] == first_delta * 1000
    assert final["total_duration"] == (len(stream) - 1) * 1000
    assert final["eval_duration"] == final["total_duration"] - final["prompt_eval_duration"]
    assert (final["prompt_eval_count"], final["eval_count"]) == (21, 7)
    assert renderer.usage == (21, 7) and renderer.is_finished


def test_ollama_stream_thinking_and_tool_calls() -> None:
    renderer = StreamRenderer(CHAT, request(expose_thinking=True), now=NOW)
    frames = run(renderer, events(THINKING, TEXT, TOOL, stop_reason="tool_use"))
    messages = [json.loads(frame)["message"] for frame in frames]
    assert "".join(m.get("thinking", "") for m in messages) == "let me think"
    calls = [m["tool_calls"] for m in messages if "tool_calls" in m]
    assert calls == [[{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]]


def test_generate_stream_frames() -> None:
    frames = run(StreamRenderer(GENERATE, request(), now=NOW), events(TEXT))
    parsed = [ollama.GenerateResponse.model_validate_json(frame) for frame in frames]
    assert "".join(p.response or "" for p in parsed) == "Hello there"
    assert parsed[-1].done and parsed[-1].done_reason == "stop"


def test_has_content_waits_for_real_content() -> None:
    renderer = StreamRenderer(CHAT, request(), now=NOW)
    stream = events(THINKING, TEXT)
    for step, event in enumerate(stream):
        frames = renderer.feed(event, now=NOW, elapsed_ns=step)
        is_text = event.get("delta", {}).get("type") == "text_delta"
        if is_text:
            assert frames and renderer.has_content
            break
        assert frames == [] and not renderer.has_content  # hidden thinking is not content


# --- OpenAI, streamed ---------------------------------------------------------------------


def test_openai_stream_through_the_sdk() -> None:
    renderer = StreamRenderer(OPENAI, request(), now=NOW)
    frames = run(renderer, events(THINKING, TEXT))
    assert frames[-1] == b"data: [DONE]\n\n"
    assert all(frame.startswith(b"data: ") and frame.endswith(b"\n\n") for frame in frames)
    chunks = openai_chunks(frames)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert {chunk.id for chunk in chunks} == {"chatcmpl-01ABC"}
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello there"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(chunk)
    assert state.get_final_completion().choices[0].message.content == "Hello there"


def test_openai_stream_tool_calls_accumulate() -> None:
    second = {**TOOL, "id": "toolu_02", "input": {"city": "Rome", "units": "C"}}
    frames = run(
        StreamRenderer(OPENAI, request(), now=NOW),
        events(TEXT, TOOL, second, stop_reason="tool_use"),
    )
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in openai_chunks(frames):
        state.handle_chunk(chunk)
    choice = state.get_final_completion().choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.id, json.loads(c.function.arguments)) for c in calls] == [
        ("toolu_01", {"city": "Paris"}),
        ("toolu_02", {"city": "Rome", "units": "C"}),
    ]


def test_openai_stream_usage_chunk_when_asked() -> None:
    frames = run(StreamRenderer(OPENAI, request(include_usage=True), now=NOW), events(TEXT))
    chunks = openai_chunks(frames)
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 28
    without = openai_chunks(run(StreamRenderer(OPENAI, request(), now=NOW), events(TEXT)))
    assert all(chunk.choices for chunk in without)


def test_json_mode_stream_pieces_are_the_content() -> None:
    forced = {**TOOL, "name": JSON_TOOL_NAME, "input": {"age": 22}}
    for endpoint in (CHAT, OPENAI):
        frames = run(
            StreamRenderer(endpoint, request(json_mode=True), now=NOW),
            events(forced, stop_reason="tool_use"),
        )
        if endpoint == OPENAI:
            chunks = openai_chunks(frames)
            text = "".join(c.choices[0].delta.content or "" for c in chunks)
            assert chunks[-1].choices[0].finish_reason == "stop"
        else:
            text = "".join(json.loads(f)["message"]["content"] for f in frames)
        assert json.loads(text) == {"age": 22}


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "retryable"),
    [
        ("overloaded_error", 529, True),
        ("api_error", 500, True),
        ("rate_limit_error", 429, True),
        ("invalid_request_error", 400, False),
        ("something_new", None, True),
    ],
)
def test_error_event_raises_provider_error(kind: str, status: int | None, retryable: bool) -> None:
    renderer = StreamRenderer(CHAT, request(), now=NOW)
    run(renderer, events(TEXT)[:2])
    with pytest.raises(ProviderError) as raised:
        renderer.feed(
            {"type": "error", "error": {"type": kind, "message": "Overloaded"}},
            now=NOW,
            elapsed_ns=1,
        )
    assert raised.value.status == status and raised.value.retryable is retryable
    assert not renderer.has_content  # the dispatcher may still fall back


def test_error_frames() -> None:
    ollama_frame = StreamRenderer(CHAT, request(), now=NOW).error_frame('it "broke"')
    assert ollama_frame.endswith(b"\n") and json.loads(ollama_frame) == {"error": 'it "broke"'}
    openai_frame = StreamRenderer(OPENAI, request(), now=NOW).error_frame("it broke")
    frames = run(StreamRenderer(OPENAI, request(), now=NOW), events(TEXT)[:4]) + [openai_frame]
    with pytest.raises(openai.APIError, match="it broke"):
        openai_chunks(frames)


def test_unknown_events_and_pings_are_ignored() -> None:
    renderer = StreamRenderer(OPENAI, request(), now=NOW)
    assert renderer.feed({"type": "ping"}, now=NOW, elapsed_ns=0) == []
    assert renderer.feed({"type": "brand_new_event", "x": 1}, now=NOW, elapsed_ns=0) == []
