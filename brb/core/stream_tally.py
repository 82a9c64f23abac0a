"""What a cut-off stream may have cost: the output a settlement never goes below.

Owns the rule for settling a streamed diversion that ended early. The usage
in ``message_start`` says about 1 output token, and the cumulative count
arrives only in ``message_delta`` at the end, so a stream cut short (the
client gone, a provider error after content, a shutdown) would settle at
almost nothing. The rule:

- **Seen**: every content event read from the provider is tallied in UTF-8
  bytes (text, thinking and tool-input deltas, and each block's start).
  Claude's tokenizers are byte-level BPE, so a token is at least one byte and
  the bytes seen bound the tokens produced for them (see token_bound). A
  cut-off stream settles at ``min(max_tokens, max(reported, bytes seen))``
  output tokens: it may over-count (about 4x on English text, at most the
  reservation), it never under-counts what was seen.
- **Unseen**: where the provider may have produced more than was read (a
  timeout or a connection lost after the request was sent), the output is
  taken at its worst case, ``max_tokens``: the reservation stands.

Must not do I/O or read the clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from brb.core.pricing import Usage

_DELTA_TEXT = ("text", "thinking", "partial_json", "citation")


@dataclass(frozen=True, slots=True)
class OutputTally:
    """The content bytes of a stream's events, as read from the provider."""

    content_bytes: int = 0

    def fed(self, event: dict[str, Any]) -> OutputTally:
        """This tally after one Anthropic event or OpenAI chat chunk."""
        if "choices" in event:  # an OpenAI-compatible provider's chunk
            n = sum(_chunk_bytes(c) for c in event.get("choices") or () if isinstance(c, dict))
            return replace(self, content_bytes=self.content_bytes + n)
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta")
            if not isinstance(delta, dict):
                return self
            n = sum(_utf8(delta.get(k)) for k in _DELTA_TEXT)
            return replace(self, content_bytes=self.content_bytes + n)
        if kind == "content_block_start":
            block = event.get("content_block")
            n = len(json.dumps(block, ensure_ascii=False).encode()) if block else 0
            return replace(self, content_bytes=self.content_bytes + n)
        return self


def cut_off_usage(usage: Usage, tally: OutputTally, *, max_tokens: int) -> Usage:
    """The usage to settle a stream cut short after what was seen (see the module)."""
    output = max(usage.output_tokens, min(max_tokens, tally.content_bytes))
    return replace(usage, output_tokens=output)


def worst_case_usage(usage: Usage, *, max_tokens: int) -> Usage:
    """The usage to settle when the provider may have produced more than was seen."""
    return replace(usage, output_tokens=max(usage.output_tokens, max_tokens))


def _chunk_bytes(choice: dict[str, Any]) -> int:
    delta = choice.get("delta") or choice.get("message")
    if not isinstance(delta, dict):
        return 0
    n = _utf8(delta.get("content")) + _utf8(delta.get("reasoning_content"))
    for call in delta.get("tool_calls") or ():
        if isinstance(call, dict):
            n += len(json.dumps(call, ensure_ascii=False).encode())
    return n


def _utf8(value: object) -> int:
    return len(value.encode("utf-8", errors="backslashreplace")) if isinstance(value, str) else 0
