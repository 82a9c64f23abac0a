"""Client bodies to Anthropic params: turn shape, tools, JSON mode, options, prefill, trimming."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from brb.core.capabilities import UNKNOWN_MODEL, ModelCapabilities, capabilities_for
from brb.core.convert import JSON_TOOL_NAME, CloudRequest, Endpoint, to_cloud
from brb.core.convert.token_bound import TOOL_USE_SYSTEM_PROMPT_TOKENS
from brb.errors import BadRequest, ConversionError

OLD_API = "2023-06-01"
PERMISSIVE = capabilities_for("claude-sonnet-4-5", OLD_API)  # prefill, all sampling (exclusive)
STRICT = capabilities_for("claude-sonnet-5-5")  # no prefill, no sampling
CHAT, GENERATE, OPENAI = Endpoint.OLLAMA_CHAT, Endpoint.OLLAMA_GENERATE, Endpoint.OPENAI_CHAT


def convert(
    endpoint: Endpoint,
    body: dict[str, Any],
    caps: ModelCapabilities = PERMISSIVE,
    *,
    max_input_tokens: int | None = None,
    default_max_tokens: int = 1000,
) -> CloudRequest:
    return to_cloud(
        endpoint,
        body,
        cloud_model="claude-test",
        default_max_tokens=default_max_tokens,
        max_input_tokens=max_input_tokens,
        caps=caps,
    )


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "llama3.2", "messages": list(messages), **extra}


def u(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def a(text: str, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": text, **extra}


def s(text: str) -> dict[str, Any]:
    return {"role": "system", "content": text}


def texts(req: CloudRequest) -> list[tuple[str, list[str]]]:
    return [
        (m["role"], [b.get("text", b["type"]) for b in m["content"]])
        for m in req.params["messages"]
    ]


# --- turn shape ---------------------------------------------------------------------------


def test_system_messages_anywhere_become_the_top_level_system() -> None:
    req = convert(CHAT, chat(s("be brief"), u("hi"), s("use French"), a("salut"), u("merci")))
    assert req.params["system"] == "be brief\n\nuse French"
    assert [m["role"] for m in req.params["messages"]] == ["user", "assistant", "user"]


def test_openai_developer_role_and_generate_system() -> None:
    body = {"model": "gpt", "messages": [{"role": "developer", "content": "rules"}, u("q")]}
    assert convert(OPENAI, body).params["system"] == "rules"
    req = convert(GENERATE, {"model": "m", "prompt": "q", "system": "sys"})
    assert req.params["system"] == "sys"
    assert texts(req) == [("user", ["q"])]


def test_empty_and_whitespace_messages_are_dropped_and_same_roles_merged() -> None:
    req = convert(CHAT, chat(u("a"), a(""), u("  \n"), u("b"), a("x"), a("y"), u("c"), s("")))
    assert texts(req) == [("user", ["a", "b"]), ("assistant", ["x", "y"]), ("user", ["c"])]
    assert "system" not in req.params


def test_a_leading_greeting_is_carried_not_refused() -> None:
    """[assistant, user] is diverted (tests/core/test_convert_greeting_thinking.py)."""
    req = convert(CHAT, chat(a("Hello! How can I help?"), u("hi")))
    assert texts(req) == [("user", ["hi"])] and "Hello! How can I help?" in req.params["system"]


def test_no_user_message_stays_local() -> None:
    with pytest.raises(ConversionError):
        convert(CHAT, chat(s("only a system prompt")))
    with pytest.raises(ConversionError):
        convert(CHAT, chat())  # Ollama: an empty list loads the model


# --- prefill ------------------------------------------------------------------------------


def test_final_assistant_message_is_a_prefill_without_trailing_whitespace() -> None:
    req = convert(CHAT, chat(u("write a haiku"), a("Autumn moon \n")), PERMISSIVE)
    assert texts(req)[-1] == ("assistant", ["Autumn moon"])


def test_prefill_is_dropped_for_models_that_refuse_it() -> None:
    req = convert(CHAT, chat(u("write a haiku"), a("Autumn moon")), STRICT)
    assert texts(req) == [("user", ["write a haiku"])]


def test_no_prefill_with_a_forced_tool_choice() -> None:
    req = convert(CHAT, chat(u("age?"), a("{"), format="json"), PERMISSIVE)
    assert texts(req) == [("user", ["age?"])]
    body = {
        "model": "gpt",
        "messages": [u("time?"), a("Calling")],
        "tools": [TIME],
        "tool_choice": "required",
    }
    assert texts(convert(OPENAI, body, PERMISSIVE)) == [("user", ["time?"])]
    body["tool_choice"] = "auto"
    assert texts(convert(OPENAI, body, PERMISSIVE))[-1] == ("assistant", ["Calling"])


def test_whitespace_only_prefill_is_dropped() -> None:
    req = convert(CHAT, chat(u("q"), a("   ")), PERMISSIVE)
    assert texts(req) == [("user", ["q"])]


# --- tools --------------------------------------------------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}


def test_tool_definitions() -> None:
    req = convert(CHAT, chat(u("weather?"), tools=[WEATHER, TIME]))
    assert req.params["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in req.params


def test_ollama_tool_calls_get_ids_and_results_match_by_name_then_order() -> None:
    calls = [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
        {"function": {"name": "get_time", "arguments": {}}},
        {"function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
    ]
    body = chat(
        u("weather and time?"),
        a("", tool_calls=calls),
        {"role": "tool", "content": "12:00", "tool_name": "get_time"},
        {"role": "tool", "content": "sunny"},
        {"role": "tool", "content": "rainy"},
        tools=[WEATHER, TIME],
    )
    messages = convert(CHAT, body).params["messages"]
    uses = messages[1]["content"]
    assert [b["type"] for b in uses] == ["tool_use"] * 3
    ids = [b["id"] for b in uses]
    assert len(set(ids)) == 3
    assert uses[0]["input"] == {"city": "Paris"}
    results = messages[2]["content"]
    assert [(b["tool_use_id"], b["content"]) for b in results] == [
        (ids[1], "12:00"),
        (ids[0], "sunny"),
        (ids[2], "rainy"),
    ]


def test_ids_are_deterministic() -> None:
    body = chat(
        u("q"),
        a("", tool_calls=[{"function": {"name": "get_time", "arguments": {}}}]),
        {"role": "tool", "content": "noon"},
        tools=[TIME],
    )
    assert convert(CHAT, body).params == convert(CHAT, body).params


def test_openai_tool_calls_and_results_by_id() -> None:
    body = {
        "model": "gpt",
        "messages": [
            u("weather in Paris and Rome?"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call.with.dots",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call.with.dots", "content": "rainy"},
            {
                "role": "tool",
                "tool_call_id": "call_abc",
                "content": [{"type": "text", "text": "sun"}],
            },
        ],
        "tools": [WEATHER],
    }
    messages = convert(OPENAI, body).params["messages"]
    first, second = messages[1]["content"]
    assert first == {
        "type": "tool_use",
        "id": "call_abc",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    assert second["id"] != "call.with.dots" and second["input"] == {}
    assert [(b["tool_use_id"], b["content"]) for b in messages[2]["content"]] == [
        (second["id"], "rainy"),
        ("call_abc", "sun"),
    ]


def test_tool_results_lead_their_user_turn() -> None:
    body = chat(
        u("q"),
        a("", tool_calls=[{"function": {"name": "get_time", "arguments": {}}}]),
        u("and hurry"),
        {"role": "tool", "content": "noon"},
        tools=[TIME],
    )
    last = convert(CHAT, body).params["messages"][-1]["content"]
    assert [b["type"] for b in last] == ["tool_result", "text"]


def test_empty_tool_output_omits_content() -> None:
    body = chat(
        u("q"),
        a("", tool_calls=[{"function": {"name": "get_time", "arguments": {}}}]),
        {"role": "tool", "content": ""},
        tools=[TIME],
    )
    result = convert(CHAT, body).params["messages"][-1]["content"][0]
    assert result == {"type": "tool_result", "tool_use_id": result["tool_use_id"]}


@pytest.mark.parametrize(
    "messages",
    [
        # an unanswered call in the middle of the conversation
        [u("q"), a("", tool_calls=[{"function": {"name": "get_time"}}]), a("ok"), u("next")],
        # a result answering nothing
        [u("q"), {"role": "tool", "content": "stray"}],
        # the conversation ends on calls without results
        [u("q"), a("", tool_calls=[{"function": {"name": "get_time"}}])],
    ],
)
def test_tool_pairing_that_cant_be_repaired_stays_local(messages: list[dict[str, Any]]) -> None:
    with pytest.raises(ConversionError):
        convert(CHAT, chat(*messages, tools=[TIME]))


def test_openai_result_for_an_unknown_call_id_stays_local() -> None:
    body = {
        "model": "gpt",
        "messages": [u("q"), {"role": "tool", "tool_call_id": "nope", "content": "x"}],
    }
    with pytest.raises(ConversionError, match="nope"):
        convert(OPENAI, body)


def test_tool_history_without_tool_definitions_stays_local() -> None:
    body = chat(
        u("q"),
        a("", tool_calls=[{"function": {"name": "get_time", "arguments": {}}}]),
        {"role": "tool", "content": "noon"},
    )
    with pytest.raises(ConversionError, match="defines no tools"):
        convert(CHAT, body)


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        (None, None, None),
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_time"}},
            None,
            {"type": "tool", "name": "get_time"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
def test_openai_tool_choice(choice: object, parallel: bool | None, expected: object) -> None:
    body: dict[str, Any] = {"model": "gpt", "messages": [u("q")], "tools": [WEATHER, TIME]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert convert(OPENAI, body).params.get("tool_choice") == expected


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "function", "function": {"name": "has space"}},
        {"type": "function", "function": {"name": "x", "parameters": {"type": "array"}}},
        {"type": "custom", "custom": {"name": "x"}},
    ],
)
def test_tools_the_cloud_cant_take_stay_local(tool: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        convert(CHAT, chat(u("q"), tools=[tool]))


# --- JSON mode ----------------------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}


@pytest.mark.parametrize(
    ("endpoint", "extra", "schema"),
    [
        (CHAT, {"format": "json"}, {"type": "object", "additionalProperties": True}),
        (CHAT, {"format": SCHEMA}, SCHEMA),
        (OPENAI, {"response_format": {"type": "json_object"}}, None),
        (
            OPENAI,
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "a", "schema": SCHEMA},
                }
            },
            SCHEMA,
        ),
    ],
)
def test_json_mode_is_one_forced_tool(
    endpoint: Endpoint, extra: dict[str, Any], schema: dict[str, Any] | None
) -> None:
    req = convert(endpoint, {"model": "m", "messages": [u("age?")], **extra})
    assert req.json_mode
    (tool,) = req.params["tools"]
    assert tool["name"] == JSON_TOOL_NAME
    if schema is not None:
        assert tool["input_schema"] == schema
    assert req.params["tool_choice"] == {"type": "tool", "name": JSON_TOOL_NAME}
    assert "format" not in req.params and "response_format" not in req.params


def test_generate_json_mode_and_plain_text() -> None:
    assert convert(GENERATE, {"model": "m", "prompt": "q", "format": "json"}).json_mode
    req = convert(OPENAI, {"model": "m", "messages": [u("q")], "response_format": {"type": "text"}})
    assert not req.json_mode and "tools" not in req.params


def test_json_mode_with_tools_or_a_non_object_schema_stays_local() -> None:
    with pytest.raises(ConversionError):
        convert(CHAT, chat(u("q"), format="json", tools=[TIME]))
    with pytest.raises(ConversionError):
        convert(CHAT, chat(u("q"), format={"type": "array", "items": {"type": "string"}}))


# --- options ------------------------------------------------------------------------------


def test_ollama_options() -> None:
    options = {
        "num_predict": 123,
        "temperature": 1.7,
        "top_k": 20,
        "stop": ["\n\n", "user:", " ", "user:"],
        "seed": 42,
        "num_ctx": 4096,
        "mirostat": 1,
    }
    params = convert(CHAT, chat(u("q"), options=options), PERMISSIVE).params
    assert params["max_tokens"] == 123
    assert params["temperature"] == 1.0
    assert params["top_k"] == 20
    assert params["stop_sequences"] == ["user:"]
    assert set(params) == {
        "model",
        "max_tokens",
        "messages",
        "temperature",
        "top_k",
        "stop_sequences",
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [(None, 1000), (0, 1000), (-1, 1000), (-2, 1000), (50, 50), (10**9, 64_000)],
)
def test_max_tokens_default_and_cap(given: int | None, expected: int) -> None:
    options = {} if given is None else {"num_predict": given}
    assert convert(CHAT, chat(u("q"), options=options)).params["max_tokens"] == expected


def test_openai_max_completion_tokens_wins_over_max_tokens() -> None:
    body = {"model": "m", "messages": [u("q")], "max_tokens": 10, "max_completion_tokens": 20}
    assert convert(OPENAI, body).params["max_tokens"] == 20
    body = {"model": "m", "messages": [u("q")], "max_tokens": 10, "stop": "END"}
    params = convert(OPENAI, body).params
    assert params["max_tokens"] == 10 and params["stop_sequences"] == ["END"]


def test_temperature_and_top_p_on_an_exclusive_model_keeps_temperature() -> None:
    options = {"temperature": 0.2, "top_p": 0.9}
    params = convert(CHAT, chat(u("q"), options=options), PERMISSIVE).params
    assert params["temperature"] == 0.2 and "top_p" not in params
    no_temperature = replace(PERMISSIVE, sampling_params=frozenset({"top_p", "top_k"}))
    params = convert(CHAT, chat(u("q"), options=options), no_temperature).params
    assert "temperature" not in params and params["top_p"] == 0.9


@pytest.mark.parametrize(
    "caps", [STRICT, UNKNOWN_MODEL, capabilities_for("claude-sonnet-4-5", "2026-10-21")]
)
def test_models_without_sampling_get_none(caps: ModelCapabilities) -> None:
    options = {"temperature": 0.2, "top_p": 0.9, "top_k": 3}
    params = convert(CHAT, chat(u("q"), options=options), caps).params
    assert not {"temperature", "top_p", "top_k"} & set(params)


# --- trimming and the token bound ------------------------------------------------------------


def test_bound_covers_every_byte_and_the_tool_prompt() -> None:
    text = "héllo wörld " * 50
    plain = convert(CHAT, chat(u(text)))
    assert plain.input_tokens_upper_bound >= len(text.encode())
    with_tools = convert(CHAT, chat(u(text), tools=[WEATHER]))
    assert (
        with_tools.input_tokens_upper_bound
        >= plain.input_tokens_upper_bound
        + TOOL_USE_SYSTEM_PROMPT_TOKENS
        + len(json.dumps(with_tools.params["tools"][0]))
    )


def test_trimming_drops_the_oldest_turns_and_keeps_system_and_last_user() -> None:
    long = "x" * 4000
    body = chat(s("system prompt"), u(long), a(long), u(long), a(long), u("last question"))
    full = convert(CHAT, body)
    assert full.trimmed_turns == 0
    req = convert(CHAT, body, max_input_tokens=full.input_tokens_upper_bound - 1)
    assert req.trimmed_turns == 2
    assert req.params["system"] == "system prompt"
    assert req.params["messages"][-1]["content"][0]["text"] == "last question"
    assert req.params["messages"][0]["role"] == "user"
    assert req.input_tokens_upper_bound <= full.input_tokens_upper_bound - 1


def test_trimming_never_separates_a_tool_call_from_its_result() -> None:
    long = "x" * 4000
    body = chat(
        u(long),
        a("", tool_calls=[{"function": {"name": "get_time", "arguments": {}}}]),
        {"role": "tool", "content": long},
        a(long),
        u("last"),
        tools=[TIME],
    )
    full = convert(CHAT, body)
    req = convert(CHAT, body, max_input_tokens=full.input_tokens_upper_bound - 100)
    # The only safe cut is before "last": the call and its result go together.
    assert req.trimmed_turns == 4
    assert texts(req) == [("user", ["last"])]


def test_a_prompt_that_cant_fit_stays_local() -> None:
    with pytest.raises(ConversionError, match="trimmed"):
        convert(CHAT, chat(u("x" * 5000)), max_input_tokens=1000)


def test_the_context_window_is_a_limit_too() -> None:
    tiny_window = ModelCapabilities(False, frozenset(), True, 500, 100)
    with pytest.raises(ConversionError):
        convert(CHAT, chat(u("x" * 1000)), tiny_window)


# --- shapes and what stays local -------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        (CHAT, {"model": "m", "messages": "hello"}),
        (CHAT, {"model": "m", "messages": ["hello"]}),
        (CHAT, {"messages": [u("q")]}),
        (CHAT, {"model": "m", "messages": [u("q")], "stream": "yes"}),
        (CHAT, {"model": "m", "messages": [u("q")], "options": [1]}),
        (CHAT, {"model": "m", "messages": [u("q")], "options": {"temperature": "hot"}}),
        (CHAT, {"model": "m", "messages": [{"role": "user", "content": 5}]}),
        (GENERATE, {"model": "m", "prompt": ["q"]}),
        (OPENAI, {"model": "m"}),
        (OPENAI, {"model": "m", "messages": [{"role": "user", "content": 5}]}),
        (OPENAI, {"model": "m", "messages": [u("q")], "stop": 5}),
        (CHAT, ["not", "an", "object"]),
    ],
)
def test_wrong_shapes_are_bad_requests(endpoint: Endpoint, body: Any) -> None:
    with pytest.raises(BadRequest) as raised:
        convert(endpoint, body)
    assert not isinstance(raised.value, ConversionError)


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        (GENERATE, {"model": "m", "prompt": ""}),
        (GENERATE, {"model": "m", "prompt": "[INST] q [/INST]", "raw": True}),
        (GENERATE, {"model": "m", "prompt": "q", "template": "{{ .Prompt }}"}),
        (GENERATE, {"model": "m", "prompt": "def f(", "suffix": "return x"}),
        (GENERATE, {"model": "m", "prompt": "q", "context": [1, 2, 3]}),
        (CHAT, {"model": "m", "messages": [{"role": "narrator", "content": "q"}]}),
        (OPENAI, {"model": "m", "messages": [u("q")], "n": 2}),
        (OPENAI, {"model": "m", "messages": [{"role": "function", "name": "f", "content": "1"}]}),
    ],
)
def test_what_the_cloud_cant_reproduce_stays_local(endpoint: Endpoint, body: Any) -> None:
    with pytest.raises(ConversionError):
        convert(endpoint, body)


def test_stream_defaults_and_echoed_model() -> None:
    assert convert(CHAT, chat(u("q"))).is_stream is True
    assert convert(CHAT, chat(u("q"), stream=False)).is_stream is False
    assert convert(GENERATE, {"model": "m", "prompt": "q"}).is_stream is True
    req = convert(OPENAI, {"model": "gpt-x", "messages": [u("q")]})
    assert req.is_stream is False and req.local_model == "gpt-x"
    req = convert(
        OPENAI,
        {
            "model": "g",
            "messages": [u("q")],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert req.is_stream and req.include_usage
    assert "stream" not in req.params


def test_think_asks_for_visible_thinking() -> None:
    assert convert(CHAT, chat(u("q"), think=True)).expose_thinking
    assert convert(CHAT, chat(u("q"), think="high")).expose_thinking
    assert not convert(CHAT, chat(u("q"), think=False)).expose_thinking
    assert "think" not in convert(CHAT, chat(u("q"), think=True)).params
