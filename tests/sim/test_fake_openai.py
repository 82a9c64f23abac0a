"""FakeOpenAI driven by the official `openai` SDK and by raw HTTP: strict as the real API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from brb.sim.openai import DEFAULT_API_KEY, DEFAULT_REPLY, REASONING_TEXT, FakeOpenAI
from brb.sim.openai_rules import validate_body
from brb.sim.server import serve_in_thread

HI = [{"role": "user", "content": "Hello there"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
def fake() -> FakeOpenAI:
    return FakeOpenAI()


@pytest.fixture
def url(fake: FakeOpenAI) -> Iterator[str]:
    with serve_in_thread(fake.app()) as base:
        yield base + "/v1"


@pytest.fixture
def client(url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key=DEFAULT_API_KEY, base_url=url, max_retries=0) as c:
        yield c


def test_a_completion_and_a_stream_with_usage(client: openai.OpenAI) -> None:
    done = client.chat.completions.create(model="gpt-4o-mini", messages=HI)  # type: ignore[arg-type]
    assert done.choices[0].message.content == DEFAULT_REPLY
    assert done.choices[0].finish_reason == "stop" and done.usage is not None
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=HI,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == DEFAULT_REPLY
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == done.usage.completion_tokens


def test_the_raw_stream_ends_with_done(url: str) -> None:
    r = httpx.post(
        url + "/chat/completions",
        json={"model": "m", "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
    )
    frames = [line for line in r.text.splitlines() if line]
    assert frames[-1] == "data: [DONE]" and r.headers["x-request-id"].startswith("req_")
    assert "usage" not in json.loads(frames[-2][len("data: ") :])  # not asked for


def test_a_forced_tool_and_json_schema(client: openai.OpenAI) -> None:
    called = client.chat.completions.create(
        model="gpt-4o",
        messages=HI,
        tools=[WEATHER],  # type: ignore[arg-type, list-item]
        tool_choice="required",
    )
    (call,) = called.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {
        "city": "x"
    }
    assert called.choices[0].finish_reason == "tool_calls"
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    shaped = client.chat.completions.create(
        model="gpt-4o",
        messages=HI,  # type: ignore[arg-type]
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    )
    assert json.loads(shaped.choices[0].message.content or "") == {"n": 0}


def test_reasoning_comes_back_where_the_server_puts_it(client: openai.OpenAI) -> None:
    done = client.chat.completions.create(
        model="o4-mini",
        messages=HI,
        reasoning_effort="low",  # type: ignore[arg-type]
    )
    assert done.choices[0].message.to_dict()["reasoning_content"] == REASONING_TEXT


def test_errors_have_the_openai_shape_and_retry_after(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.fail_next(1, 429, retry_after=7)
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
    assert exc.value.response.headers["retry-after"] == "7"
    assert exc.value.body == {  # type: ignore[comparison-overlap]
        "message": "Rate limit reached for requests",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    with (
        openai.OpenAI(api_key="wrong", base_url=str(client.base_url), max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError),
    ):
        bad.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
    assert fake.answered[429] == 1 and fake.answered[401] == 1


def test_an_error_inside_a_stream_raises_in_the_sdk(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.error_after(2)
    stream = client.chat.completions.create(model="m", messages=HI, stream=True)  # type: ignore[arg-type]
    with pytest.raises(openai.APIError):
        list(stream)


def body(**over: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": HI, **over}


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (body(options={"num_ctx": 4}), "Unrecognized request argument supplied: options"),
        (body(messages=[]), "empty array"),
        (
            body(messages=[{"role": "user", "content": "x", "images": []}]),
            "'images' was unexpected",
        ),
        (body(messages=[{"role": "tool", "tool_call_id": "c", "content": "x"}]), "role 'tool'"),
        (
            body(
                messages=[
                    *HI,
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ],
                    },
                ]
            ),
            "did not have response messages: c1",
        ),
        (
            body(
                messages=[
                    {
                        "role": "system",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}
                        ],
                    }
                ]
            ),
            "Supported values are: 'text'",
        ),
        (
            body(
                messages=[
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}],
                    }
                ]
            ),
            "Invalid image URL",
        ),
        (body(stop=["a", "b", "c", "d", "e"]), "maximum length 4"),
        (body(stream_options={"include_usage": True}), "only allowed when 'stream' is enabled"),
        (body(response_format={"type": "json_object"}), "must contain the word 'json'"),
        (body(model="gpt-5-mini", max_tokens=10), "Use 'max_completion_tokens' instead"),
        (body(model="o3", temperature=0.2), "Only the default (1) value is supported"),
        (body(reasoning_effort="low"), "reasoning_effort"),
        (body(tool_choice="auto"), "only allowed when 'tools' are specified"),
        (body(max_completion_tokens=0), "below minimum"),
    ],
)
def test_bad_shapes_are_refused_as_the_real_api_does(bad: dict[str, Any], says: str) -> None:
    error = validate_body(bad)
    assert error is not None and error.status == 400 and says in error.message
    assert set(error.body()["error"]) == {"message", "type", "param", "code"}


def test_a_valid_tool_round_trip_is_accepted() -> None:
    history = [
        *HI,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "rain"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "so?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
            ],
        },
    ]
    assert validate_body(body(messages=history, tools=[WEATHER])) is None
