"""brb.sim.anthropic_rules and anthropic_reply: the fake API's rules and plans, table-tested."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from brb.sim.anthropic_reply import count_input_tokens, plan_reply, sample_input, tokens_of
from brb.sim.anthropic_rules import AnthropicRules, ApiError, check_headers, validate_body

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 16).decode()
WEBP = base64.b64encode(b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 8).decode()
USER = {"role": "user", "content": "hi"}
TOOL = {"name": "t", "input_schema": {"type": "object"}}


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [USER]}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def image(media_type: str, data: str) -> dict[str, Any]:
    block = {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"role": "user", "content": [block, {"type": "text", "text": "what is it?"}]}


def turn(role: str, *blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": role, "content": list(blocks)}


USE_A = {"type": "tool_use", "id": "a", "name": "t", "input": {}}
USE_B = {"type": "tool_use", "id": "b", "name": "t", "input": {}}
RESULT_A = {"type": "tool_result", "tool_use_id": "a", "content": "1"}
RESULT_B = {"type": "tool_result", "tool_use_id": "b", "content": "2"}

ACCEPTED = [
    body(),
    body(system="Be brief."),
    body(system=[{"type": "text", "text": "Be brief."}]),
    body(messages=[USER, {"role": "assistant", "content": "Sure,"}], model="claude-sonnet-4-5"),
    body(messages=[USER, {"role": "assistant", "content": ""}], model="claude-sonnet-4-5"),
    body(messages=[USER, USER]),  # consecutive same-role turns are merged by the API
    body(stop_sequences=["END", "\n\nHuman:"]),
    body(temperature=0.0, model="claude-opus-4-5"),
    body(temperature=1, model="claude-opus-4-5"),
    body(messages=[image("image/png", PNG)]),
    body(messages=[image("image/jpeg", JPEG)]),
    body(messages=[image("image/webp", WEBP)]),
    body(
        tools=[TOOL],
        messages=[USER, turn("assistant", USE_A, USE_B), turn("user", RESULT_A, RESULT_B)],
    ),
    body(tools=[TOOL], tool_choice={"type": "tool", "name": "t"}),
    body(thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=2048),
    body(stream=True, metadata={"user_id": "u"}),
]

REFUSED = [
    ("missing model", body(model=None), "model: Field required"),
    ("missing max_tokens", body(max_tokens=None), "max_tokens: Field required"),
    ("zero max_tokens", body(max_tokens=0), "greater than or equal to 1"),
    ("bool max_tokens", body(max_tokens=True), "valid integer"),
    ("missing messages", body(messages=None), "messages: Field required"),
    ("no messages", body(messages=[]), "at least one message"),
    ("system role", body(messages=[{"role": "system", "content": "x"}]), "'user' or 'assistant'"),
    ("empty user", body(messages=[{"role": "user", "content": ""}]), "non-empty content except"),
    ("empty list", body(messages=[{"role": "user", "content": []}, USER]), "non-empty content"),
    (
        "empty middle assistant",
        body(messages=[USER, {"role": "assistant", "content": ""}, USER]),
        "non-empty content",
    ),
    ("empty text block", body(messages=[turn("user", {"type": "text", "text": ""})]), "non-empty"),
    ("options leaked", body(options={"num_ctx": 4096}), "options: Extra inputs are not permitted"),
    ("format leaked", body(format="json"), "format: Extra inputs are not permitted"),
    ("system list of str", body(system=["x"]), "system.0.type"),
    ("whitespace stop", body(stop_sequences=["\n\n"]), "must contain non-whitespace"),
    ("hot", body(temperature=1.5, model="claude-opus-4-5"), "less than or equal to 1"),
    ("cold", body(temperature=-0.1, model="claude-opus-4-5"), "greater than or equal to 0"),
    (
        "no prefill",
        body(model="claude-opus-4-6", messages=[USER, {"role": "assistant", "content": "Sure"}]),
        "does not support assistant message prefill",
    ),
    (
        "prefill trailing space",
        body(model="claude-sonnet-4-5", messages=[USER, {"role": "assistant", "content": "Sure "}]),
        "trailing whitespace",
    ),
    (
        "tool result missing",
        body(
            tools=[TOOL], messages=[USER, turn("assistant", USE_A, USE_B), turn("user", RESULT_A)]
        ),
        "without `tool_result` blocks immediately after: b",
    ),
    (
        "tool result late",
        body(
            tools=[TOOL],
            messages=[USER, turn("assistant", USE_A), USER, turn("user", RESULT_A)],
        ),
        "without `tool_result` blocks immediately after: a",
    ),
    (
        "tool result unknown",
        body(messages=[USER, {"role": "assistant", "content": "ok"}, turn("user", RESULT_A)]),
        "unexpected `tool_use_id`",
    ),
    ("png as jpeg", body(messages=[image("image/jpeg", PNG)]), "Image does not match"),
    ("jpeg as webp", body(messages=[image("image/webp", JPEG)]), "Image does not match"),
    ("bmp", body(messages=[image("image/bmp", PNG)]), "media_type"),
    ("bad base64", body(messages=[image("image/png", "@@@")]), "Invalid base64"),
    ("unknown block", body(messages=[turn("user", {"type": "video"})]), "Input tag 'video'"),
    ("choice without tools", body(tool_choice={"type": "auto"}), "only be specified while"),
    ("choice unknown tool", body(tools=[TOOL], tool_choice={"type": "tool", "name": "u"}), "'u'"),
    (
        "thinking forced tool",
        body(
            tools=[TOOL],
            tool_choice={"type": "any"},
            thinking={"type": "enabled", "budget_tokens": 1024},
            max_tokens=2048,
        ),
        "Thinking may not be enabled",
    ),
    (
        "budget over max",
        body(thinking={"type": "enabled", "budget_tokens": 4096}, max_tokens=2048),
        "must be greater than `thinking.budget_tokens`",
    ),
    (
        "4.5 temperature and top_p",
        body(model="claude-haiku-4-5-20251001", temperature=0.5, top_p=0.9),
        "cannot both be specified",
    ),
    ("5.x sampling", body(model="claude-sonnet-5-5", temperature=0.2), "non-default"),
    ("not an object", [1, 2], "valid dictionary"),
]


@pytest.mark.parametrize("request_body", ACCEPTED)
def test_accepted(request_body: dict[str, Any]) -> None:
    assert validate_body(request_body) is None


@pytest.mark.parametrize(("case", "request_body", "message"), REFUSED, ids=[c[0] for c in REFUSED])
def test_refused(case: str, request_body: object, message: str) -> None:
    error = validate_body(request_body)
    assert error is not None, case
    assert (error.status, error.type) == (400, "invalid_request_error")
    assert message in error.message


def test_sampling_keys_are_unknown_from_api_version_2026_10_21() -> None:
    sampled = body(temperature=0.5, model="claude-opus-4-5")
    assert validate_body(sampled, api_version="2023-06-01") is None
    error = validate_body(sampled, api_version="2026-10-21")
    assert error is not None and error.message == "temperature: Extra inputs are not permitted"
    assert (
        validate_body(
            sampled, api_version="2026-10-21", rules=AnthropicRules(sampling_removed_since=None)
        )
        is None
    )


def test_rules_are_configurable() -> None:
    prefill = body(model="my-model", messages=[USER, {"role": "assistant", "content": "So"}])
    assert validate_body(prefill) is None
    assert validate_body(prefill, rules=AnthropicRules(no_prefill_models=("my-model",))) is not None


def test_count_tokens_refuses_max_tokens_and_needs_no_max_tokens() -> None:
    assert validate_body(body(max_tokens=None), is_count_tokens=True) is None
    error = validate_body(body(), is_count_tokens=True)
    assert error is not None and error.message == "max_tokens: Extra inputs are not permitted"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-api-key": "k", "anthropic-version": "2023-06-01"}, None),
        ({"authorization": "Bearer k", "anthropic-version": "2026-10-21"}, None),
        (
            {"anthropic-version": "2023-06-01"},
            ApiError(401, "authentication_error", "x-api-key header is required"),
        ),
        (
            {"x-api-key": "other", "anthropic-version": "v"},
            ApiError(401, "authentication_error", "invalid x-api-key"),
        ),
        (
            {"authorization": "Bearer other", "anthropic-version": "v"},
            ApiError(401, "authentication_error", "invalid x-api-key"),
        ),
        (
            {"x-api-key": "k"},
            ApiError(400, "invalid_request_error", "anthropic-version: header is required"),
        ),
    ],
)
def test_check_headers(headers: dict[str, str], expected: ApiError | None) -> None:
    assert check_headers(headers, "k") == expected


def test_any_key_is_accepted_when_none_is_expected() -> None:
    assert check_headers({"x-api-key": "whatever", "anthropic-version": "v"}, None) is None


def test_error_body_shape() -> None:
    error = ApiError(529, "overloaded_error", "Overloaded")
    assert error.body() == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


@pytest.mark.parametrize("text", ["", "one", "Hello from  the fake.", " lead", "trail \n"])
def test_tokens_join_back_to_the_text(text: str) -> None:
    assert "".join(tokens_of(text)) == text


def test_sample_input_fills_required_properties() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["c", "f"]},
            "where": {
                "type": "object",
                "properties": {"lat": {"type": "number"}},
                "required": ["lat"],
            },
            "optional": {"type": "string"},
        },
        "required": ["city", "unit", "where"],
    }
    assert sample_input(schema) == {"city": "x", "unit": "c", "where": {"lat": 0}}


def test_input_tokens_grow_with_the_prompt_and_are_deterministic() -> None:
    short = count_input_tokens(body())
    longer = count_input_tokens(body(messages=[{"role": "user", "content": "x" * 400}]))
    assert longer - short == 100 - 1  # 400 chars vs 2 chars, a token per 4 characters
    assert count_input_tokens(body()) == short


def test_plan_counts_thinking_towards_max_tokens() -> None:
    plan = plan_reply(body(max_tokens=5), reply_text="a b c d e f", tool_id="t1", thinking=True)
    kinds = [b.kind for b in plan.blocks]
    assert kinds == ["thinking", "text"] and plan.stop_reason == "max_tokens"
    assert plan.output_tokens == 5
