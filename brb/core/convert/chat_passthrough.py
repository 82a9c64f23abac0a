"""OpenAI Chat Completions bodies passed to an OpenAI-compatible provider with minimal change.

Owns what brb changes in a ``/v1/chat/completions`` body sent to a provider
of kind ``openai``: the model (the provider's), ``stream`` and
``stream_options`` (brb always streams from a provider and asks for the
usage), the output cap (the one the budget reserved for), and nothing else:
the client's other fields (sampling, tools, ``response_format``,
``logprobs``, ``seed``...) reach the provider as sent.
And the answer back: each chunk is relayed as it came, except the usage-only
chunk a client that didn't ask for it never sees; a client that asked for a
whole answer gets the ``chat.completion`` the chunks add up to
(:class:`CompletionAssembler`). Must not do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .request import JSON

_BRB_OWNED = frozenset({"model", "stream", "stream_options"})


def chat_passthrough(body: JSON, cloud_model: str, *, max_tokens: int) -> JSON:
    """The client's Chat Completions body for the provider (see the module docstring).

    ``max_tokens`` is what the budget reserved for: it replaces the client's cap
    (under the client's own key, ``max_tokens`` or ``max_completion_tokens``) so
    the answer can never cost more than the reservation."""
    out = {"model": cloud_model, **{k: v for k, v in body.items() if k not in _BRB_OWNED}}
    key = "max_tokens" if "max_tokens" in body and "max_completion_tokens" not in body else None
    out[key or "max_completion_tokens"] = max_tokens
    return out


def chunk_has_content(chunk: JSON) -> bool:
    """Does this chunk carry real content (text, reasoning, a tool call, a refusal)?"""
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        for key in ("content", "reasoning_content", "reasoning", "refusal"):
            if isinstance(delta.get(key), str) and delta[key]:
                return True
        if delta.get("tool_calls"):
            return True
    return False


def is_usage_only(chunk: JSON) -> bool:
    return not chunk.get("choices") and isinstance(chunk.get("usage"), dict)


@dataclass(slots=True)
class _Choice:
    content: list[str] = field(default_factory=list)
    reasoning: dict[str, list[str]] = field(default_factory=dict)
    refusal: list[str] = field(default_factory=list)
    tool_calls: dict[int, JSON] = field(default_factory=dict)
    finish_reason: str | None = None
    logprobs: Any = None


@dataclass(slots=True)
class CompletionAssembler:
    """Chat Completions chunks -> the whole ``chat.completion`` they describe."""

    envelope: JSON = field(default_factory=dict)
    usage: JSON | None = None
    _choices: dict[int, _Choice] = field(default_factory=dict)

    def feed(self, chunk: JSON) -> None:
        if not self.envelope:
            self.envelope = {k: chunk.get(k) for k in ("id", "created", "model")}
            if chunk.get("system_fingerprint") is not None:
                self.envelope["system_fingerprint"] = chunk["system_fingerprint"]
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for raw in chunk.get("choices") or []:
            choice = self._choices.setdefault(int(raw.get("index", 0)), _Choice())
            delta = raw.get("delta") or {}
            if isinstance(delta.get("content"), str):
                choice.content.append(delta["content"])
            if isinstance(delta.get("refusal"), str):
                choice.refusal.append(delta["refusal"])
            for key in ("reasoning_content", "reasoning"):
                if isinstance(delta.get(key), str):
                    choice.reasoning.setdefault(key, []).append(delta[key])
            for call in delta.get("tool_calls") or []:
                self._tool_call(choice, call)
            if raw.get("finish_reason"):
                choice.finish_reason = raw["finish_reason"]
            if raw.get("logprobs") is not None:
                choice.logprobs = raw["logprobs"]

    @staticmethod
    def _tool_call(choice: _Choice, call: JSON) -> None:
        key = int(call.get("index", 0))
        function = call.get("function") or {}
        whole = choice.tool_calls.setdefault(
            key, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if call.get("id"):
            whole["id"] = call["id"]
        if function.get("name"):
            whole["function"]["name"] += function["name"]
        if isinstance(function.get("arguments"), str):
            whole["function"]["arguments"] += function["arguments"]

    def result(self) -> JSON:
        choices = []
        for index in sorted(self._choices):
            c = self._choices[index]
            message: JSON = {
                "role": "assistant",
                "content": "".join(c.content) if c.content or not c.tool_calls else None,
                "refusal": "".join(c.refusal) if c.refusal else None,
            }
            for key, pieces in c.reasoning.items():
                message[key] = "".join(pieces)
            if c.tool_calls:
                message["tool_calls"] = [c.tool_calls[k] for k in sorted(c.tool_calls)]
            choices.append(
                {"index": index, "message": message, "logprobs": c.logprobs,
                 "finish_reason": c.finish_reason}
            )  # fmt: skip
        out: JSON = {**self.envelope, "object": "chat.completion", "choices": choices}
        if self.usage is not None:
            out["usage"] = self.usage
        return out
