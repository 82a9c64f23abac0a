"""Tools both ways: definitions, tool_choice, call ids, and JSON mode as one forced tool.

Owns: OpenAI/Ollama function tools -> Anthropic ``tools``; OpenAI
``tool_choice`` -> Anthropic ``tool_choice``; the ids of tool calls in the
history (Ollama's carry none, OpenAI's may not fit Anthropic's pattern) and
which call each tool message answers; the JSON-mode tool. Must not build turns.

Anthropic: tool names match ``^[a-zA-Z0-9_-]{1,64}$``; ``input_schema`` is an
object schema; tool_choice is auto / any / tool / none, with
``disable_parallel_tool_use`` on the first three.
"""

from __future__ import annotations

import json
import re

from brb.errors import BadRequest, ConversionError

from .request import JSON, JSON_TOOL_NAME
from .wire import require_object

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ANY_OBJECT: JSON = {"type": "object", "additionalProperties": True}


def check_tool_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        raise ConversionError(f"{where}: tool name {name!r} doesn't fit the cloud's pattern")
    return name


def tool_definitions(raw: list[object] | None, where: str) -> list[JSON]:
    """``[{"type": "function", "function": {name, description, parameters}}]`` -> Anthropic."""
    tools: list[JSON] = []
    for index, item in enumerate(raw or []):
        here = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{here} must be a JSON object")
        if item.get("type", "function") != "function" or not isinstance(item.get("function"), dict):
            raise ConversionError(f"{here}: only function tools can go to the cloud")
        function = item["function"]
        tool: JSON = {"name": check_tool_name(function.get("name"), here)}
        description = function.get("description")
        if isinstance(description, str) and description.strip():
            tool["description"] = description
        tool["input_schema"] = _input_schema(function.get("parameters"), here)
        tools.append(tool)
    names = [tool["name"] for tool in tools]
    if len(set(names)) != len(names):
        raise ConversionError(f"{where}: tool names must be unique")
    return tools


def _input_schema(parameters: object, where: str) -> JSON:
    if parameters is None:
        return {"type": "object", "properties": {}}
    if not isinstance(parameters, dict):
        raise ConversionError(f"{where}: parameters must be a JSON schema object")
    if "type" not in parameters:
        return {"type": "object", **parameters}
    if parameters["type"] != "object":
        raise ConversionError(f"{where}: the cloud needs an object schema for tool parameters")
    return parameters


def openai_tool_choice(choice: object, tools: list[JSON], *, parallel: bool | None) -> JSON | None:
    """OpenAI ``tool_choice`` (+ ``parallel_tool_calls``) -> Anthropic, None when unset."""
    if not tools:
        return None
    result: JSON
    if choice is None or choice == "auto":
        result = {"type": "auto"}
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        result = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        if name not in {tool["name"] for tool in tools}:
            raise ConversionError(f"tool_choice names {name!r}, which is not in tools")
        result = {"type": "tool", "name": name}
    else:
        raise ConversionError(f"tool_choice {choice!r} can't be converted")
    if parallel is False:
        result["disable_parallel_tool_use"] = True
    elif choice is None and parallel is None:
        return None
    return result


def json_tool(schema: JSON | None) -> tuple[JSON, JSON]:
    """JSON mode as one forced tool: (tool definition, tool_choice)."""
    input_schema = _ANY_OBJECT if schema is None else schema
    if input_schema.get("type", "object") != "object":
        raise ConversionError("JSON mode: the cloud can only be forced to answer a JSON object")
    tool = {
        "name": JSON_TOOL_NAME,
        "description": "Give the answer as a JSON object matching this schema.",
        "input_schema": {"type": "object", **input_schema},
    }
    return tool, {"type": "tool", "name": JSON_TOOL_NAME}


def parse_arguments(value: object, where: str) -> JSON:
    """Tool call arguments: an object (Ollama) or a JSON string of one (OpenAI)."""
    if isinstance(value, dict):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise ConversionError(f"{where}: arguments are not valid JSON") from None
        if isinstance(parsed, dict):
            return parsed
    raise ConversionError(f"{where}: arguments must be a JSON object")


class ToolCallLedger:
    """Ids for the tool calls of a conversation, and which call each result answers.

    Anthropic ids must be unique and match ``^[a-zA-Z0-9_-]+$``; a client id
    that fits is kept (so ids round-trip), anything else gets ``toolu_brb_N``,
    deterministic in the call's position. Results find their call by the
    client's id (OpenAI) or, lacking one, by ``tool_name`` or order among the
    calls of the latest assistant turn still unanswered (Ollama).
    """

    def __init__(self) -> None:
        self._used: set[str] = set()
        self._by_client_id: dict[str, str] = {}
        self._pending: list[tuple[str, str]] = []
        self._counter = 0

    def start_assistant_turn(self) -> None:
        self._pending = []

    def record_call(self, client_id: object, name: str) -> str:
        if isinstance(client_id, str) and _TOOL_ID.match(client_id) and client_id not in self._used:
            anthropic_id = client_id
        else:
            anthropic_id = self._fresh_id()
        self._used.add(anthropic_id)
        if isinstance(client_id, str):
            self._by_client_id[client_id] = anthropic_id
        self._pending.append((anthropic_id, name))
        return anthropic_id

    def answer(
        self, *, client_id: object = None, tool_name: object = None, strict_id: bool = True
    ) -> str:
        """The Anthropic id of the call a tool message answers; ConversionError if none.

        With ``strict_id`` (OpenAI) an unknown client id is an error; without
        it (Ollama, whose calls carry no ids) matching falls back to name/order.
        """
        if isinstance(client_id, str) and client_id:
            found = self._by_client_id.get(client_id)
            if found is not None:
                self._pending = [call for call in self._pending if call[0] != found]
                return found
            if strict_id:
                raise ConversionError(f"tool result for unknown tool call id {client_id!r}")
        for position, (call_id, name) in enumerate(self._pending):
            if not isinstance(tool_name, str) or not tool_name or tool_name == name:
                del self._pending[position]
                return call_id
        raise ConversionError("a tool result answers no tool call")

    def _fresh_id(self) -> str:
        while True:
            self._counter += 1
            candidate = f"toolu_brb_{self._counter}"
            if candidate not in self._used:
                return candidate


def tool_use_block(call: JSON, where: str, ledger: ToolCallLedger) -> JSON:
    """A client's tool call (``{"id"?, "function": {"name", "arguments"}}``, Ollama's
    or OpenAI's) as an Anthropic ``tool_use`` block, its id recorded in ``ledger``."""
    function = require_object(call.get("function"), f"{where}.function")
    name = check_tool_name(function.get("name"), where)
    return {
        "type": "tool_use",
        "id": ledger.record_call(call.get("id"), name),
        "name": name,
        "input": parse_arguments(function.get("arguments"), where),
    }
