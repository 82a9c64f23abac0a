"""OpenAI Chat Completions answers read back into brb's internal (Anthropic) form.

Owns the answer direction for providers of kind ``openai``: a
``chat.completion`` becomes an Anthropic Message dict, and a stream of
``chat.completion.chunk`` objects becomes Anthropic stream events
(``message_start``, ``content_block_*``, ``message_delta``, ``message_stop``),
so the cloud leg and the client renderers never know which provider answered.
Content -> text blocks (in JSON mode, the input of the JSON tool);
``tool_calls`` -> ``tool_use`` blocks (arguments streamed as
``input_json_delta``); reasoning (``reasoning_content`` as DeepSeek and vLLM
send it, ``reasoning`` as OpenRouter and Ollama do) -> thinking blocks;
``finish_reason`` -> ``stop_reason``; ``usage`` (with
``prompt_tokens_details.cached_tokens``, priced as cache reads) -> Anthropic
usage, which arrives in a stream only in the last chunk (``stream_options:
{"include_usage": true}``).
Must not do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from brb.errors import ProviderError

from .reply import tool_input
from .request import JSON

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def anthropic_usage(usage: Any) -> JSON:
    """Chat Completions usage as Anthropic's (cached prompt tokens as cache reads)."""
    if not isinstance(usage, dict):
        return {}
    prompt = int(usage.get("prompt_tokens") or 0)
    details = usage.get("prompt_tokens_details")
    cached = int((details or {}).get("cached_tokens") or 0) if isinstance(details, dict) else 0
    cached = min(cached, prompt)
    return {
        "input_tokens": prompt - cached,
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def _reasoning(message: JSON) -> str:
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def completion_to_message(completion: JSON, *, json_tool: str | None) -> JSON:
    """A whole ``chat.completion`` as an Anthropic Message dict."""
    choices = completion.get("choices") or []
    if not choices:
        raise ProviderError("the provider answered with no choices", retryable=True)
    choice = choices[0]
    message = choice.get("message") or {}
    content: list[JSON] = []
    thinking = _reasoning(message)
    if thinking:
        content.append({"type": "thinking", "thinking": thinking, "signature": ""})
    text = message.get("content") or ""
    if json_tool is not None:
        content.append(
            {"type": "tool_use", "id": "call_json", "name": json_tool, "input": tool_input(text)}
        )
    elif text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": str(call.get("id", "")),
                "name": str(function.get("name", "")),
                "input": tool_input(str(function.get("arguments") or "")),
            }
        )
    stop = _STOP_REASONS.get(str(choice.get("finish_reason")), "end_turn")
    if json_tool is not None and stop == "tool_use":
        stop = "end_turn"
    return {
        "id": "msg_" + str(completion.get("id", "")),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model", ""),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": anthropic_usage(completion.get("usage")),
    }


@dataclass(slots=True)
class _Open:
    index: int  # the Anthropic block index
    kind: str  # text | thinking | tool_use
    key: int = -1  # the OpenAI tool-call index, for tool_use


@dataclass(slots=True)
class ChunkReader:
    """Chat Completions chunks -> Anthropic stream events; one per streamed request."""

    json_tool: str | None = None
    _started: bool = False
    _next_index: int = 0
    _open: _Open | None = None
    _tool_blocks: dict[int, int] = field(default_factory=dict)  # OpenAI index -> block index
    _finish: str | None = None
    _usage: JSON = field(default_factory=dict)
    _model: str = ""

    @property
    def is_finished(self) -> bool:
        return self._finish is not None

    def feed(self, chunk: JSON) -> list[JSON]:
        """One chunk (parsed) -> zero or more Anthropic events."""
        events: list[JSON] = []
        if not self._started:
            self._started = True
            self._model = str(chunk.get("model", ""))
            events.append(
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_" + str(chunk.get("id", "")),
                        "type": "message",
                        "role": "assistant",
                        "model": self._model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 0, "output_tokens": 0},
                    },
                }
            )
        if isinstance(chunk.get("usage"), dict):
            self._usage = anthropic_usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            thinking = _reasoning(delta)
            if thinking:
                events += self._piece("thinking", {"type": "thinking_delta", "thinking": thinking})
            text = delta.get("content")
            if isinstance(text, str) and text:
                if self.json_tool is not None:
                    events += self._piece(
                        "tool_use", {"type": "input_json_delta", "partial_json": text}, key=-2
                    )
                else:
                    events += self._piece("text", {"type": "text_delta", "text": text})
            for call in delta.get("tool_calls") or []:
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self._finish = str(choice["finish_reason"])
        return events

    def finish(self) -> list[JSON]:
        """The closing events, once the provider's stream has ended."""
        if not self._started or self._finish is None:
            raise ProviderError("the provider's stream ended before its answer did", retryable=True)
        events = self._close()
        stop = _STOP_REASONS.get(self._finish, "end_turn")
        if self.json_tool is not None and stop == "tool_use":
            stop = "end_turn"
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": self._usage or {"output_tokens": 0},
            }
        )
        events.append({"type": "message_stop"})
        return events

    def _close(self) -> list[JSON]:
        if self._open is None:
            return []
        index = self._open.index
        self._open = None
        return [{"type": "content_block_stop", "index": index}]

    def _start(self, kind: str, block: JSON, key: int = -1) -> list[JSON]:
        events = self._close()
        self._open = _Open(self._next_index, kind, key)
        self._next_index += 1
        events.append(
            {"type": "content_block_start", "index": self._open.index, "content_block": block}
        )
        return events

    def _piece(self, kind: str, delta: JSON, key: int = -1) -> list[JSON]:
        events: list[JSON] = []
        if self._open is None or self._open.kind != kind or self._open.key != key:
            if kind == "text":
                block: JSON = {"type": "text", "text": ""}
            elif kind == "thinking":
                block = {"type": "thinking", "thinking": "", "signature": ""}
            else:  # JSON mode's tool
                block = {"type": "tool_use", "id": "call_json", "name": self.json_tool, "input": {}}
            events += self._start(kind, block, key)
        assert self._open is not None
        events.append({"type": "content_block_delta", "index": self._open.index, "delta": delta})
        return events

    def _tool_call(self, call: JSON) -> list[JSON]:
        key = int(call.get("index", 0))
        function = call.get("function") or {}
        events: list[JSON] = []
        if key not in self._tool_blocks:
            block = {
                "type": "tool_use",
                "id": str(call.get("id", "")),
                "name": str(function.get("name", "")),
                "input": {},
            }
            events += self._start("tool_use", block, key)
            assert self._open is not None
            self._tool_blocks[key] = self._open.index
        elif self._open is None or self._open.key != key:
            # Arguments for an earlier call after another block started: not a shape
            # Chat Completions streams produce; refuse rather than misattribute.
            raise ProviderError("the provider interleaved tool calls", retryable=False)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            events.append(
                {
                    "type": "content_block_delta",
                    "index": self._tool_blocks[key],
                    "delta": {"type": "input_json_delta", "partial_json": arguments},
                }
            )
        return events
