"""What the simulated Anthropic API answers to a valid request: one plan, two wire forms.

Owns: the deterministic input-token count, the prompt-cache split (the prefix up
to the last ``cache_control`` breakpoint, in the API's tools -> system -> messages
order, is written to the cache the first time and read from it after; its
``ttl`` says whether the write is a 5-minute or a 1-hour one; unlike the real API
there is no minimum cacheable length), the reply plan (optional thinking block,
then a text block or a forced tool_use block; max_tokens and stop_sequences applied),
the non-streaming Message JSON and the streaming event sequence (message_start,
content_block_start, ping, content_block_delta, content_block_stop, message_delta,
message_stop) built from that plan.

Must not: validate (see `brb.sim.anthropic_rules`), do I/O or read the clock.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

JSON = dict[str, Any]

# A fixed cost per request and per message, like the role markers a real tokenizer adds.
REQUEST_OVERHEAD_TOKENS = 3
MESSAGE_OVERHEAD_TOKENS = 4
IMAGE_TOKENS = 100
THINKING_TEXT = "Considering the request."
THINKING_SIGNATURE = "c2ltdWxhdGVkLXNpZ25hdHVyZQ=="

BlockKind = Literal["text", "tool_use", "thinking"]


@dataclass(frozen=True, slots=True)
class Block:
    """One content block; `pieces` are its deltas (text, thinking or partial JSON)."""

    kind: BlockKind
    pieces: tuple[str, ...]
    tool_id: str = ""
    tool_name: str = ""

    def as_json(self) -> JSON:
        whole = "".join(self.pieces)
        if self.kind == "text":
            return {"type": "text", "text": whole}
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": whole, "signature": THINKING_SIGNATURE}
        return {
            "type": "tool_use",
            "id": self.tool_id,
            "name": self.tool_name,
            "input": json.loads(whole),
        }


@dataclass(frozen=True, slots=True)
class CacheSplit:
    """How a prompt's tokens are billed: uncached, read from the cache, written to it."""

    input_tokens: int
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    blocks: tuple[Block, ...]
    stop_reason: str
    stop_sequence: str | None
    input_tokens: int
    output_tokens: int
    cache: CacheSplit | None = None

    @property
    def split(self) -> CacheSplit:
        return self.cache if self.cache is not None else CacheSplit(self.input_tokens)


def tokens_of(text: str) -> list[str]:
    """Word-ish tokens, each with its leading whitespace; joined they give `text` back."""
    found = re.findall(r"\s*\S+", text)
    return found if "".join(found) == text else [*found, text[len("".join(found)) :]]


def _text_chars(value: object) -> tuple[int, int]:
    """(characters of text, images) anywhere inside a content value."""
    if isinstance(value, str):
        return len(value), 0
    if isinstance(value, list):
        chars = images = 0
        for item in value:
            c, i = _text_chars(item)
            chars, images = chars + c, images + i
        return chars, images
    if isinstance(value, dict):
        if value.get("type") == "image":
            return 0, 1
        if value.get("type") == "tool_use":
            return len(json.dumps(value.get("input", {}))) + len(str(value.get("name", ""))), 0
        chars = images = 0
        for key in ("text", "content", "thinking"):
            c, i = _text_chars(value.get(key))
            chars, images = chars + c, images + i
        return chars, images
    return 0, 0


def count_input_tokens(body: JSON) -> int:
    """ceil(characters / 4) over system, messages and tool definitions, plus overheads."""
    chars, images = _text_chars(body.get("system"))
    messages = body.get("messages") or []
    for message in messages:
        c, i = _text_chars(message.get("content"))
        chars, images = chars + c, images + i
    tools = body.get("tools")
    if tools:
        chars += len(json.dumps(tools, sort_keys=True))
    overhead = REQUEST_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS * len(messages)
    return math.ceil(chars / 4) + overhead + IMAGE_TOKENS * images


@dataclass(frozen=True, slots=True)
class CachePrefix:
    """The cacheable prefix of a prompt: its identity, its size and its lifetime."""

    key: str
    tokens: int
    ttl: str  # "5m" or "1h"


def cache_prefix(body: JSON) -> CachePrefix | None:
    """The prefix up to the last ``cache_control`` breakpoint (tools, then system, then
    messages); a top-level ``cache_control`` marks the whole prompt. None: no breakpoint."""
    top = body.get("cache_control")
    if isinstance(top, dict):
        prefix: JSON = {k: body[k] for k in ("tools", "system", "messages") if k in body}
        return _prefix(prefix, top)
    found: tuple[JSON, JSON] | None = None
    raw_tools = body.get("tools")
    tools: list[Any] = raw_tools if isinstance(raw_tools, list) else []
    for i, tool in enumerate(tools):
        if isinstance(tool, dict) and isinstance(tool.get("cache_control"), dict):
            found = ({"tools": tools[: i + 1]}, tool["cache_control"])
    system = body.get("system")
    if isinstance(system, list):
        for i, block in enumerate(system):
            if isinstance(block, dict) and isinstance(block.get("cache_control"), dict):
                found = ({"tools": tools, "system": system[: i + 1]}, block["cache_control"])
    raw_messages = body.get("messages")
    messages: list[Any] = raw_messages if isinstance(raw_messages, list) else []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else ():
            if isinstance(block, dict) and isinstance(block.get("cache_control"), dict):
                head = {"tools": tools, "system": system, "messages": messages[: i + 1]}
                found = (head, block["cache_control"])
    return None if found is None else _prefix(*found)


def _prefix(prefix: JSON, control: JSON) -> CachePrefix:
    ttl = "1h" if control.get("ttl") == "1h" else "5m"
    key = json.dumps(prefix, sort_keys=True, default=str)
    return CachePrefix(key, count_input_tokens(prefix), ttl)


def sample_input(schema: object) -> object:
    """A value satisfying a simple JSON schema: required properties filled, others left out."""
    if not isinstance(schema, dict):
        return {}
    kind = schema.get("type", "object")
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: sample_input(properties.get(name, {})) for name in schema.get("required", [])}
    return {"string": "x", "integer": 0, "number": 0, "boolean": False, "array": []}.get(str(kind))


def _forced_tool(body: JSON) -> JSON | None:
    choice = body.get("tool_choice")
    tools = body.get("tools") or []
    if not isinstance(choice, dict) or not tools:
        return None
    wanted = tools[:1] if choice.get("type") == "any" else []
    if choice.get("type") == "tool":
        wanted = [t for t in tools if t.get("name") == choice.get("name")]
    return dict(wanted[0]) if wanted else None


def _wants_thinking(body: JSON, always: bool) -> bool:
    thinking = body.get("thinking")
    asked = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
    return always or asked


def plan_reply(body: JSON, *, reply_text: str, tool_id: str, thinking: bool = False) -> Plan:
    """The whole answer to a valid request, before any byte is written."""
    budget = int(body.get("max_tokens", 4096))
    blocks: list[Block] = []
    used = 0
    if _wants_thinking(body, thinking) and _forced_tool(body) is None:
        pieces = tokens_of(THINKING_TEXT)
        blocks.append(Block("thinking", tuple(pieces)))
        used += len(pieces)
    tool = _forced_tool(body)
    if tool is not None:
        arguments = json.dumps(sample_input(tool.get("input_schema")))
        middle = len(arguments) // 2
        blocks.append(
            Block("tool_use", (arguments[:middle], arguments[middle:]), tool_id, tool["name"])
        )
        used += max(1, math.ceil(len(arguments) / 4))
        return Plan(tuple(blocks), "tool_use", None, count_input_tokens(body), used)
    text, stop_reason, stop_sequence = reply_text, "end_turn", None
    hits = [(text.find(s), s) for s in body.get("stop_sequences") or [] if s in text]
    if hits:
        position, stop_sequence = min(hits)
        text, stop_reason = text[:position], "stop_sequence"
    pieces = tokens_of(text)
    room = max(0, budget - used)
    if len(pieces) > room:
        pieces, stop_reason, stop_sequence = pieces[:room], "max_tokens", None
    if pieces:
        blocks.append(Block("text", tuple(pieces)))
    return Plan(
        tuple(blocks), stop_reason, stop_sequence, count_input_tokens(body), used + len(pieces)
    )


def _usage(split: CacheSplit, output_tokens: int) -> JSON:
    return {
        "input_tokens": split.input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": split.cache_write_5m_tokens + split.cache_write_1h_tokens,
        "cache_read_input_tokens": split.cache_read_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": split.cache_write_5m_tokens,
            "ephemeral_1h_input_tokens": split.cache_write_1h_tokens,
        },
    }


def message_json(plan: Plan, message_id: str, model: str) -> JSON:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [block.as_json() for block in plan.blocks],
        "stop_reason": plan.stop_reason,
        "stop_sequence": plan.stop_sequence,
        "usage": _usage(plan.split, plan.output_tokens),
    }


def _block_start(block: Block) -> JSON:
    if block.kind == "text":
        return {"type": "text", "text": ""}
    if block.kind == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    return {"type": "tool_use", "id": block.tool_id, "name": block.tool_name, "input": {}}


def _deltas(block: Block) -> list[JSON]:
    if block.kind == "text":
        return [{"type": "text_delta", "text": p} for p in block.pieces]
    if block.kind == "thinking":
        deltas = [{"type": "thinking_delta", "thinking": p} for p in block.pieces]
        return [*deltas, {"type": "signature_delta", "signature": THINKING_SIGNATURE}]
    return [{"type": "input_json_delta", "partial_json": p} for p in block.pieces]


def stream_events(plan: Plan, message_id: str, model: str) -> list[tuple[str, JSON]]:
    """The SSE events, in order, as (event name, data) pairs."""
    start = message_json(plan, message_id, model)
    start.update(content=[], stop_reason=None, stop_sequence=None)
    start["usage"] = _usage(plan.split, 1)
    events: list[tuple[str, JSON]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    for index, block in enumerate(plan.blocks):
        events.append(
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": _block_start(block),
                },
            )
        )
        if index == 0:
            events.append(("ping", {"type": "ping"}))
        for delta in _deltas(block):
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    if not plan.blocks:
        events.append(("ping", {"type": "ping"}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": plan.stop_reason, "stop_sequence": plan.stop_sequence},
                "usage": {"output_tokens": plan.output_tokens},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def sse(event: str, data: JSON) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
