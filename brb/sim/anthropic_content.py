"""The content rules of the simulated Anthropic API: what a `messages` list may hold.

Owns: roles, non-empty content (but for the optional final assistant message),
prefill rules, content block types, image bytes against their `media_type`, and
tool_use/tool_result pairing between consecutive turns. Returns the real API's
message for the first problem (`<field path>: <reason>`).

Must not: do I/O, or build error bodies (`brb.sim.anthropic_rules` wraps the message
as a 400 invalid_request_error).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

JSON = dict[str, Any]

BLOCK_TYPES = frozenset(
    {
        "text", "image", "document", "tool_use", "tool_result", "thinking",
        "redacted_thinking", "search_result", "server_tool_use", "web_search_tool_result",
    }
)  # fmt: skip
IMAGE_MAGIC: Mapping[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),  # and b"WEBP" at offset 8, checked below
}


def message_problem(messages: object, *, refuses_prefill: bool) -> str | None:
    """What is wrong with a `messages` list (a `<path>: <reason>` message), or None."""
    if messages is None:
        return "messages: Field required"
    if not isinstance(messages, list):
        return "messages: Input should be a valid list"
    if not messages:
        return "messages: at least one message is required"
    last = len(messages) - 1
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages.{index}: Input should be a valid dictionary"
        role = message.get("role")
        if role not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
        if "content" not in message:
            return f"messages.{index}.content: Field required"
        is_prefill = index == last and role == "assistant"
        error = _check_content(index, role, message["content"], is_prefill)
        if error is not None:
            return error
    if messages[last]["role"] == "assistant":
        if refuses_prefill:
            return (
                "This model does not support assistant message prefill. "
                "The conversation must end with a user message."
            )
        trailing = _trailing_text(messages[last]["content"])
        if trailing != trailing.rstrip():
            return "final assistant content cannot end with trailing whitespace"
    return _check_tool_pairing(messages)


def _trailing_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content and isinstance(content[-1], dict):
        text = content[-1].get("text")
        return text if isinstance(text, str) else ""
    return ""


def _check_content(index: int, role: str, content: object, is_prefill: bool) -> str | None:
    empty = (
        f"messages.{index}: all messages must have non-empty content except for the "
        "optional final assistant message"
    )
    if isinstance(content, str):
        return empty if not content and not is_prefill else None
    if not isinstance(content, list):
        return f"messages.{index}.content: Input should be a valid string or list"
    if not content:
        return None if is_prefill else empty
    for position, block in enumerate(content):
        path = f"messages.{index}.content.{position}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in BLOCK_TYPES:
            return (
                f"{path}: Input tag '{kind}' found using 'type' does not match any of the "
                "expected tags"
            )
        assert isinstance(block, dict)
        if kind == "text" and (not isinstance(block.get("text"), str) or not block["text"]):
            return f"{path}.text: text content blocks must be non-empty"
        if kind == "tool_use" and role != "assistant":
            return f"{path}: tool_use blocks may only appear in assistant messages"
        if kind == "tool_result" and role != "user":
            return f"{path}: tool_result blocks may only appear in user messages"
        if kind == "image":
            error = _check_image(path, block.get("source"))
            if error is not None:
                return error
    return None


def _check_image(path: str, source: object) -> str | None:
    if not isinstance(source, dict):
        return f"{path}.source: Field required"
    if source.get("type") in ("url", "file"):
        return None
    if source.get("type") != "base64":
        return f"{path}.source.type: Input should be 'base64', 'url' or 'file'"
    media_type = str(source.get("media_type"))
    if media_type not in IMAGE_MAGIC:
        return (
            f"{path}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
            "'image/gif' or 'image/webp'"
        )
    try:
        data = base64.b64decode(str(source.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        return f"{path}.source.base64.data: Invalid base64 data"
    matches = any(data.startswith(magic) for magic in IMAGE_MAGIC[media_type])
    if media_type == "image/webp":
        matches = matches and data[8:12] == b"WEBP"
    if not matches:
        return f"{path}.source.base64: Image does not match the provided media type"
    return None


def _tool_use_ids(message: JSON) -> list[str]:
    content = message["content"]
    if not isinstance(content, list):
        return []
    return [b.get("id", "") for b in content if b.get("type") == "tool_use"]


def _tool_result_ids(message: JSON) -> list[str]:
    content = message["content"]
    if not isinstance(content, list):
        return []
    return [b.get("tool_use_id", "") for b in content if b.get("type") == "tool_result"]


def _check_tool_pairing(messages: list[JSON]) -> str | None:
    """Every tool_use is answered in the very next user turn, and only those are."""
    for index, message in enumerate(messages):
        results = _tool_result_ids(message)
        previous = _tool_use_ids(messages[index - 1]) if index > 0 else []
        unexpected = [i for i in results if i not in previous]
        if unexpected:
            return (
                f"messages.{index}.content: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {', '.join(unexpected)}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
        uses = _tool_use_ids(message)
        if not uses or index == len(messages) - 1:
            continue
        answered = _tool_result_ids(messages[index + 1])
        missing = [i for i in uses if i not in answered]
        if missing:
            return (
                f"messages.{index + 1}: `tool_use` ids were found without `tool_result` "
                f"blocks immediately after: {', '.join(missing)}. Each `tool_use` block must "
                "have a corresponding `tool_result` block in the next message."
            )
    return None
