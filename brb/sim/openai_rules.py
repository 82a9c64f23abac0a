"""What the simulated OpenAI Chat Completions API refuses, as one pure check over a body.

Owns the request rules of ``POST /v1/chat/completions`` as the real API and
openai-python's ``completion_create_params.py`` draw them: the known top-level
fields (anything else: "Unrecognized request argument supplied"), the message
shapes per role (extra keys refused as the API's JSON-schema validation does),
content parts, tool calls answered by ``tool`` messages right after them,
``stop`` (at most 4), ``stream_options`` only with ``stream``, ``json_object``
only when the messages mention JSON, and the reasoning models' refusals
(``max_tokens``, non-default ``temperature``/``top_p``) beside the others'
refusal of ``reasoning_effort``. Errors carry the real shape
``{"error": {"message", "type", "param", "code"}}``.
Must not do I/O or know about HTTP servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

TOP_LEVEL_KEYS = frozenset(
    {
        "model",
        "messages",
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    }
)
MESSAGE_KEYS = {
    "system": frozenset({"role", "content", "name"}),
    "developer": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset(
        {"role", "content", "name", "tool_calls", "refusal", "audio", "function_call"}
    ),
    "tool": frozenset({"role", "content", "tool_call_id"}),
}
USER_PART_KEYS = {
    "text": frozenset({"type", "text"}),
    "image_url": frozenset({"type", "image_url"}),
    "input_audio": frozenset({"type", "input_audio"}),
    "file": frozenset({"type", "file"}),
}
REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


@dataclass(frozen=True, slots=True)
class ApiError:
    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None

    def body(self) -> JSON:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def invalid(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def is_reasoning_model(model: str) -> bool:
    return model.rsplit("/", 1)[-1].startswith(REASONING_PREFIXES)


def validate_body(body: object) -> ApiError | None:
    if not isinstance(body, dict):
        return invalid("We could not parse the JSON body of your request.")
    unknown = sorted(set(body) - TOP_LEVEL_KEYS)
    if unknown:
        return invalid(f"Unrecognized request argument supplied: {unknown[0]}")
    for field in ("model", "messages"):
        if field not in body:
            return invalid(
                f"Missing required parameter: '{field}'.", field, "missing_required_parameter"
            )
    if not isinstance(body["model"], str) or not body["model"]:
        return invalid("Invalid type for 'model': expected a string.", "model", "invalid_type")
    return (
        _check_messages(body["messages"])
        or _check_options(body)
        or _check_tools(body)
        or _check_model_rules(body)
    )


def _check_messages(messages: object) -> ApiError | None:
    if not isinstance(messages, list) or not messages:
        return invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
            "messages",
            "empty_array",
        )
    pending: list[str] = []  # tool_call ids awaiting their tool message
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict) or message.get("role") not in MESSAGE_KEYS:
            return invalid(f"Invalid value for '{where}.role'.", f"{where}.role", "invalid_value")
        role = message["role"]
        extra = sorted(set(message) - MESSAGE_KEYS[role])
        if extra:
            return invalid(
                f"Additional properties are not allowed ('{extra[0]}' was unexpected) - "
                f"'messages.{i}'",
                where,
            )
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                return invalid(
                    "Invalid parameter: messages with role 'tool' must be a response "
                    "to a preceeding message with 'tool_calls'.",
                    where,
                )
            pending.remove(call_id)
            error = _check_content(message.get("content"), where, text_only=True)
            if error:
                return error
            continue
        if pending:
            return invalid(
                "An assistant message with 'tool_calls' must be followed by tool "
                "messages responding to each 'tool_call_id'. The following "
                f"tool_call_ids did not have response messages: {', '.join(pending)}",
                "messages",
            )
        if role == "assistant":
            calls = message.get("tool_calls")
            if message.get("content") is None and not calls:
                return invalid(
                    f"Invalid value for '{where}.content': expected a string, got null.",
                    f"{where}.content",
                )
            if message.get("content") is not None:
                error = _check_content(message["content"], where, text_only=True)
                if error:
                    return error
            for j, call in enumerate(calls or []):
                if (
                    not isinstance(call, dict)
                    or call.get("type") != "function"
                    or not isinstance(call.get("id"), str)
                    or not isinstance((call.get("function") or {}).get("arguments"), str)
                    or not isinstance((call.get("function") or {}).get("name"), str)
                ):
                    return invalid(f"Invalid '{where}.tool_calls[{j}]'.", f"{where}.tool_calls")
                pending.append(call["id"])
            continue
        error = _check_content(message.get("content"), where, text_only=role != "user")
        if error:
            return error
    if pending:
        return invalid(
            "An assistant message with 'tool_calls' must be followed by tool messages "
            f"responding to each 'tool_call_id'. The following tool_call_ids did not "
            f"have response messages: {', '.join(pending)}",
            "messages",
        )
    return None


def _check_content(content: object, where: str, *, text_only: bool) -> ApiError | None:
    if isinstance(content, str):
        return None
    if not isinstance(content, list):
        return invalid(
            f"Invalid type for '{where}.content': expected one of a string or array of objects.",
            f"{where}.content",
            "invalid_type",
        )
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        allowed = USER_PART_KEYS.get(str(kind))
        if allowed is None or (text_only and kind != "text"):
            return invalid(
                f"Invalid value: '{kind}'. Supported values are: 'text'"
                f"{'' if text_only else ', image_url, input_audio and file'}.",
                f"{where}.content[{j}].type",
                "invalid_value",
            )
        assert isinstance(part, dict)
        extra = sorted(set(part) - allowed)
        if extra:
            return invalid(
                f"Unknown parameter: '{where}.content[{j}].{extra[0]}'.",
                f"{where}.content[{j}].{extra[0]}",
                "unknown_parameter",
            )
        if kind == "image_url":
            url = (part.get("image_url") or {}).get("url")
            if not isinstance(url, str) or not url.startswith(("data:image/", "https://")):
                return invalid(
                    "Invalid image URL.", f"{where}.content[{j}].image_url", "invalid_image_url"
                )
    return None


def _check_options(body: JSON) -> ApiError | None:
    stop = body.get("stop")
    if isinstance(stop, list) and len(stop) > 4:
        return invalid(
            f"Invalid 'stop': array too long. Expected an array with maximum length 4, "
            f"but got an array with length {len(stop)} instead.",
            "stop",
            "array_above_max_length",
        )
    if "stream_options" in body and body.get("stream") is not True:
        return invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    fmt = body.get("response_format")
    if fmt is not None:
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind not in ("text", "json_object", "json_schema"):
            return invalid("Invalid value for 'response_format.type'.", "response_format.type")
        if kind == "json_schema" and not isinstance(
            (fmt.get("json_schema") or {}).get("name"), str
        ):
            return invalid(
                "Missing required parameter: 'response_format.json_schema.name'.",
                "response_format.json_schema.name",
                "missing_required_parameter",
            )
        if kind == "json_object" and "json" not in str(body.get("messages")).lower():
            return invalid(
                "'messages' must contain the word 'json' in some form, to use "
                "'response_format' of type 'json_object'.",
                "messages",
            )
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is not None and (type(value) is not int or value < 1):
            return invalid(f"Invalid '{key}': integer below minimum value.", key)
    return None


def _check_tools(body: JSON) -> ApiError | None:
    names = []
    for i, tool in enumerate(body.get("tools") or []):
        function = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(function, dict):
            return invalid(f"Invalid 'tools[{i}]'.", f"tools[{i}]")
        extra = sorted(set(function) - {"name", "description", "parameters", "strict"})
        if extra or not isinstance(function.get("name"), str):
            return invalid(f"Invalid 'tools[{i}].function'.", f"tools[{i}].function")
        names.append(function["name"])
    choice = body.get("tool_choice")
    if choice is not None and not names:
        return invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
            "'tools' are specified.",
            "tool_choice",
        )
    if isinstance(choice, dict) and (choice.get("function") or {}).get("name") not in names:
        return invalid(
            "Invalid value for 'tool_choice': no function with that name.", "tool_choice"
        )
    if isinstance(choice, str) and choice not in ("none", "auto", "required"):
        return invalid(f"Invalid value: '{choice}'.", "tool_choice", "invalid_value")
    return None


def _check_model_rules(body: JSON) -> ApiError | None:
    model = body["model"]
    if is_reasoning_model(model):
        if "max_tokens" in body:
            return invalid(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            )
        for key in ("temperature", "top_p"):
            if key in body and body[key] != 1:
                return invalid(
                    f"Unsupported value: '{key}' does not support {body[key]} with "
                    "this model. Only the default (1) value is supported.",
                    key,
                    "unsupported_value",
                )
    elif "reasoning_effort" in body:
        return invalid(
            "Unrecognized request argument supplied: reasoning_effort", "reasoning_effort"
        )
    return None
