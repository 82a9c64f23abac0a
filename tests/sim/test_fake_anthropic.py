"""FakeAnthropic driven by the official `anthropic` SDK (sync and async) and by raw HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import anthropic
import httpx
import pytest

from brb.sim.anthropic import DEFAULT_API_KEY, DEFAULT_REPLY, FakeAnthropic
from brb.sim.server import serve, serve_in_thread

MODEL = "claude-sonnet-5-5"
HI = [{"role": "user", "content": "Hello there"}]
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
}
OLD_API = {"anthropic-version": "2023-06-01", "x-api-key": DEFAULT_API_KEY}


@pytest.fixture
def fake() -> FakeAnthropic:
    return FakeAnthropic()


@pytest.fixture
def base_url(fake: FakeAnthropic) -> Iterator[str]:
    with serve_in_thread(fake.app()) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=DEFAULT_API_KEY, max_retries=0)


def test_whole_message(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=100, messages=HI)
    assert raw.headers["request-id"].startswith("req_")
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant" and message.model == MODEL
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == DEFAULT_REPLY
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.output_tokens == 5  # "Hello from the simulated Claude."
    counted = client.messages.count_tokens(model=MODEL, messages=HI)
    assert message.usage.input_tokens == counted.input_tokens > 0
    assert message.usage.cache_read_input_tokens == 0


def test_stream_sends_the_real_event_sequence(client: anthropic.Anthropic) -> None:
    events = list(client.messages.create(model=MODEL, max_tokens=100, messages=HI, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:3] == ["message_start", "content_block_start", "content_block_delta"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert "".join(deltas) == DEFAULT_REPLY
    assert events[-2].usage.output_tokens == len(deltas)
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HI) as stream:
        assert stream.get_final_text() == DEFAULT_REPLY


def test_raw_stream_frames_and_ping(base_url: str) -> None:
    body = {"model": MODEL, "max_tokens": 50, "messages": HI, "stream": True}
    response = httpx.post(f"{base_url}/v1/messages", headers=OLD_API, json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = response.text.strip().split("\n\n")
    names = [f.split("\n")[0].removeprefix("event: ") for f in frames]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    for frame, name in zip(frames, names, strict=True):
        assert json.loads(frame.split("\n")[1].removeprefix("data: "))["type"] == name


def test_thinking_block_comes_first() -> None:
    fake = FakeAnthropic(thinking=True)
    with serve_in_thread(fake.app()) as url:
        client = anthropic.Anthropic(base_url=url, api_key=DEFAULT_API_KEY, max_retries=0)
        message = client.messages.create(model=MODEL, max_tokens=100, messages=HI)
        assert [b.type for b in message.content] == ["thinking", "text"]
        with client.messages.stream(model=MODEL, max_tokens=100, messages=HI) as stream:
            final = stream.get_final_message()
            assert final.content[0].type == "thinking" and final.content[0].signature
            assert final.content[1].type == "text" and final.content[1].text == DEFAULT_REPLY


def test_forced_tool_use_whole_and_streamed(client: anthropic.Anthropic) -> None:
    forced = {"type": "tool", "name": "get_weather"}
    message = client.messages.create(
        model=MODEL, max_tokens=100, messages=HI, tools=[WEATHER], tool_choice=forced
    )
    assert message.stop_reason == "tool_use"
    block = message.content[0]
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"city": "x"}
    with client.messages.stream(
        model=MODEL, max_tokens=100, messages=HI, tools=[WEATHER], tool_choice={"type": "any"}
    ) as stream:
        streamed = stream.get_final_message().content[0]
    assert streamed.type == "tool_use" and streamed.input == {"city": "x"}


def test_max_tokens_and_stop_sequences_cut_the_reply(client: anthropic.Anthropic) -> None:
    capped = client.messages.create(model=MODEL, max_tokens=2, messages=HI)
    assert capped.content[0].text == "Hello from" and capped.stop_reason == "max_tokens"
    assert capped.usage.output_tokens == 2
    stopped = client.messages.create(
        model=MODEL, max_tokens=100, messages=HI, stop_sequences=["simulated"]
    )
    assert stopped.content[0].text == "Hello from the "
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == "simulated"


def test_async_client_whole_and_streamed() -> None:
    fake = FakeAnthropic(reply_text="Async works.")

    async def scenario() -> None:
        async with serve(fake.app()) as url:
            client = anthropic.AsyncAnthropic(base_url=url, api_key=DEFAULT_API_KEY, max_retries=0)
            message = await client.messages.create(model=MODEL, max_tokens=50, messages=HI)
            assert message.content[0].text == "Async works."
            async with client.messages.stream(model=MODEL, max_tokens=50, messages=HI) as stream:
                assert await stream.get_final_text() == "Async works."
            fake.fail_next(1, 429, "rate_limit_error")
            with pytest.raises(anthropic.RateLimitError):
                await client.messages.create(model=MODEL, max_tokens=50, messages=HI)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("status", "error_type", "exception"),
    [
        (429, "rate_limit_error", anthropic.RateLimitError),
        (529, "overloaded_error", anthropic.OverloadedError),
        (500, "api_error", anthropic.InternalServerError),
        (403, "permission_error", anthropic.PermissionDeniedError),
    ],
)
def test_injected_failures_are_typed_sdk_errors(
    fake: FakeAnthropic,
    client: anthropic.Anthropic,
    status: int,
    error_type: str,
    exception: type[anthropic.APIStatusError],
) -> None:
    fake.fail_next(1, status, error_type, retry_after=7)
    with pytest.raises(exception) as caught:
        client.messages.create(model=MODEL, max_tokens=10, messages=HI)
    assert caught.value.status_code == status
    assert caught.value.body == {
        "type": "error",
        "error": {"type": error_type, "message": caught.value.body["error"]["message"]},
    }
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.request_id and caught.value.request_id.startswith("req_")
    assert client.messages.create(model=MODEL, max_tokens=10, messages=HI).content


def test_overloaded_is_an_internal_server_error(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.fail_next(1, 529, "overloaded_error")
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(model=MODEL, max_tokens=10, messages=HI)


def test_wrong_or_missing_key_is_an_authentication_error(base_url: str) -> None:
    wrong = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        wrong.messages.create(model=MODEL, max_tokens=10, messages=HI)
    body = {"model": MODEL, "max_tokens": 10, "messages": HI}
    missing = httpx.post(
        f"{base_url}/v1/messages", headers={"anthropic-version": "2023-06-01"}, json=body
    )
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"


def test_x_api_key_header_and_missing_version(base_url: str) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": HI}
    assert httpx.post(f"{base_url}/v1/messages", headers=OLD_API, json=body).status_code == 200
    no_version = httpx.post(
        f"{base_url}/v1/messages", headers={"x-api-key": DEFAULT_API_KEY}, json=body
    )
    assert no_version.status_code == 400
    assert no_version.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "anthropic-version: header is required",
        },
    }
    assert no_version.headers["request-id"]


def test_bad_requests_are_typed_bad_request_errors(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as prefill:
        client.messages.create(
            model="claude-opus-4-6",
            max_tokens=10,
            messages=[*HI, {"role": "assistant", "content": "Sure"}],
        )
    assert "does not support assistant message prefill" in str(prefill.value)
    with pytest.raises(anthropic.BadRequestError) as extra:
        client.messages.create(model=MODEL, max_tokens=10, messages=HI, extra_body={"options": {}})
    assert "options: Extra inputs are not permitted" in str(extra.value)


def test_unknown_model_is_not_found() -> None:
    fake = FakeAnthropic(models=[MODEL])
    with serve_in_thread(fake.app()) as url:
        client = anthropic.Anthropic(base_url=url, api_key=DEFAULT_API_KEY, max_retries=0)
        with pytest.raises(anthropic.NotFoundError):
            client.messages.create(model="claude-3-sonnet-20241022", max_tokens=10, messages=HI)


def test_error_event_after_a_200_raises_inside_the_stream(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.error_event_after(2)
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        for event in client.messages.create(model=MODEL, max_tokens=100, messages=HI, stream=True):
            if event.type == "content_block_delta":
                received.append(event.delta.text)
    assert received == ["Hello", " from"]
    assert caught.value.body["error"]["type"] == "overloaded_error"
    # The next stream is whole again.
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HI) as stream:
        assert stream.get_final_text() == DEFAULT_REPLY


def test_hang_times_out_the_client(fake: FakeAnthropic, base_url: str) -> None:
    fake.hang = True
    client = anthropic.Anthropic(
        base_url=base_url, api_key=DEFAULT_API_KEY, max_retries=0, timeout=0.3
    )
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model=MODEL, max_tokens=10, messages=HI)


def test_latency_delays_the_answer(fake: FakeAnthropic, base_url: str) -> None:
    fake.latency_s = 1.0
    client = anthropic.Anthropic(
        base_url=base_url, api_key=DEFAULT_API_KEY, max_retries=0, timeout=0.3
    )
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model=MODEL, max_tokens=10, messages=HI)


def test_requests_are_recorded_with_headers_and_body(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    client.messages.create(model=MODEL, max_tokens=10, messages=HI, system="Be brief.")
    client.messages.count_tokens(model=MODEL, messages=HI)
    first, second = fake.requests
    assert first.path == "/v1/messages" and second.path == "/v1/messages/count_tokens"
    assert first.headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"
    assert first.headers["anthropic-version"]
    assert isinstance(first.body, dict) and first.body["system"] == "Be brief."
    assert fake.received["/v1/messages"] == 1 and fake.answered[200] == 2
    assert [r.path for r in fake.message_requests] == ["/v1/messages"]


def test_unknown_path_and_oversized_body_keep_the_error_shape(base_url: str) -> None:
    missing = httpx.post(f"{base_url}/v1/nope", headers=OLD_API, json={})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    assert missing.headers["request-id"]
    huge = httpx.post(f"{base_url}/v1/messages", headers=OLD_API, content=b"x" * (34 * 1024 * 1024))
    assert huge.status_code == 413
    assert huge.json()["error"]["type"] == "request_too_large"


LONG_SYSTEM = "You are a careful assistant. " * 40


def cached_system(ttl: str | None = None) -> list[dict[str, object]]:
    control: dict[str, object] = {"type": "ephemeral"}
    if ttl:
        control["ttl"] = ttl
    return [{"type": "text", "text": LONG_SYSTEM, "cache_control": control}]


@pytest.mark.parametrize("ttl", [None, "5m", "1h"])
def test_a_cached_prefix_is_written_once_then_read(
    client: anthropic.Anthropic, ttl: str | None
) -> None:
    """The usage splits the prompt like the real API: the prefix up to the breakpoint
    is a cache write the first time (5-minute or 1-hour), a cache read after."""
    first = client.messages.create(
        model=MODEL, max_tokens=50, messages=HI, system=cached_system(ttl)
    ).usage
    counted = client.messages.count_tokens(model=MODEL, messages=HI, system=cached_system(ttl))
    assert first.cache_creation_input_tokens > 0 and first.cache_read_input_tokens == 0
    assert first.input_tokens + first.cache_creation_input_tokens == counted.input_tokens
    one_hour = first.cache_creation.ephemeral_1h_input_tokens
    five_min = first.cache_creation.ephemeral_5m_input_tokens
    assert (one_hour, five_min) == (
        (first.cache_creation_input_tokens, 0) if ttl == "1h" else (0, five_min)
    )
    assert one_hour + five_min == first.cache_creation_input_tokens
    events = list(
        client.messages.create(
            model=MODEL, max_tokens=50, messages=HI, system=cached_system(ttl), stream=True
        )
    )
    second = events[0].message.usage  # message_start carries the prompt's usage
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    assert second.input_tokens == first.input_tokens


def test_a_top_level_cache_control_caches_the_whole_prompt(base_url: str) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": HI,
            "cache_control": {"type": "ephemeral", "ttl": "1h"}}  # fmt: skip
    usage = httpx.post(f"{base_url}/v1/messages", headers=OLD_API, json=body).json()["usage"]
    assert usage["cache_creation_input_tokens"] > 0
    assert (
        usage["cache_creation"]["ephemeral_1h_input_tokens"] == usage["cache_creation_input_tokens"]
    )
    assert usage["input_tokens"] == 0
