"""Anthropic replies rendered as OpenAI ``chat.completion`` and ``chat.completion.chunk``.

Owns the OpenAI answer shapes (openai-python ``types/chat/chat_completion*.py``):
``id`` "chatcmpl-...", ``object``, ``created`` (epoch seconds), ``model`` (the
name the client asked for), ``choices[0]`` with ``message`` or ``delta`` and
``finish_reason`` (stop / length / tool_calls / content_filter), ``usage``
{prompt_tokens, completion_tokens, total_tokens}; the SSE stream: a first
chunk with the role, content and tool-call deltas (arguments streamed as JSON
string pieces), a final chunk with ``finish_reason``, a usage chunk with
empty ``choices`` when ``stream_options.include_usage`` was asked, then
``data: [DONE]``; an in-stream error as ``data: {"error": {...}}``, which
the OpenAI SDK raises as an APIError. Thinking is not shown: chat
completions have no field for it.
Must not read Anthropic events (streaming.py does).
"""

from __future__ import annotations

import json
from datetime import datetime

from .reply import (
    Reply,
    ToolCall,
    Usage,
    compact_json,
    epoch_seconds,
    openai_completion_id,
    openai_finish_reason,
)
from .request import JSON, CloudRequest

DONE_FRAME = b"data: [DONE]\n\n"


def render_openai(reply: Reply, req: CloudRequest, *, now: datetime) -> JSON:
    """The whole non-stream ``chat.completion``."""
    message: JSON = {
        "role": "assistant",
        "content": reply.text if reply.text or not reply.tool_calls else None,
        "refusal": None,
    }
    if reply.tool_calls:
        message["tool_calls"] = [_tool_call(call) for call in reply.tool_calls]
    finish = openai_finish_reason(reply.stop_reason, has_tool_calls=bool(reply.tool_calls))
    return {
        "id": openai_completion_id(reply.message_id),
        "object": "chat.completion",
        "created": epoch_seconds(now),
        "model": req.local_model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(reply.usage),
    }


class OpenAIFrames:
    """SSE frames for one streamed answer."""

    def __init__(self, req: CloudRequest, *, now: datetime) -> None:
        self._req = req
        self._id = openai_completion_id("")
        self._created = epoch_seconds(now)

    def start(self, message_id: str, now: datetime) -> list[bytes]:
        self._id = openai_completion_id(message_id)
        return [self._chunk({"role": "assistant", "content": ""})]

    def text(self, piece: str, now: datetime) -> list[bytes]:
        return [self._chunk({"content": piece})]

    def thinking(self, piece: str, now: datetime) -> list[bytes]:
        return []

    def tool_start(self, index: int, call_id: str, name: str, now: datetime) -> list[bytes]:
        call = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        return [self._chunk({"tool_calls": [call]})]

    def tool_delta(self, index: int, partial_json: str, now: datetime) -> list[bytes]:
        return [
            self._chunk({"tool_calls": [{"index": index, "function": {"arguments": partial_json}}]})
        ]

    def tool_end(self, index: int, call: ToolCall, now: datetime) -> list[bytes]:
        return []

    def finish(
        self,
        stop_reason: str | None,
        usage: Usage,
        *,
        has_tool_calls: bool,
        total_ns: int,
        prompt_eval_ns: int,
        now: datetime,
    ) -> list[bytes]:
        finish = openai_finish_reason(stop_reason, has_tool_calls=has_tool_calls)
        frames = [self._chunk({}, finish_reason=finish)]
        if self._req.include_usage:
            usage_chunk = self._envelope([])
            usage_chunk["usage"] = _usage(usage)
            frames.append(_sse(usage_chunk))
        frames.append(DONE_FRAME)
        return frames

    def error_frame(self, message: str) -> bytes:
        error = {"message": message, "type": "api_error", "param": None, "code": None}
        return _sse({"error": error})

    def _chunk(self, delta: JSON, *, finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return _sse(self._envelope([choice]))

    def _envelope(self, choices: list[JSON]) -> JSON:
        chunk: JSON = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._req.local_model,
            "choices": choices,
        }
        if self._req.include_usage:
            chunk["usage"] = None
        return chunk


def _tool_call(call: ToolCall) -> JSON:
    return {
        "id": call.id,
        "type": "function",
        "function": {
            "name": call.name,
            "arguments": json.dumps(call.arguments, ensure_ascii=False),
        },
    }


def _usage(usage: Usage) -> JSON:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.prompt_tokens + usage.output_tokens,
    }


def _sse(obj: JSON) -> bytes:
    return b"data: " + compact_json(obj) + b"\n\n"
