"""Dropping the oldest turns until a conversation's token bound fits a limit.

Owns where a conversation may be cut: only just before a user turn that
carries no tool results (so a ``tool_use`` is never separated from its
``tool_result`` and the kept part still starts with a user turn), never past
the last user turn, and the system prompt and tools are never touched. When
no cut fits, ConversionError: the request stays local (where Ollama applies
its own context window). Must not estimate tokens itself (token_bound does).
"""

from __future__ import annotations

from dataclasses import dataclass

from brb.errors import ConversionError

from .messages import tool_result_ids
from .request import Turn
from .token_bound import turn_bound


@dataclass(frozen=True, slots=True)
class Trimmed:
    turns: list[Turn]
    dropped_turns: int
    input_tokens_upper_bound: int


def trim_to_fit(turns: list[Turn], *, fixed_tokens: int, limit_tokens: int) -> Trimmed:
    """The longest suffix of ``turns`` (cut at a safe point) whose bound fits the limit."""
    bounds = [turn_bound(turn) for turn in turns]
    total = fixed_tokens + sum(bounds)
    if total <= limit_tokens:
        return Trimmed(turns, 0, total)
    last_user = max(index for index, turn in enumerate(turns) if turn.role == "user")
    remaining = total
    for cut in range(1, last_user + 1):
        remaining -= bounds[cut - 1]
        turn = turns[cut]
        if turn.role == "user" and not tool_result_ids(turn) and remaining <= limit_tokens:
            return Trimmed(turns[cut:], cut, remaining)
    raise ConversionError(
        f"the prompt may need up to {total} tokens and can't be trimmed under "
        f"the limit of {limit_tokens}"
    )
