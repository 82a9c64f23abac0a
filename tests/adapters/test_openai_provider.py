"""The openai adapter against the fake: brb's internal params in, Anthropic-shaped answers out,
SDK errors translated with status and retry-after, SDK retries off."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from brb.adapters.openai_provider import OpenAIProvider
from brb.core.convert import JSON_TOOL_NAME
from brb.core.convert.reply import read_message
from brb.errors import ConversionError, ProviderError
from brb.sim.openai import DEFAULT_API_KEY, DEFAULT_REPLY, REASONING_TEXT, FakeOpenAI
from brb.sim.server import serve

PARAMS: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "max_tokens": 64,
    "system": "be brief",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
}


def free_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def run(fake: FakeOpenAI, body: Callable[[OpenAIProvider], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with serve(fake.app()) as url:
            provider = OpenAIProvider(
                name="openai", api_key=DEFAULT_API_KEY, base_url=url + "/v1", timeout_s=5
            )
            try:
                return await body(provider)
            finally:
                await provider.close()

    return asyncio.run(main())


async def collect(provider: OpenAIProvider, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [event async for event in provider.stream(params)]


def test_a_whole_answer_comes_back_as_an_anthropic_message() -> None:
    fake = FakeOpenAI()
    message, request_id = run(fake, lambda p: p.create(PARAMS))
    assert read_message(message, json_mode=False).text == DEFAULT_REPLY
    assert message["usage"]["output_tokens"] > 0 and request_id.startswith("req_sim")
    (sent,) = fake.completion_requests
    assert sent.body == {  # what reached the wire: no Anthropic key leaked
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "max_completion_tokens": 64,
    }


def test_a_stream_asks_for_usage_and_yields_anthropic_events() -> None:
    fake = FakeOpenAI()
    events = run(fake, lambda p: collect(p, PARAMS))
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert text == DEFAULT_REPLY
    assert events[-2]["usage"]["output_tokens"] > 0
    assert fake.completion_requests[0].body["stream_options"] == {"include_usage": True}  # type: ignore[index]


def test_thinking_maps_to_reasoning_and_back() -> None:
    fake = FakeOpenAI()
    params = {**PARAMS, "model": "o4-mini", "thinking": {"type": "enabled", "budget_tokens": 1024}}
    message, _ = run(fake, lambda p: p.create(params))
    assert read_message(message, json_mode=False).thinking == REASONING_TEXT
    assert fake.completion_requests[0].body["reasoning_effort"] == "medium"  # type: ignore[index]


def test_json_mode_round_trip() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    params = {
        **PARAMS,
        "tools": [{"name": JSON_TOOL_NAME, "input_schema": schema}],
        "tool_choice": {"type": "tool", "name": JSON_TOOL_NAME},
    }
    message, _ = run(FakeOpenAI(), lambda p: p.create(params))
    assert read_message(message, json_mode=True).text == '{"n": 0}'


def test_a_429_is_translated_with_its_retry_after_and_not_retried() -> None:
    fake = FakeOpenAI()
    fake.fail_next(1, 429, retry_after=12)
    with pytest.raises(ProviderError) as exc:
        run(fake, lambda p: p.create(PARAMS))
    assert (exc.value.status, exc.value.retry_after_s, exc.value.retryable) == (429, 12.0, True)
    assert fake.answered[429] == 1 and len(fake.completion_requests) == 1


def test_a_request_the_api_refuses_is_a_non_retryable_400() -> None:
    fake = FakeOpenAI()
    params = {**PARAMS, "model": "gpt-5-mini", "temperature": 0.2}  # kept out by capabilities
    run(fake, lambda p: p.create(params))
    assert "temperature" not in fake.completion_requests[0].body  # type: ignore[operator]
    fake.models = ["gpt-4o"]
    with pytest.raises(ProviderError) as exc:
        run(fake, lambda p: p.create(PARAMS))
    assert (exc.value.status, exc.value.retryable) == (404, False)


def test_an_error_inside_the_stream_and_an_unreachable_server_are_retryable() -> None:
    fake = FakeOpenAI()
    fake.error_after(1)
    with pytest.raises(ProviderError) as exc:
        run(fake, lambda p: collect(p, PARAMS))
    assert exc.value.retryable

    async def unreachable() -> None:
        provider = OpenAIProvider(
            name="groq", api_key="k", base_url=free_port_url() + "/v1", timeout_s=2
        )
        try:
            await provider.create(PARAMS)
        finally:
            await provider.close()

    with pytest.raises(ProviderError) as exc:
        asyncio.run(unreachable())
    assert exc.value.retryable and "groq" in str(exc.value)


def test_what_it_cant_carry_is_a_conversion_error_before_any_call() -> None:
    fake = FakeOpenAI()
    with pytest.raises(ConversionError):
        run(fake, lambda p: p.create({**PARAMS, "stop_sequences": list("abcde")}))
    assert fake.completion_requests == []
