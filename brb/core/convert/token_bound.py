"""A true upper bound on the input tokens of a request, without a tokenizer.

Owns the arithmetic the budget reserves against. Why it is a bound, not an
estimate: Claude's tokenizers are byte-level BPE, so every token stands for at
least one byte of UTF-8 text and a text of n bytes is at most n tokens — true
of the newer tokenizer too (Opus 4.7+ count ~30% more tokens than older
models for the same text, still well under one per byte). Structure the API
adds around content (role markers, block framing, the rendered tool schema
and tool calls) is covered by generous per-request, per-message, per-block
and per-tool constants, JSON is measured pretty-printed (more bytes than any
compact rendering), images by their padded pixel area (see images.py), and
tools add the tool-use system prompt Anthropic inserts (159-530 tokens in
the published table for Claude 3; we reserve 1000). Over-reserving costs a
little budget headroom for a moment; under-reserving could overspend.
Must not tokenize or call anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from .request import JSON, Turn

REQUEST_OVERHEAD_TOKENS = 64
MESSAGE_OVERHEAD_TOKENS = 16
BLOCK_OVERHEAD_TOKENS = 16
TOOL_OVERHEAD_TOKENS = 32
TOOL_USE_SYSTEM_PROMPT_TOKENS = 1000


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8", errors="backslashreplace"))


def json_bytes(value: object) -> int:
    return utf8_bytes(json.dumps(value, ensure_ascii=False, indent=2))


def fixed_bound(system: str | None, tools: Iterable[JSON]) -> int:
    """The part no trimming can shrink: framing, the system prompt, the tools."""
    total = REQUEST_OVERHEAD_TOKENS
    if system:
        total += MESSAGE_OVERHEAD_TOKENS + utf8_bytes(system)
    tool_list = list(tools)
    if tool_list:
        total += TOOL_USE_SYSTEM_PROMPT_TOKENS
        total += sum(TOOL_OVERHEAD_TOKENS + json_bytes(tool) for tool in tool_list)
    return total


def turn_bound(turn: Turn) -> int:
    """One message: its text bytes, its tool calls and results, its images."""
    total = MESSAGE_OVERHEAD_TOKENS + turn.image_tokens
    total += turn.image_count * BLOCK_OVERHEAD_TOKENS
    for block in turn.blocks:
        total += _block_bytes(block)
    return total


def _block_bytes(block: JSON) -> int:
    kind = block["type"]
    if kind == "text":
        return BLOCK_OVERHEAD_TOKENS + utf8_bytes(block["text"])
    if kind == "tool_use":
        return (
            BLOCK_OVERHEAD_TOKENS
            + utf8_bytes(block["id"])
            + utf8_bytes(block["name"])
            + json_bytes(block["input"])
        )
    if kind == "tool_result":
        total = BLOCK_OVERHEAD_TOKENS + utf8_bytes(block["tool_use_id"])
        content = block.get("content")
        if isinstance(content, str):
            total += utf8_bytes(content)
        elif isinstance(content, list):
            # Images inside a result are already in the turn's image_tokens.
            total += sum(_block_bytes(part) for part in content if part["type"] == "text")
        return total
    return 0  # image blocks: counted through Turn.image_tokens
