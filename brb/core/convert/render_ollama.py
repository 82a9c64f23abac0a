"""Anthropic replies rendered as Ollama ``/api/chat`` and ``/api/generate`` answers.

Owns the Ollama answer shapes (ollama/ollama docs/api.md, ollama-python
``ChatResponse`` / ``GenerateResponse``): ``model`` (the name the client
asked for), ``created_at``, ``message`` {role, content, thinking?,
tool_calls?} for chat or ``response`` (+ ``thinking``) for generate, ``done``,
``done_reason`` and the final statistics; NDJSON stream frames (one JSON
object and a newline each, the final one ``done: true``); the in-stream
error line ``{"error": "..."}``. Tool calls go out whole, arguments as an
object, in one frame when their block ends (Ollama streams them that way).
Thinking is shown only when the client asked for it (``think``).
Must not read Anthropic events (streaming.py does).
"""

from __future__ import annotations

from datetime import datetime

from .reply import (
    Reply,
    ToolCall,
    Usage,
    compact_json,
    ollama_done_reason,
    ollama_timings,
    rfc3339,
)
from .request import JSON, CloudRequest, Endpoint


def render_ollama(
    endpoint: Endpoint, reply: Reply, req: CloudRequest, *, now: datetime, elapsed_ns: int
) -> JSON:
    """The whole non-stream answer. Without a first-token time, all of it counts as eval."""
    body = _frame(endpoint, req, now, text=reply.text, thinking=reply.thinking)
    if endpoint == Endpoint.OLLAMA_CHAT and reply.tool_calls:
        body["message"]["tool_calls"] = [_tool_call(call) for call in reply.tool_calls]
    body["done_reason"] = ollama_done_reason(reply.stop_reason)
    body["done"] = True
    body.update(ollama_timings(reply.usage, total_ns=elapsed_ns, prompt_eval_ns=0))
    return body


class OllamaFrames:
    """NDJSON frames for one streamed answer."""

    def __init__(self, endpoint: Endpoint, req: CloudRequest) -> None:
        self._endpoint = endpoint
        self._req = req

    def start(self, message_id: str, now: datetime) -> list[bytes]:
        return []

    def text(self, piece: str, now: datetime) -> list[bytes]:
        return [_line(_frame(self._endpoint, self._req, now, text=piece, done=False))]

    def thinking(self, piece: str, now: datetime) -> list[bytes]:
        if not self._req.expose_thinking:
            return []
        return [_line(_frame(self._endpoint, self._req, now, thinking=piece, done=False))]

    def tool_start(self, index: int, call_id: str, name: str, now: datetime) -> list[bytes]:
        return []

    def tool_delta(self, index: int, partial_json: str, now: datetime) -> list[bytes]:
        return []

    def tool_end(self, index: int, call: ToolCall, now: datetime) -> list[bytes]:
        if self._endpoint != Endpoint.OLLAMA_CHAT:
            return []
        frame = _frame(self._endpoint, self._req, now, done=False)
        frame["message"]["tool_calls"] = [_tool_call(call)]
        return [_line(frame)]

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
        frame = _frame(self._endpoint, self._req, now)
        frame["done"] = True
        frame["done_reason"] = ollama_done_reason(stop_reason)
        frame.update(ollama_timings(usage, total_ns=total_ns, prompt_eval_ns=prompt_eval_ns))
        return [_line(frame)]

    def error_frame(self, message: str) -> bytes:
        return _line({"error": message})


def _frame(
    endpoint: Endpoint,
    req: CloudRequest,
    now: datetime,
    *,
    text: str = "",
    thinking: str = "",
    done: bool | None = None,
) -> JSON:
    frame: JSON = {"model": req.local_model, "created_at": rfc3339(now)}
    show_thinking = bool(thinking) and req.expose_thinking
    if endpoint == Endpoint.OLLAMA_CHAT:
        message: JSON = {"role": "assistant", "content": text}
        if show_thinking:
            message["thinking"] = thinking
        frame["message"] = message
    else:
        frame["response"] = text
        if show_thinking:
            frame["thinking"] = thinking
    if done is not None:
        frame["done"] = done
    return frame


def _tool_call(call: ToolCall) -> JSON:
    return {"function": {"name": call.name, "arguments": call.arguments}}


def _line(obj: JSON) -> bytes:
    return compact_json(obj) + b"\n"
