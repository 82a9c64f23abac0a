"""Anthropic Messages params (brb's internal request) to OpenAI Chat Completions params.

Owns the request direction for providers of kind ``openai`` (any
OpenAI-compatible ``POST /chat/completions``; openai-python
``types/chat/completion_create_params.py``): ``system`` -> a system message;
user turns -> user messages (text, and base64 images as ``image_url`` data
URLs); ``tool_result`` blocks -> ``tool`` messages placed right after the
assistant message whose ``tool_calls`` they answer; assistant turns -> content
plus ``tool_calls`` (``arguments`` a JSON string); ``max_tokens`` ->
``max_completion_tokens``; ``stop_sequences`` -> ``stop`` (at most 4);
``tools`` / ``tool_choice`` -> functions; brb's JSON mode (the forced
``json_response`` tool) -> ``response_format`` (``json_object`` for any
object, else ``json_schema``); ``thinking`` -> ``reasoning_effort`` where the
model reasons. Thinking blocks in the history are not sent (Chat Completions
has no field for them). What can't be carried raises ConversionError: this
provider is skipped for the request, the next one is tried.
Must not do I/O; ``stream`` and ``stream_options`` are the adapter's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from brb.core.capabilities import ModelCapabilities
from brb.errors import ConversionError

from .request import JSON, JSON_TOOL_NAME

MAX_STOP_SEQUENCES = 4  # the Chat Completions limit
_ANY_OBJECT: JSON = {"type": "object", "additionalProperties": True}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Chat Completions params, and how to read the answer back."""

    params: JSON  # never "stream" / "stream_options"
    json_tool: str | None  # JSON mode: wrap the answer's content as this tool's input


def to_chat_completions(anthropic: JSON, caps: ModelCapabilities) -> ChatRequest:
    """``anthropic`` (Messages params as brb builds them) for a Chat Completions model."""
    messages: list[JSON] = []
    system = _system_text(anthropic.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for index, message in enumerate(anthropic.get("messages") or []):
        where = f"messages[{index}]"
        role = message.get("role")
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if role == "user":
            messages += _user_messages(blocks, where)
        elif role == "assistant":
            messages.append(_assistant_message(blocks, where))
        else:
            raise ConversionError(f"{where}: role {role!r} can't be converted")
    params: JSON = {"model": anthropic["model"], "messages": messages}
    params["max_completion_tokens"] = int(anthropic["max_tokens"])
    stops = list(anthropic.get("stop_sequences") or [])
    if len(stops) > MAX_STOP_SEQUENCES:
        raise ConversionError(f"{len(stops)} stop sequences: Chat Completions takes at most 4")
    if stops:
        params["stop"] = stops
    for key in ("temperature", "top_p"):
        if key in anthropic and key in caps.sampling_params:
            params[key] = anthropic[key]
    json_tool = _tools(anthropic, params)
    if params.get("response_format", {}).get("type") == "json_object":
        # The API refuses json_object unless the messages mention JSON.
        note = "Respond with a JSON object."
        if messages and messages[0]["role"] == "system":
            messages[0] = {"role": "system", "content": f"{messages[0]['content']}\n\n{note}"}
        else:
            messages.insert(0, {"role": "system", "content": note})
    if _wants_thinking(anthropic) and caps.reasoning:
        params["reasoning_effort"] = "medium"
    return ChatRequest(params=params, json_tool=json_tool)


def _system_text(system: Any) -> str:
    if system is None:
        return ""
    if isinstance(system, str):
        return system
    return "\n\n".join(str(b.get("text", "")) for b in system if b.get("type") == "text")


def _user_messages(blocks: list[JSON], where: str) -> list[JSON]:
    """Tool results first (one ``tool`` message each), then the user's own parts."""
    out: list[JSON] = []
    parts: list[JSON] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "tool_result":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": block["tool_use_id"],
                    "content": _tool_result_text(block, where),
                }
            )
        elif kind == "text":
            parts.append({"type": "text", "text": block["text"]})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _data_url(block, where)}})
        else:
            raise ConversionError(f"{where}: a {kind!r} block can't go to Chat Completions")
    if parts:
        is_plain = all(p["type"] == "text" for p in parts)
        content: Any = "".join(p["text"] for p in parts) if is_plain else parts
        out.append({"role": "user", "content": content})
    return out


def _tool_result_text(block: JSON, where: str) -> str:
    content = block.get("content")
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        if any(part.get("type") != "text" for part in content):
            raise ConversionError(
                f"{where}: an image in a tool result can't go to Chat Completions"
            )
        text = "".join(str(part.get("text", "")) for part in content)
    return f"Error: {text}" if block.get("is_error") else text


def _data_url(block: JSON, where: str) -> str:
    source = block.get("source") or {}
    if source.get("type") != "base64":
        raise ConversionError(f"{where}: only inline (base64) images can be converted")
    return f"data:{source['media_type']};base64,{source['data']}"


def _assistant_message(blocks: list[JSON], where: str) -> JSON:
    text: list[str] = []
    calls: list[JSON] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            text.append(str(block["text"]))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block["id"],
                    "type": "function",
                    "function": {
                        "name": block["name"],
                        "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False),
                    },
                }
            )
        elif kind in ("thinking", "redacted_thinking"):
            continue  # Chat Completions takes no reasoning back
        else:
            raise ConversionError(f"{where}: a {kind!r} block can't go to Chat Completions")
    message: JSON = {"role": "assistant", "content": "".join(text) or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tools(anthropic: JSON, params: JSON) -> str | None:
    """Tools and tool_choice into ``params``; the JSON tool's name if this is JSON mode."""
    tools = anthropic.get("tools") or []
    choice = anthropic.get("tool_choice")
    forced = (
        choice.get("name") if isinstance(choice, dict) and choice.get("type") == "tool" else None
    )
    if len(tools) == 1 and forced == JSON_TOOL_NAME and tools[0].get("name") == JSON_TOOL_NAME:
        schema = tools[0].get("input_schema") or _ANY_OBJECT
        if schema == _ANY_OBJECT:
            params["response_format"] = {"type": "json_object"}
        else:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": JSON_TOOL_NAME, "schema": schema},
            }
        return JSON_TOOL_NAME
    if not tools:
        return None
    functions = []
    for tool in tools:
        if "input_schema" not in tool:  # a server tool (web search...): no function to map to
            raise ConversionError(f"tool {tool.get('name')!r} can't go to Chat Completions")
        function: JSON = {"name": tool["name"], "parameters": tool["input_schema"]}
        if tool.get("description"):
            function["description"] = tool["description"]
        functions.append({"type": "function", "function": function})
    params["tools"] = functions
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "tool":
            params["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
        else:
            params["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}.get(
                str(kind), "auto"
            )
        if choice.get("disable_parallel_tool_use") is True:
            params["parallel_tool_calls"] = False
    return None


def _wants_thinking(anthropic: JSON) -> bool:
    thinking = anthropic.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
