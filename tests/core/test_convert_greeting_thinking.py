"""Point 7 of issue 11: what chat UIs and SDKs send, carried faithfully.

A conversation opening with an assistant greeting ([system, assistant, user]) is
diverted, its greeting carried in the system prompt; Ollama's ``think`` asks the
model for its reasoning where the model has it, and the reasoning comes back as
``message.thinking``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from brb.core.capabilities import UNKNOWN_MODEL, capabilities_for, openai_capabilities
from brb.core.convert import CloudRequest, Endpoint, render_message, to_cloud
from brb.core.convert.messages import GREETING_PREFIX
from brb.core.convert.to_cloud import THINKING_BUDGET_TOKENS
from brb.core.convert.to_openai import to_chat_completions
from brb.errors import ConversionError

NOW = datetime(2026, 11, 29, tzinfo=UTC)
GREETING = "Hi! I'm the support bot. What can I do for you?"
CHAT_UI = [
    {"role": "system", "content": "You are a support bot."},
    {"role": "assistant", "content": GREETING},
    {"role": "user", "content": "My order is late."},
]


def convert(
    body: dict[str, Any], model: str = "claude-sonnet-4-5", caps: Any = None
) -> CloudRequest:
    return to_cloud(
        Endpoint.OLLAMA_CHAT,
        {"model": "llama3", "stream": False, **body},
        cloud_model=model,
        default_max_tokens=500,
        max_input_tokens=None,
        caps=caps or capabilities_for(model),
    )


def test_the_greeting_moves_into_the_system_prompt_and_the_messages_start_with_the_user() -> None:
    req = convert({"messages": CHAT_UI})
    assert req.params["system"] == f"You are a support bot.\n\n{GREETING_PREFIX}{GREETING}"
    assert req.params["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "My order is late."}]}
    ]


def test_openai_clients_greeting_reaches_an_openai_provider_too() -> None:
    req = to_cloud(
        Endpoint.OPENAI_CHAT,
        {"model": "llama3", "messages": CHAT_UI},
        cloud_model="gpt-4o-mini",
        default_max_tokens=500,
        max_input_tokens=None,
        caps=openai_capabilities("gpt-4o-mini"),
    )
    chat = to_chat_completions(req.params, openai_capabilities("gpt-4o-mini")).params
    assert [m["role"] for m in chat["messages"]] == ["system", "user"]
    assert GREETING in chat["messages"][0]["content"]


def test_a_leading_assistant_turn_with_tool_calls_is_not_a_greeting() -> None:
    call = {"function": {"name": "f", "arguments": {}}}
    body = {
        "messages": [{"role": "assistant", "content": "", "tool_calls": [call]}, CHAT_UI[2]],
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        ],
    }
    with pytest.raises(ConversionError):
        convert(body)


def test_think_asks_for_thinking_on_top_of_the_answers_budget() -> None:
    req = convert({"messages": CHAT_UI[2:], "think": True, "options": {"temperature": 0.2}})
    assert req.params["thinking"] == {"type": "enabled", "budget_tokens": THINKING_BUDGET_TOKENS}
    assert req.params["max_tokens"] == 500 + THINKING_BUDGET_TOKENS
    assert "temperature" not in req.params


@pytest.mark.parametrize(
    "body",
    [
        {"messages": CHAT_UI[2:]},  # not asked
        {"messages": CHAT_UI[2:], "think": False},
        {"messages": CHAT_UI[2:], "think": True, "format": "json"},  # a forced tool excludes it
    ],
)
def test_no_thinking_unless_asked_and_possible(body: dict[str, Any]) -> None:
    assert "thinking" not in convert(body).params


def test_a_model_without_a_reasoning_option_gets_none() -> None:
    req = convert({"messages": CHAT_UI[2:], "think": True}, "claude-next", UNKNOWN_MODEL)
    assert "thinking" not in req.params


def test_the_thinking_comes_back_as_message_thinking() -> None:
    req = convert({"messages": CHAT_UI[2:], "think": True})
    message = {
        "id": "msg_1",
        "content": [
            {"type": "thinking", "thinking": "The order id is missing.", "signature": "s"},
            {"type": "text", "text": "Which order?"},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 5, "output_tokens": 9},
    }
    body = render_message(Endpoint.OLLAMA_CHAT, message, req, now=NOW, elapsed_ns=1)
    assert body["message"]["thinking"] == "The order id is missing."
    assert body["message"]["content"] == "Which order?"
