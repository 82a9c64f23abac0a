"""Shared turn building: from per-message blocks to a message list Anthropic accepts.

Owns the conversation-shape rules of the Messages API (REFERENCE.md):
no empty content (whitespace-only text counts as empty), consecutive
same-role turns merged, ``tool_result`` blocks first in their user turn and
answering exactly the ``tool_use`` blocks of the assistant turn right before,
the first turn a user turn, and the final assistant turn sent as a prefill
(trailing whitespace stripped) only to models that accept one. A conversation
that can't be made to fit these rules raises ConversionError: it stays local.

A conversation that opens with an assistant greeting (``[system, assistant,
user]``, what chat UIs send) is carried faithfully, not refused: the
greeting's text moves into the system prompt, quoted as what the assistant
said first (:func:`split_greeting`), so the messages start with the user's
turn and the model still knows what it already said. A leading assistant turn
with tool calls or images is not a greeting and still stays local.
Must not know which client API the turns came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from brb.errors import ConversionError

from .request import JSON, Turn


def text_block(text: str) -> JSON | None:
    """A text block, or None for text with nothing but whitespace (a 400 if sent)."""
    return {"type": "text", "text": text} if text.strip() else None


def tool_result_block(tool_use_id: str, text: str, images: list[JSON]) -> JSON:
    """A tool result; empty output omits ``content`` (allowed) rather than sending ""."""
    block: JSON = {"type": "tool_result", "tool_use_id": tool_use_id}
    text_part = text_block(text)
    if images:
        block["content"] = ([text_part] if text_part else []) + images
    elif text_part:
        block["content"] = text
    return block


def normalize(turns: Iterable[Turn]) -> list[Turn]:
    """Drop empty turns, merge consecutive same-role ones, order blocks within each."""
    merged: list[Turn] = []
    for turn in turns:
        if not turn.blocks:
            continue
        if merged and merged[-1].role == turn.role:
            merged[-1].absorb(turn)
        else:
            merged.append(replace(turn, blocks=list(turn.blocks)))
    for turn in merged:
        # Tool results must lead their user turn; tool calls close their assistant turn.
        if turn.role == "user":
            turn.blocks.sort(key=lambda block: block["type"] != "tool_result")
        else:
            turn.blocks.sort(key=lambda block: block["type"] == "tool_use")
    return merged


GREETING_PREFIX = "You opened this conversation by saying:\n\n"


def split_greeting(turns: list[Turn]) -> tuple[list[Turn], str | None]:
    """Leading assistant turns (after normalize(): at most one) as greeting text."""
    if not turns or turns[0].role != "assistant" or len(turns) < 2:
        return turns, None
    first = turns[0]
    if any(block["type"] != "text" for block in first.blocks):
        raise ConversionError("the conversation opens with an assistant turn that is not text")
    return turns[1:], "".join(block["text"] for block in first.blocks)


def greeting_note(greeting: str) -> str:
    """The system-prompt paragraph that carries a leading assistant greeting."""
    return GREETING_PREFIX + greeting


def settle_final_turn(turns: list[Turn], *, accepts_prefill: bool) -> list[Turn]:
    """Keep a final assistant turn as a prefill if the model takes one, else drop it."""
    if turns and turns[-1].role == "assistant":
        last = turns[-1]
        if tool_use_ids(last):
            raise ConversionError("the conversation ends with tool calls that have no results")
        if accepts_prefill:
            _strip_trailing_whitespace(last)
        if not accepts_prefill or not last.blocks:
            turns = turns[:-1]
    # Turns alternate after normalize(): a kept prefill follows a user turn if there is one.
    if not any(turn.role == "user" for turn in turns):
        raise ConversionError("nothing to send: the conversation has no user message")
    return turns


def _strip_trailing_whitespace(turn: Turn) -> None:
    while turn.blocks and turn.blocks[-1]["type"] == "text":
        stripped = turn.blocks[-1]["text"].rstrip()
        if stripped:
            turn.blocks[-1] = {**turn.blocks[-1], "text": stripped}
            return
        turn.blocks.pop()


def check_structure(turns: list[Turn]) -> None:
    """Starts with a user turn; every tool_use answered in exactly the next turn."""
    if not turns or turns[0].role != "user":
        raise ConversionError("the conversation must start with a user message")
    for index, turn in enumerate(turns):
        if turn.role != "user":
            continue
        previous = turns[index - 1] if index > 0 else None
        calls = sorted(tool_use_ids(previous)) if previous else []
        results = sorted(tool_result_ids(turn))
        if calls != results:
            raise ConversionError(
                "tool calls and tool results don't pair up turn by turn "
                f"(calls {calls}, results {results})"
            )
    if turns[-1].role == "assistant" and tool_use_ids(turns[-1]):
        raise ConversionError("the conversation ends with tool calls that have no results")


def tool_use_ids(turn: Turn) -> list[str]:
    return [block["id"] for block in turn.blocks if block["type"] == "tool_use"]


def tool_result_ids(turn: Turn) -> list[str]:
    return [block["tool_use_id"] for block in turn.blocks if block["type"] == "tool_result"]


def has_tool_blocks(turns: Iterable[Turn]) -> bool:
    return any(
        block["type"] in ("tool_use", "tool_result") for turn in turns for block in turn.blocks
    )


def to_messages(turns: Iterable[Turn]) -> list[JSON]:
    return [{"role": turn.role, "content": list(turn.blocks)} for turn in turns]
