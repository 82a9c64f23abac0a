"""Reading an Anthropic reply, and the facts both client dialects render from it.

Owns: picking content blocks by type, never position (thinking may come
first; JSON mode's tool input is the text; text around a forced JSON tool is
not), usage, stop-reason mapping to Ollama ``done_reason`` and OpenAI
``finish_reason``, the Ollama timing fields, and timestamps. Stop reasons:
end_turn, max_tokens, stop_sequence, tool_use, pause_turn, refusal,
model_context_window_exceeded (anthropic-sdk-python ``types/stop_reason.py``).
Must not frame anything (the render modules do).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from brb.core.pricing import Usage
from brb.errors import ProviderError

from .request import JSON

__all__ = ["Reply", "ToolCall", "Usage", "read_message"]

_LENGTH_STOPS = frozenset({"max_tokens", "model_context_window_exceeded"})
_NATURAL_STOPS = frozenset({None, "end_turn", "stop_sequence", "tool_use", "pause_turn"})


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: JSON


@dataclass(frozen=True, slots=True)
class Reply:
    message_id: str
    text: str
    thinking: str
    tool_calls: tuple[ToolCall, ...]
    stop_reason: str | None
    usage: Usage


def read_message(message: JSON, *, json_mode: bool) -> Reply:
    """An Anthropic Message (non-stream) in the terms the renderers need."""
    text: list[str] = []
    thinking: list[str] = []
    calls: list[ToolCall] = []
    for block in message.get("content") or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and not json_mode:
            text.append(str(block.get("text", "")))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            arguments = block.get("input") if isinstance(block.get("input"), dict) else {}
            if json_mode:
                text.append(json.dumps(arguments, ensure_ascii=False))
            else:
                calls.append(ToolCall(str(block.get("id", "")), str(block.get("name")), arguments))
    return Reply(
        message_id=str(message.get("id", "")),
        text="".join(text),
        thinking="".join(thinking),
        tool_calls=tuple(calls),
        stop_reason=message.get("stop_reason"),
        usage=Usage().updated(message.get("usage")),
    )


def tool_input(text: str) -> JSON:
    """A tool call's input from the JSON text the provider streamed or sent (empty: {})."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise ProviderError(
            "the provider sent malformed tool-call arguments", retryable=False
        ) from None
    if not isinstance(value, dict):
        raise ProviderError(
            "the provider sent tool-call arguments that are not an object", retryable=False
        )
    return value


def ollama_done_reason(stop_reason: str | None) -> str:
    if stop_reason in _LENGTH_STOPS:
        return "length"
    if stop_reason in _NATURAL_STOPS:
        return "stop"
    return str(stop_reason)


def openai_finish_reason(stop_reason: str | None, *, has_tool_calls: bool) -> str:
    if stop_reason == "tool_use" and has_tool_calls:
        return "tool_calls"
    if stop_reason in _LENGTH_STOPS:
        return "length"
    if stop_reason == "refusal":
        return "content_filter"
    return "stop"


def ollama_timings(usage: Usage, *, total_ns: int, prompt_eval_ns: int) -> JSON:
    """Ollama's final-object statistics; brb loads nothing, so load_duration is 0."""
    total_ns = max(0, total_ns)
    prompt_eval_ns = min(max(0, prompt_eval_ns), total_ns)
    return {
        "total_duration": total_ns,
        "load_duration": 0,
        "prompt_eval_count": usage.prompt_tokens,
        "prompt_eval_duration": prompt_eval_ns,
        "eval_count": usage.output_tokens,
        "eval_duration": total_ns - prompt_eval_ns,
    }


def rfc3339(now: datetime) -> str:
    """UTC with a 'Z' and microseconds (``2024-07-22T20:33:28.123648Z``), as Ollama writes it."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_seconds(now: datetime) -> int:
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return int(now.timestamp())


def openai_completion_id(message_id: str) -> str:
    return "chatcmpl-" + (message_id.removeprefix("msg_") or "brb")


def compact_json(obj: JSON) -> bytes:
    """UTF-8 JSON; a lone surrogate (only JSON escapes can carry one) stays a JSON escape."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", errors="backslashreplace")
